package process

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/outrigger/outrigger/shipper/decode"
	"github.com/outrigger/outrigger/shipper/event"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRedaction(t *testing.T) {
	p := New(Config{JSON: true, RedactPatterns: true, RedactFields: append([]string{"ssn"}, DefaultRedactFields...)})
	st := p.NewState("/app/logs/app.log")
	tests := []struct{ in, want string }{
		{`{"msg":"calling with sk-proj-abcdefghijklmnopqrstuvwx done"}`, `{"msg":"calling with sk-[REDACTED] done"}`},
		{`{"auth":"Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig"}`, `{"auth":"Bearer [REDACTED]"}`},
		{`{"dsn":"postgres://app:hunter2@db:5432/app"}`, `{"dsn":"postgres://app:[REDACTED]@db:5432/app"}`},
		{`{"user":{"name":"a","Password":"p1","ssn":"123"},"n":1}`, `{"user":{"name":"a","Password":"[REDACTED]","ssn":"[REDACTED]"},"n":1}`},
		{`{"items":[{"token":"t"}],"ok":true}`, `{"items":[{"token":"[REDACTED]"}],"ok":true}`},
		{`{"msg":"task-sk-short and http://host/path and bearer"}`, `{"msg":"task-sk-short and http://host/path and bearer"}`},
		{`plain line with sk-ABCDEFGHIJKLMNOPQRSTUV`, `plain line with sk-[REDACTED]`},
	}
	for _, tt := range tests {
		var ev event.Event
		p.Process(st, []byte(tt.in), &ev)
		if string(ev.Line) != tt.want {
			t.Errorf("%s\n got %s\nwant %s", tt.in, ev.Line, tt.want)
		}
	}
}

func TestLabelsMetadataTimestampAndEdits(t *testing.T) {
	eq := "debug"
	p := New(Config{JSON: true, TimestampField: "ts", TimeFormats: []decode.TimeFormat{decode.FormatRFC3339},
		StaticLabels: map[string]string{"job": "api"}, FilenameLabel: "filename",
		LabelFields: map[string]string{"level": "level"}, MaxLabelValues: 2,
		MetadataFields: map[string]string{"trace_id": "trace.id", "user_id": "user_id"},
		StaticFields:   map[string]string{"env": "prod"}, DropFields: []string{"internal"},
		Renames: []Rename{{From: "msg", To: "message"}}, DropWhen: []Condition{{Field: "level", Equals: &eq}},
		Now: func() time.Time { return time.Unix(100, 0) }})
	st := p.NewState("/app/logs/api.log")
	var ev event.Event
	r := p.Process(st, []byte(`{"ts":"2026-11-22T01:00:00Z","level":"info","msg":"hi","internal":1,"trace":{"id":"t1"},"user_id":42}`), &ev)
	if r != Keep {
		t.Fatal("dropped")
	}
	if ev.Stream.Labels != `{filename="/app/logs/api.log", job="api", level="info"}` {
		t.Errorf("labels %s", ev.Stream.Labels)
	}
	if ev.TimeNs != time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC).UnixNano() {
		t.Errorf("time %d", ev.TimeNs)
	}
	if fmt.Sprint(ev.Metadata) != "[{trace_id t1} {user_id 42}]" {
		t.Errorf("metadata %v", ev.Metadata)
	}
	if string(ev.Line) != `{"ts":"2026-11-22T01:00:00Z","level":"info","message":"hi","trace":{"id":"t1"},"user_id":42,"env":"prod"}` {
		t.Errorf("line %s", ev.Line)
	}
	if p.Process(st, []byte(`{"level":"debug"}`), &ev) != Drop {
		t.Error("debug line kept")
	}
	// Label values are bounded: the third distinct level becomes "other".
	for _, lvl := range []string{"warn", "error", "critical"} {
		p.Process(st, []byte(`{"level":"`+lvl+`"}`), &ev)
	}
	if !strings.Contains(ev.Stream.Labels, `level="other"`) {
		t.Errorf("unbounded label: %s", ev.Stream.Labels)
	}
	// No timestamp: read time, flagged.
	if ev.TimeNs != 100e9 || ev.Metadata[len(ev.Metadata)-1].Name != "timestamp_fallback" {
		t.Errorf("fallback time %d metadata %v", ev.TimeNs, ev.Metadata)
	}
}

func TestTargetAndErrorKey(t *testing.T) {
	p := New(Config{JSON: true, Target: "json", AddErrorKey: true, StaticFields: map[string]string{"host": "h"}})
	st := p.NewState("/x.log")
	var ev event.Event
	p.Process(st, []byte(`{"a":1}`), &ev)
	if string(ev.Line) != `{"json":{"a":1},"host":"h"}` {
		t.Errorf("target: %s", ev.Line)
	}
	p.Process(st, []byte(`not json`), &ev)
	if !strings.Contains(string(ev.Line), `"message":"not json"`) || !strings.Contains(string(ev.Line), `"error":{`) ||
		!decode.Valid(ev.Line) {
		t.Errorf("error key: %s", ev.Line)
	}
}

func TestMultilineIsNotJSON(t *testing.T) {
	// A raw input ships lines untouched apart from redaction.
	p := New(Config{RedactPatterns: true, DropWhen: []Condition{{Field: "line", Regexp: regexp.MustCompile(`healthz`)}}})
	st := p.NewState("/x.log")
	var ev event.Event
	if p.Process(st, []byte("GET /healthz 200"), &ev) != Drop {
		t.Error("raw drop condition ignored")
	}
	p.Process(st, []byte("Traceback\n  File x\nError: key sk-1234567890abcdefghij"), &ev)
	if string(ev.Line) != "Traceback\n  File x\nError: key sk-[REDACTED]" {
		t.Errorf("%q", ev.Line)
	}
}

