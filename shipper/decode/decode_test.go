package decode

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseObject(t *testing.T) {
	tests := []struct {
		in   string
		keys []string
		err  bool
	}{
		{`{"a":1,"b":"x","c":{"d":[1,2,{"e":null}]},"f":true}`, []string{"a", "b", "c", "f"}, false},
		{`  {"a" : -1.5e+3 , "k\"q":"v\u00e9"}  `, []string{"a", `k\"q`}, false},
		{`{}`, nil, false},
		{`{"a":1,}`, nil, true},
		{`{"a":01}`, nil, true},
		{`{"a":"x` + "\x01" + `"}`, nil, true},
		{`{"a":1}{"b":2}`, nil, true},
		{`[1,2]`, nil, true},
		{`plain text`, nil, true},
		{`{"a":tru}`, nil, true},
		{`{"a":"\x"}`, nil, true},
	}
	for _, tt := range tests {
		got, err := ParseObject([]byte(tt.in), nil)
		if (err != nil) != tt.err {
			t.Errorf("%s: err %v, want error %v", tt.in, err, tt.err)
			continue
		}
		if tt.err {
			continue
		}
		var keys []string
		for _, m := range got {
			keys = append(keys, string(m.Key))
		}
		if strings.Join(keys, ",") != strings.Join(tt.keys, ",") {
			t.Errorf("%s: keys %v, want %v", tt.in, keys, tt.keys)
		}
	}
}

func TestStringValue(t *testing.T) {
	for raw, want := range map[string]string{`"plain"`: "plain", `"a\"b\/c\n"`: "a\"b/c\n", `42`: "42", `true`: "true"} {
		if got, ok := StringValue([]byte(raw)); !ok || got != want {
			t.Errorf("StringValue(%s) = %q, %v; want %q", raw, got, ok, want)
		}
	}
	if _, ok := StringValue([]byte(`{"a":1}`)); ok {
		t.Error("an object is not a string value")
	}
}

func TestParseTime(t *testing.T) {
	want := time.Date(2026, 11, 22, 1, 2, 3, 456000000, time.UTC).UnixNano()
	tests := []struct {
		raw     string
		formats []TimeFormat
		want    int64
	}{
		{`"2026-11-22T01:02:03.456Z"`, []TimeFormat{FormatRFC3339}, want},
		{`"2026-11-22T02:02:03.456+01:00"`, []TimeFormat{FormatRFC3339}, want},
		{`"2026-11-22 01:02:03,456"`, []TimeFormat{FormatISO8601}, want},
		{`"2026-11-22T01:02:03.456"`, []TimeFormat{FormatAuto}, want},
		{`1795309323.456`, []TimeFormat{FormatUnix}, want},
		{`1795309323456`, []TimeFormat{FormatUnixMs}, want},
		{`"1795309323456000"`, []TimeFormat{FormatUnixUs}, want},
		{`1795309323456000000`, []TimeFormat{FormatUnixNs}, want},
		{`1795309323456`, []TimeFormat{FormatAuto}, want},
		{`"yesterday"`, []TimeFormat{FormatRFC3339, FormatAuto}, 0},
	}
	for _, tt := range tests {
		got, ok := ParseTime([]byte(tt.raw), tt.formats)
		if tt.want == 0 {
			if ok {
				t.Errorf("%s: parsed as %d, want failure", tt.raw, got)
			}
			continue
		}
		if !ok || got != tt.want {
			t.Errorf("%s with %v: %d, %v; want %d", tt.raw, tt.formats, got, ok, tt.want)
		}
	}
	layout, err := ParseTimeFormat("02/Jan/2006:15:04:05 -0700")
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := ParseTime([]byte(`"22/Nov/2026:01:02:03 +0000"`), []TimeFormat{layout}); !ok || got != want-456000000 {
		t.Errorf("layout: %d %v", got, ok)
	}
	if _, err := ParseTimeFormat("nonsense"); err == nil {
		t.Error("unknown format accepted")
	}
}

