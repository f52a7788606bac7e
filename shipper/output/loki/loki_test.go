package loki

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/outrigger/outrigger/internal/testkit"
	"github.com/outrigger/outrigger/shipper/event"
	"github.com/outrigger/outrigger/shipper/internal/lokitest"
	"github.com/outrigger/outrigger/shipper/output"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// counter is an AckOwner counting completed acks.
type counter struct {
	mu   sync.Mutex
	done int
}

func (c *counter) OutputDone(*event.Ack, int) {}
func (c *counter) AllDone(*event.Ack) {
	c.mu.Lock()
	c.done++
	c.mu.Unlock()
}

func (c *counter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.done
}

func events(owner event.AckOwner, n int, stream *event.Stream, base int64) []*event.Event {
	out := make([]*event.Event, n)
	for i := range out {
		a := event.NewAck(owner, int64(i), 0, []int{1})
		a.Arm()
		out[i] = &event.Event{TimeNs: base + int64(i), Line: []byte(lokitest.Line(i+1, time.Unix(0, base+int64(i)), 100)),
			Stream: stream, Ack: a, Metadata: []event.Label{{Name: "request_id", Value: "r"}}}
	}
	return out
}

func TestPushWithTenantAuthAndRetry(t *testing.T) {
	srv := lokitest.Start(t, lokitest.Options{Tenant: "team-a", Username: "u", Password: "p"})
	srv.FailNext(2, 503)
	m := output.NewMetrics(nil)
	o, err := New(Config{URL: srv.URL + "/loki/api/v1/push", TenantID: "team-a", Username: "u", Password: "p",
		BatchWait: 10 * time.Millisecond, MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}, 0, m)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := o.Start(ctx); err != nil {
		t.Fatal(err)
	}
	c := &counter{}
	st := &event.Stream{Labels: `{job="app"}`, Hash: 1}
	base := srv.Now().Add(-time.Minute).UnixNano()
	if !o.Send(ctx, events(c, 50, st, base)) {
		t.Fatal("send refused")
	}
	deadline := time.Now().Add(5 * time.Second)
	for c.count() < 50 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	o.Shutdown(ctx)
	if c.count() != 50 {
		t.Fatalf("%d of 50 acknowledged", c.count())
	}
	got := srv.Streams()[`{job="app"}`]
	if len(got) != 50 || got[0].TimeNs != base || got[0].Metadata[0].Value != "r" {
		t.Fatalf("receiver: %d entries, first %+v", len(got), got[0])
	}
	if v := testutil.ToFloat64(m.Retries.WithLabelValues("loki", "server_error")); v != 2 {
		t.Errorf("server_error retries %v, want 2", v)
	}
}

func TestWrongCredentialsAreRetriedNotDropped(t *testing.T) {
	srv := lokitest.Start(t, lokitest.Options{Bearer: "right"})
	m := output.NewMetrics(nil)
	o, err := New(Config{URL: srv.URL + "/loki/api/v1/push", BearerToken: "wrong", BatchWait: 5 * time.Millisecond,
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 10 * time.Millisecond}, 0, m)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	o.Start(ctx)
	c := &counter{}
	o.Send(ctx, events(c, 3, &event.Stream{Labels: `{job="x"}`}, srv.Now().UnixNano()))
	// The output counts the retry after it recorded the refusal.
	testkit.Eventually(t, 10*time.Second, "a push refused with 401", func() error {
		if testutil.ToFloat64(m.Retries.WithLabelValues("loki", "unauthorized")) == 0 {
			return errors.New("no unauthorized retry yet")
		}
		return nil
	})
	if err := o.Ready(ctx); err == nil {
		t.Error("ready while every push is refused")
	}
	sctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	o.Shutdown(sctx)
	if c.count() != 0 || srv.Count() != 0 {
		t.Fatalf("acknowledged %d, stored %d: a refused push must stay unacknowledged", c.count(), srv.Count())
	}
	if v := testutil.ToFloat64(m.Retries.WithLabelValues("loki", "unauthorized")); v == 0 {
		t.Error("no unauthorized retry counted")
	}
}

func TestNewRejectsCredentialsInURL(t *testing.T) {
	if _, err := New(Config{URL: "http://u:secret@loki/loki/api/v1/push"}, 0, output.NewMetrics(nil)); err == nil {
		t.Fatal("accepted")
	} else if contains(err.Error(), "secret") {
		t.Fatalf("error leaks the password: %v", err)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func BenchmarkEncode(b *testing.B) {
	st := &event.Stream{Labels: `{filename="/app/logs/app.log", job="app", level="info"}`}
	evs := events(&counter{}, 1000, st, time.Now().UnixNano())
	var enc encoder
	var body []byte
	b.SetBytes(int64(1000 * len(evs[0].Line)))
	for b.Loop() {
		body = enc.appendPushRequest(body[:0], []*streamBatch{{stream: st, entries: evs}})
	}
}

func TestAppendVarint(t *testing.T) {
	for _, v := range []uint64{0, 1, 127, 128, 255, 16383, 16384, 1<<21 - 1, 1 << 21, 1<<28 - 1, 1 << 28, 999999999, 1763773200, 1<<35 - 1, 1 << 35, 1 << 63, ^uint64(0)} {
		if got, want := appendVarint([]byte{9}, v), protowire.AppendVarint([]byte{9}, v); !bytes.Equal(got, want) {
			t.Errorf("appendVarint(%d) = %x, want %x", v, got, want)
		}
	}
}