func BenchmarkProcess(b *testing.B) {
	p := New(Config{JSON: true, TimestampField: "timestamp", TimeFormats: []decode.TimeFormat{decode.FormatRFC3339},
		FilenameLabel: "filename", LabelFields: map[string]string{"level": "level", "logger": "logger"},
		MetadataFields: map[string]string{"request_id": "request_id"}, RedactPatterns: true, RedactFields: DefaultRedactFields})
	st := p.NewState("/app/logs/app.log")
	line := []byte(`{"timestamp":"2026-11-22T01:00:00.123456Z","level":"info","logger":"app.api","seq":1,"request_id":"req-1","msg":"GET /api/items 200","pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`)
	var ev event.Event
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		p.Process(st, line, &ev)
	}
}

func TestExprOnRawLineAndFields(t *testing.T) {
	eq := "debug"
	p := New(Config{JSON: true, Drop: []Expr{
		{Leaf: &Condition{Regexp: regexp.MustCompile(`healthz`)}}, // no field: the raw line, JSON or not
		{And: []Expr{{Leaf: &Condition{Field: "level", Equals: &eq}}, {Not: &Expr{HasFields: []string{"keep"}}}}},
	}})
	st := p.NewState("/x.log")
	for _, tt := range []struct {
		line string
		drop bool
	}{
		{`{"path":"/healthz"}`, true},
		{`GET /healthz`, true},
		{`{"level":"debug"}`, true},
		{`{"level":"debug","keep":1}`, false},
		{`{"level":"info"}`, false},
	} {
		var ev event.Event
		if got := p.Process(st, []byte(tt.line), &ev) == Drop; got != tt.drop {
			t.Errorf("%s: dropped %v, want %v", tt.line, got, tt.drop)
		}
	}
}

// BenchmarkProcessDefault is the default configuration of a --path input
// (auto timestamps, filename label, redaction) on the benchmark's lines.
func BenchmarkProcessDefault(b *testing.B) {
	for _, size := range []int{256, 1024} {
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			p := New(Config{JSON: true, TimestampField: "timestamp", FilenameLabel: "filename", RedactPatterns: true,
				RedactFields: DefaultRedactFields})
			st := p.NewState("/app/logs/app.log")
			s := `{"timestamp":"2026-11-22T01:00:00.123456Z","level":"info","logger":"app.api","seq":1234567,"request_id":"req-1234567","msg":"GET /api/items 200"`
			s += `,"pad":"` + strings.Repeat("x", size-len(s)-10) + `"}`
			line := []byte(s)
			var ev event.Event
			b.SetBytes(int64(len(line)))
			for b.Loop() {
				p.Process(st, line, &ev)
			}
		})
	}
}

func FuzzContainsAround(f *testing.F) {
	for _, s := range []string{"sk-", "a sk-b", "Bearer x", "BEARER  y", "http://a:b@c", "://", ":/", "x", "ab/ef cd/ef"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, c := range []struct {
			c                      byte
			before, before2, after string
		}{{'-', "sk", "sk", ""}, {' ', "earer", "EARER", ""}, {'/', ":", ":", "/"}, {'/', "ab", "cd", "ef"}} {
			want := bytes.Contains(b, []byte(c.before+string(c.c)+c.after)) || bytes.Contains(b, []byte(c.before2+string(c.c)+c.after))
			if got := containsAround(b, c.c, c.before, c.before2, c.after); got != want {
				t.Fatalf("containsAround(%q, %q|%q) = %v, want %v", b, c.before+string(c.c)+c.after, c.before2+string(c.c)+c.after, got, want)
			}
		}
	})
}

// TestProcessAllocations: the per-line steps of the benchmarks'
// configurations allocate nothing once a file's stream is known (the hot
// path of every JSON line) but the string of each label or metadata value
// read from the line (decode.StringValue).
func TestProcessAllocations(t *testing.T) {
	line := []byte(`{"timestamp":"2026-11-22T01:00:00.123456Z","level":"info","logger":"app.api","seq":1,"request_id":"req-1","msg":"GET /api/items 200"}`)
	for _, tt := range []struct {
		name   string
		allocs float64
		cfg    Config
	}{
		{"labels and metadata", 3, Config{JSON: true, TimestampField: "timestamp", TimeFormats: []decode.TimeFormat{decode.FormatRFC3339},
			FilenameLabel: "filename", LabelFields: map[string]string{"level": "level", "logger": "logger"},
			MetadataFields: map[string]string{"request_id": "request_id"}, RedactPatterns: true, RedactFields: DefaultRedactFields}},
		{"default", 0, Config{JSON: true, TimestampField: "timestamp", FilenameLabel: "filename", RedactPatterns: true, RedactFields: DefaultRedactFields}},
	} {
		p := New(tt.cfg)
		st := p.NewState("/app/logs/app.log")
		var ev event.Event
		p.Process(st, line, &ev)
		if n := testing.AllocsPerRun(100, func() { p.Process(st, line, &ev) }); n > tt.allocs {
			t.Errorf("%s: %v allocations per line, want at most %v", tt.name, n, tt.allocs)
		}
	}
}