func TestMultilinePythonTraceback(t *testing.T) {
	g := NewGrouper(MultilineConfig{Pattern: regexp.MustCompile(`^\d{4}-\d{2}-\d{2}`), Negate: true, Timeout: time.Second})
	lines := []string{
		"2026-11-22 01:00:00,000 ERROR request failed",
		"Traceback (most recent call last):",
		`  File "app.py", line 3, in <module>`,
		"ValueError: bad",
		"2026-11-22 01:00:01,000 INFO next",
	}
	var groups []string
	now := time.Now()
	off := int64(0)
	for _, l := range lines {
		g.Add([]byte(l), off, off+int64(len(l))+1, now, func(gr Group) { groups = append(groups, string(gr.Data)) })
		off += int64(len(l)) + 1
	}
	if len(groups) != 1 || !strings.HasSuffix(groups[0], "ValueError: bad") || strings.Count(groups[0], "\n") != 3 {
		t.Fatalf("groups %q", groups)
	}
	if open, start := g.Pending(); !open || start == 0 {
		t.Fatalf("the last record should be open at its start offset, got %v %d", open, start)
	}
	g.Tick(now.Add(2*time.Second), func(gr Group) { groups = append(groups, string(gr.Data)) })
	if len(groups) != 2 || groups[1] != lines[4] {
		t.Fatalf("timeout flush: %q", groups)
	}
}

// FuzzParseObject checks the scanner never panics and agrees with
// encoding/json on what is a valid object.
func FuzzParseObject(f *testing.F) {
	for _, s := range []string{`{"timestamp":"2026-11-22T01:00:00Z","level":"info","msg":"GET /api 200","request_id":"r1"}`,
		`{"a":{"b":[1,2.5e3,"x\u00e9",null,true]}}`, `{"a":1,}`, `[]`, `{"a":"\ud83d\ude00"}`, "{\"a\":\"\xff\"}", `{`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		members, err := ParseObject(b, nil)
		var v map[string]json.RawMessage
		stdErr := json.Unmarshal(b, &v)
		if (err == nil) != (stdErr == nil) {
			t.Fatalf("ParseObject err=%v, encoding/json err=%v for %q", err, stdErr, b)
		}
		if err == nil && len(members) < len(v) {
			t.Fatalf("%d members, encoding/json sees %d keys", len(members), len(v))
		}
		for _, m := range members {
			if err != nil {
				break
			}
			if !json.Valid(m.Value) {
				t.Fatalf("member %q: value %q is not valid JSON", m.Key, m.Value)
			}
			if bytes.IndexByte(m.Key, '\\') < 0 && utf8.Valid(m.Key) {
				if _, ok := v[string(m.Key)]; !ok {
					t.Fatalf("member key %q unknown to encoding/json (%v)", m.Key, v)
				}
			}
		}
		_ = Valid(b)
	})
}

// FuzzFastRFC3339 holds the fast path to what time.Parse gives.
func FuzzFastRFC3339(f *testing.F) {
	for _, s := range []string{"2026-11-22T01:00:00.123456Z", "2024-02-29T23:59:59+05:30", "2023-02-29T00:00:00Z",
		"1970-01-01T00:00:00Z", "2200-12-31T23:59:59.9999999999-23:59", "2026-11-22T01:00:00.Z", "2026-11-22T01:00:00,5Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := fastRFC3339([]byte(s))
		if !ok {
			return
		}
		want, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatalf("fastRFC3339(%q) = %d, time.Parse fails: %v", s, got, err)
		}
		if got != want.UnixNano() {
			t.Fatalf("fastRFC3339(%q) = %d, time.Parse gives %d", s, got, want.UnixNano())
		}
	})
}

func TestFastRFC3339Accepts(t *testing.T) {
	for _, s := range []string{"2026-11-22T01:00:00Z", "2026-11-22T01:00:00.123456789Z", "2026-11-22T01:00:00.1+01:00",
		"2024-02-29T23:59:59-05:30"} {
		want, _ := time.Parse(time.RFC3339Nano, s)
		if got, ok := fastRFC3339([]byte(s)); !ok || got != want.UnixNano() {
			t.Errorf("fastRFC3339(%q) = %d, %v; want %d", s, got, ok, want.UnixNano())
		}
	}
}
