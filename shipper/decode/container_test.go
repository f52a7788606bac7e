package decode

import (
	"strings"
	"testing"
	"time"
)

func TestParseCRI(t *testing.T) {
	ts := time.Now().UTC().Truncate(time.Nanosecond).Add(123456789)
	stamp := ts.Format(time.RFC3339Nano)
	for _, tt := range []struct {
		in, text, stream string
		partial          bool
	}{
		{stamp + ` stdout F {"level":"info","msg":"hi"}`, `{"level":"info","msg":"hi"}`, "stdout", false},
		{stamp + ` stderr F plain text with  two spaces`, `plain text with  two spaces`, "stderr", false},
		{stamp + ` stdout P first half`, `first half`, "stdout", true},
		{stamp + ` stdout F `, ``, "stdout", false},
		{stamp + ` stdout F`, ``, "stdout", false},
		{stamp + ` stdout P:x:y tagged`, `tagged`, "stdout", true},
	} {
		r, err := ParseCRI([]byte(tt.in))
		if err != nil || string(r.Text) != tt.text || r.Stream != tt.stream || r.Partial != tt.partial || r.TimeNs != ts.UnixNano() {
			t.Errorf("%q: %+v %v", tt.in, r, err)
		}
	}
	for _, bad := range []string{"", "not a record", stamp + " stdin F x", stamp + " stdout X x", "2026-13-40T00:00:00Z stdout F x", stamp + " stdout", stamp + "  F x"} {
		if _, err := ParseCRI([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// framed is a framed line as the file input hands it out.
type framed struct {
	Data        []byte
	Offset, End int64
	Truncated   bool
}

func lines(texts ...string) []framed {
	var out []framed
	off := int64(0)
	for _, s := range texts {
		out = append(out, framed{Offset: off, End: off + int64(len(s)) + 1, Data: []byte(s)})
		off += int64(len(s)) + 1
	}
	return out
}

// decodeRead adds the lines of one read, as the pipeline does, and returns
// the lines completed with the commit offset.
func decodeRead(d *ContainerDecoder, in []framed, out []ContainerLine) ([]ContainerLine, int64) {
	for _, l := range in {
		out = d.Add(out, l.Data, l.Offset, l.End, l.Truncated, true)
	}
	return out, d.Commit()
}

func TestDecodeJoinsPartialsPerStream(t *testing.T) {
	base := time.Now().UTC()
	st := func(d time.Duration) string { return base.Add(d).Format(time.RFC3339Nano) }
	in := lines(
		st(1)+" stdout P {\"msg\":\"a lo",
		st(2)+" stderr F an error",
		st(3)+" stdout P ng li",
		st(4)+" stdout F ne\"}",
		"garbage that no runtime wrote",
		st(5)+" stdout P tail waiting",
	)
	d := NewContainerDecoder(ContainerAuto, 0)
	out, commit := decodeRead(d, in, nil)
	if d.Format() != ContainerCRI {
		t.Fatalf("format %v, want CRI", d.Format())
	}
	want := []struct {
		text   string
		stderr bool
		off    int64
		timeNs int64
		undec  bool
	}{
		{"an error", true, in[1].Offset, base.Add(2).UnixNano(), false},
		{`{"msg":"a long line"}`, false, in[0].Offset, base.Add(1).UnixNano(), false},
		{"garbage that no runtime wrote", false, in[4].Offset, 0, true},
	}
	if len(out) != len(want) {
		t.Fatalf("got %d lines: %+v", len(out), out)
	}
	for i, w := range want {
		g := out[i]
		if string(g.Text) != w.text || g.Stderr != w.stderr || g.Offset != w.off || g.TimeNs != w.timeNs || g.Undecoded != w.undec {
			t.Errorf("line %d: %+v, want %+v", i, g, w)
		}
	}
	if out[1].End != in[3].End {
		t.Errorf("joined line ends at %d, want %d", out[1].End, in[3].End)
	}
	if commit != in[5].Offset {
		t.Errorf("commit %d, want %d (before the open partial)", commit, in[5].Offset)
	}
	out, commit = decodeRead(d, lines(st(6)+" stdout F  done"), nil)
	if len(out) != 1 || string(out[0].Text) != "tail waiting done" || out[0].Offset != in[5].Offset {
		t.Errorf("continued: %+v", out)
	}
	if commit != 0+int64(len(st(6)+" stdout F  done"))+1 {
		t.Errorf("commit %d", commit)
	}
}

func TestDecodeCapsJoinedLines(t *testing.T) {
	stamp := time.Now().UTC().Format(time.RFC3339Nano)
	part := strings.Repeat("x", 100)
	d := NewContainerDecoder(ContainerCRI, 250)
	out, _ := decodeRead(d, lines(stamp+" stdout P "+part, stamp+" stdout P "+part, stamp+" stdout P "+part, stamp+" stdout F end"), nil)
	if len(out) != 1 || len(out[0].Text) != 250 || !out[0].Truncated {
		t.Fatalf("got %+v", out)
	}
}

func TestDecodeDockerJSONFile(t *testing.T) {
	ts := time.Now().UTC()
	stamp := ts.Format(time.RFC3339Nano)
	d := NewContainerDecoder(ContainerAuto, 0)
	out, _ := decodeRead(d, lines(
		`{"log":"part one ","stream":"stdout","time":"`+stamp+`"}`,
		`{"log":"and two\n","stream":"stdout","time":"`+stamp+`"}`,
		`{"log":"oops\n","stream":"stderr","time":"`+stamp+`"}`,
	), nil)
	if d.Format() != ContainerDocker {
		t.Fatalf("format %v", d.Format())
	}
	if len(out) != 2 || string(out[0].Text) != "part one and two" || out[0].Stderr || string(out[1].Text) != "oops" || !out[1].Stderr ||
		out[0].TimeNs != ts.UnixNano() {
		t.Errorf("got %+v", out)
	}
}

func TestParseContainerFormat(t *testing.T) {
	for s, want := range map[string]ContainerFormat{"": ContainerAuto, "auto": ContainerAuto, "cri": ContainerCRI, "docker": ContainerDocker} {
		if f, err := ParseContainerFormat(s); err != nil || f != want {
			t.Errorf("%q: %v %v", s, f, err)
		}
	}
	if _, err := ParseContainerFormat("syslog"); err == nil {
		t.Error("syslog accepted")
	}
}

// FuzzParseCRI: CRI lines from disk never panic the parser, and what it
// accepts has a known stream and a text inside the input.
func FuzzParseCRI(f *testing.F) {
	f.Add([]byte(`2026-12-02T01:02:03.456789012Z stdout F {"level":"info"}`))
	f.Add([]byte(`2026-12-02T01:02:03Z stderr P part`))
	f.Add([]byte(`2026-12-02T01:02:03+01:00 stdout F:x`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseCRI(b)
		if err != nil {
			return
		}
		if r.Stream != "stdout" && r.Stream != "stderr" {
			t.Fatalf("stream %q", r.Stream)
		}
		if len(r.Text) > len(b) {
			t.Fatalf("text longer than the line")
		}
		d := NewContainerDecoder(ContainerAuto, 64)
		out, _ := decodeRead(d, []framed{{Data: b, End: int64(len(b)) + 1}}, nil)
		for _, l := range out {
			if len(l.Text) > len(b) {
				t.Fatalf("decoded text longer than the line")
			}
		}
	})
}

// TestFlushOpenPartial: a line whose last part never came (it went to the
// next file at a rotation) is shipped after the timeout, from its first part.
func TestFlushOpenPartial(t *testing.T) {
	stamp := time.Now().UTC().Format(time.RFC3339Nano)
	d := NewContainerDecoder(ContainerCRI, 0)
	now := time.Now()
	d.now = func() time.Time { return now }
	in := lines(stamp+" stdout F whole", stamp+" stderr P half of it")
	out, commit := decodeRead(d, in, nil)
	if len(out) != 1 || commit != in[1].Offset || !d.Open() {
		t.Fatalf("%+v %d", out, commit)
	}
	if out, _ := d.Flush(5*time.Second, nil); len(out) != 0 {
		t.Fatalf("flushed early: %+v", out)
	}
	now = now.Add(5 * time.Second)
	out, commit = d.Flush(5*time.Second, nil)
	if len(out) != 1 || string(out[0].Text) != "half of it" || !out[0].Stderr || out[0].Offset != in[1].Offset || out[0].End != in[1].End || commit != in[1].End || d.Open() {
		t.Errorf("%+v commit %d", out, commit)
	}
}
