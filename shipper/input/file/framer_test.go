package file

import (
	"bytes"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func feedAll(fr *Framer, chunks []string) []Line {
	var out []Line
	off := int64(0)
	for _, c := range chunks {
		for _, l := range fr.Feed([]byte(c), off) {
			l.Data = append([]byte(nil), l.Data...)
			out = append(out, l)
		}
		off += int64(len(c))
	}
	return out
}

func TestFramer(t *testing.T) {
	fr := &Framer{Max: 10}
	lines := feedAll(fr, []string{"ab\r\ncd", "ef\n", "0123456789ABCDEF", "GH\nok\n", "\xff\xfeX\n", "tail"})
	want := []struct {
		data      string
		off, end  int64
		truncated bool
		repaired  bool
	}{
		{"ab", 0, 4, false, false},
		{"cdef", 4, 9, false, false},
		{"0123456789", 9, 28, true, false},
		{"ok", 28, 31, false, false},
		{"\uFFFDX", 31, 35, false, true},
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines: %+v", len(lines), lines)
	}
	for i, w := range want {
		l := lines[i]
		if string(l.Data) != w.data || l.Offset != w.off || l.End != w.end || l.Truncated != w.truncated || l.Repaired != w.repaired {
			t.Errorf("line %d: %+v (%q), want %+v", i, l, l.Data, w)
		}
	}
	if n, off := fr.Pending(); n != 4 || off != 35 {
		t.Errorf("pending %d at %d, want 4 at 35", n, off)
	}
	flushed := fr.Flush(39)
	if len(flushed) != 1 || string(flushed[0].Data) != "tail" || !flushed[0].Partial || flushed[0].End != 39 {
		t.Errorf("flush: %+v", flushed)
	}
}

// FuzzFramer checks that framing never panics, that offsets tile the input
// and that no line is longer than the maximum, however the input is split.
func FuzzFramer(f *testing.F) {
	f.Add([]byte("{\"a\":1}\n{\"b\":2}\r\npartial"), 3, 16)
	f.Add([]byte(strings.Repeat("x", 100)+"\nshort\n\xff\n"), 7, 10)
	f.Fuzz(func(t *testing.T, data []byte, split, max int) {
		if max <= 0 || max > 1<<16 {
			max = 64
		}
		if split <= 0 {
			split = 1
		}
		fr := &Framer{Max: max}
		var chunks []string
		for i := 0; i < len(data); i += split {
			chunks = append(chunks, string(data[i:min(i+split, len(data))]))
		}
		lines := feedAll(fr, chunks)
		next := int64(0)
		for _, l := range lines {
			if l.Offset != next || l.End <= l.Offset {
				t.Fatalf("line %+v does not follow offset %d", l, next)
			}
			if len(l.Data) > max*3 { // U+FFFD may triple a byte
				t.Fatalf("line of %d bytes over max %d", len(l.Data), max)
			}
			if bytes.IndexByte(l.Data, '\n') >= 0 {
				t.Fatalf("newline inside a line")
			}
			next = l.End
		}
		pend, off := fr.Pending()
		if pend > 0 && off != next {
			t.Fatalf("pending line at %d, want %d", off, next)
		}
	})
}
