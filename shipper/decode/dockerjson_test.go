package decode

import "testing"

func TestParseDockerJSON(t *testing.T) {
	for _, tt := range []struct {
		in, text, stream string
		partial          bool
		ns               int64
	}{
		{`{"log":"{\"level\":\"INFO\"}\n","stream":"stdout","time":"2026-11-22T10:00:00.000000001Z"}`, `{"level":"INFO"}`, "stdout", false, 1795341600000000001},
		{`{"log":"boom\r\n","stream":"stderr","time":"2026-11-22T10:00:00Z"}`, "boom", "stderr", false, 1795341600000000000},
		{`{"log":"first part of a long line","stream":"stdout","time":"x"}`, "first part of a long line", "stdout", true, 0},
		{`{"log":"\u001b[31mred\u001b[0m\n","stream":"stdout"}`, "\x1b[31mred\x1b[0m", "stdout", false, 0},
	} {
		l, err := ParseDockerJSON([]byte(tt.in))
		if err != nil || string(l.Text) != tt.text || l.Stream != tt.stream || l.Partial != tt.partial || l.TimeNs != tt.ns {
			t.Errorf("%s: %+v %v", tt.in, l, err)
		}
	}
	for _, bad := range []string{`{"stream":"stdout"}`, `not json`, `{"log":5}`} {
		if _, err := ParseDockerJSON([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// FuzzParseDockerJSON: json-file records from disk never panic the decoder.
func FuzzParseDockerJSON(f *testing.F) {
	f.Add([]byte(`{"log":"{\"level\":\"INFO\",\"message\":\"hello\"}\n","stream":"stdout","time":"2026-11-22T10:00:00.123456789Z"}`))
	f.Add([]byte(`{"log":"partial","stream":"stderr","time":"2026-11-22T10:00:00Z"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := ParseDockerJSON(b)
		if err == nil && l.Stream != "stdout" && l.Stream != "stderr" {
			t.Fatalf("stream %q", l.Stream)
		}
	})
}
