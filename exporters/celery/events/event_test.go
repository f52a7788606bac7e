package events

import (
	"bufio"
	"encoding/json"
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type redisSample struct {
	Channel    string          `json:"channel"`
	RoutingKey string          `json:"routing_key"`
	Exchange   string          `json:"exchange"`
	Body       json.RawMessage `json:"body"`
}

// redisSamples re-wraps the captured Redis messages in kombu's envelope.
func redisSamples(t testing.TB) [][]byte {
	t.Helper()
	b, err := os.ReadFile("../testdata/redis-events.json")
	if err != nil {
		t.Fatal(err)
	}
	var samples []redisSample
	if err := json.Unmarshal(b, &samples); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, s := range samples {
		if s.Exchange != "celeryev" {
			continue
		}
		msg, err := EncodeRedis(s.Exchange, s.RoutingKey, "w1@vm", s.Body)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, msg)
	}
	return out
}

type amqpSample struct {
	RoutingKey string `json:"routing_key"`
	Properties struct {
		ContentType string `json:"content_type"`
	} `json:"properties"`
	Body string `json:"body"`
}

func amqpSamples(t testing.TB) []amqpSample {
	t.Helper()
	f, err := os.Open("../testdata/amqp-events.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []amqpSample
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var s amqpSample
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func TestRedisSamplesDecodeEveryEventWithItsFields(t *testing.T) {
	var dec Decoder
	byType := map[Type][]Event{}
	for _, msg := range redisSamples(t) {
		if _, err := dec.Redis(msg, func(e *Event) { byType[e.Type] = append(byType[e.Type], *e) }); err != nil {
			t.Fatalf("decoding %s: %v", msg, err)
		}
	}
	want := map[Type]int{TaskSent: 2, TaskReceived: 7, TaskStarted: 6, TaskSucceeded: 3, TaskFailed: 1,
		TaskRetried: 1, TaskRejected: 1, TaskRevoked: 1, WorkerOnline: 1, WorkerHeartbeat: 1, WorkerOffline: 1}
	for typ, n := range want {
		if got := len(byType[typ]); got != n {
			t.Errorf("%s: %d events, want %d", typ, got, n)
		}
	}
	if len(byType[Unknown]) != 0 {
		t.Errorf("unknown events: %+v", byType[Unknown])
	}
	sent := byType[TaskSent][0]
	if sent.Name != "tasks.add" || sent.Queue != "celery" || sent.UUID != "d194af19-7440-4ff2-b075-7d8ebe5bcaef" || sent.Hostname != "gen15110@vm" {
		t.Errorf("task-sent = %+v", sent)
	}
	if q := byType[TaskSent][1].Queue; q != "pq" {
		t.Errorf("second task-sent queue = %q, want pq", q)
	}
	if f := byType[TaskFailed][0]; ExceptionClass(f.Exception) != "ValueError" {
		t.Errorf("task-failed exception %q -> %q", f.Exception, ExceptionClass(f.Exception))
	}
	if s := byType[TaskSucceeded][0]; s.Runtime <= 0 || s.Runtime > 1 {
		t.Errorf("task-succeeded runtime = %v", s.Runtime)
	}
	if hb := byType[WorkerHeartbeat][0]; hb.Freq != 2 || !hb.HasActive || hb.Hostname != "w1@vm" {
		t.Errorf("heartbeat = %+v", hb)
	}
	if r := byType[TaskReceived]; r[len(r)-3].ETA == "" && r[3].ETA == "" {
		t.Errorf("no task-received carried its ETA")
	}
}

func TestAMQPSamplesDecode(t *testing.T) {
	var dec Decoder
	n, multi := 0, 0
	for _, s := range amqpSamples(t) {
		got, err := dec.AMQP(s.Properties.ContentType, []byte(s.Body), func(e *Event) {
			if e.Type == Unknown || e.Hostname == "" || e.Timestamp == 0 {
				t.Errorf("incomplete event %+v", e)
			}
		})
		if err != nil {
			t.Fatalf("decoding %s: %v", s.Body, err)
		}
		n += got
		if s.RoutingKey == "task.multi" {
			multi++
		}
	}
	if n < 43 || multi == 0 {
		t.Fatalf("decoded %d events (%d task.multi messages) from 43 messages", n, multi)
	}
}

func TestDecodeErrorsAreClassified(t *testing.T) {
	var dec Decoder
	cases := []struct {
		name, msg, reason string
	}{
		{"not json", `nope`, "envelope"},
		{"no body", `{"content-type":"application/json"}`, "envelope"},
		{"pickle", `{"body":"gAJ9cQAu","content-type":"application/x-python-serialize","properties":{"body_encoding":"base64"}}`, "content_type"},
		{"bad base64", `{"body":"!!!","content-type":"application/json","properties":{"body_encoding":"base64"}}`, "envelope"},
		{"body not an event", `{"body":"MTIz","content-type":"application/json","properties":{"body_encoding":"base64"}}`, "body"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := dec.Redis([]byte(c.msg), func(*Event) { t.Error("an event came out of a bad message") })
			if err == nil || Reason(err) != c.reason {
				t.Fatalf("err = %v (reason %q), want reason %q", err, Reason(err), c.reason)
			}
		})
	}
}

func TestExceptionClass(t *testing.T) {
	for in, want := range map[string]string{
		"ValueError('kaboom')":                 "ValueError",
		"RuntimeError('try again')":            "RuntimeError",
		"celery.exceptions.Retry: Retry in 1s": "celery.exceptions.Retry",
		"KeyError":                             "KeyError",
		"oh no, something <b>bad</b>":          "",
		"":                                     "",
	} {
		if got := ExceptionClass(in); got != want {
			t.Errorf("ExceptionClass(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzRedis(f *testing.F) {
	for _, msg := range redisSamples(f) {
		f.Add(msg)
	}
	f.Add([]byte(`{"body":"W10=","content-type":"application/json","properties":{"body_encoding":"base64"}}`))
	f.Fuzz(func(t *testing.T, msg []byte) {
		var dec Decoder
		n := 0
		got, err := dec.Redis(msg, func(e *Event) {
			n++
			if e.Type >= NumTypes {
				t.Fatalf("type out of range: %d", e.Type)
			}
		})
		if err == nil && got != n || err != nil && Reason(err) == "" {
			t.Fatalf("returned %d, %v after %d events", got, err, n)
		}
	})
}

func FuzzBody(f *testing.F) {
	for _, s := range amqpSamples(f) {
		f.Add([]byte(s.Body))
	}
	f.Add([]byte(`[{"type":"task-started","uuid":"x"},{}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var dec Decoder
		n := 0
		got, err := dec.AMQP("application/json", body, func(*Event) { n++ })
		if err == nil && got != n {
			t.Fatalf("returned %d after %d events", got, n)
		}
	})
}

func FuzzExceptionClass(f *testing.F) {
	for _, s := range []string{"ValueError('kaboom')", "celery.exceptions.Retry: x", "", "(", "a:b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := ExceptionClass(s)
		if len(c) > 100 {
			t.Fatalf("class %q longer than 100", c)
		}
		for _, r := range c {
			if !(r == '_' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				t.Fatalf("class %q has %q", c, r)
			}
		}
	})
}
