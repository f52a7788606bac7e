package lokitest

import (
	"fmt"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/testkit"
)

// Real is a real Loki (testkit.StartLoki) read back through its query API,
// with the checks the delivery tests make of the fake receiver. Real Loki
// drops an identical entry only while it is in the unflushed head chunk, and
// its queries merge identical entries, so "stored once" is read twice: every
// line once and in order in the query, and LinesReceived (the distributor's
// count, duplicates included) for what the shipper sent again.
type Real struct {
	*testkit.Loki
	// Selector matches every stream a test writes (default {filename=~".+"}).
	Selector string
	from     time.Time
}

// StartReal starts a real Loki for a test.
func StartReal(t testing.TB, opts testkit.LokiOptions) *Real {
	t.Helper()
	l := testkit.StartLoki(t, opts)
	return &Real{Loki: l, Selector: `{filename=~".+"}`, from: l.Now().Add(-7*24*time.Hour + time.Minute)}
}

// Lines returns each stream's lines in time order.
func (r *Real) Lines(t testing.TB) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for stream, entries := range r.Streams(t, r.Selector, r.from, r.Now().Add(time.Hour)) {
		for _, e := range entries {
			out[stream] = append(out[stream], e.Line)
		}
	}
	return out
}

// Count is the number of entries the query returns.
func (r *Real) Count(t testing.TB) int {
	t.Helper()
	n := 0
	for _, lines := range r.Lines(t) {
		n += len(lines)
	}
	return n
}

// Check is Server.Check against what Loki stored.
func (r *Real) Check(t testing.TB, want map[string]int) error {
	t.Helper()
	return checkLines(r.Lines(t), want)
}

// WaitExactlyOnce waits until Loki holds, for each stream in want, exactly
// the lines with seq 1..want[stream], once each and in order.
func (r *Real) WaitExactlyOnce(t testing.TB, timeout time.Duration, want map[string]int) {
	t.Helper()
	waitExactlyOnce(t, timeout, time.Second, "Loki", func() error {
		err := r.Check(t, want)
		if err != nil && !t.Failed() {
			if d := r.Discarded(t); len(d) > 0 {
				return fmt.Errorf("%w (Loki discarded entries: %v)", err, d)
			}
		}
		return err
	})
}
