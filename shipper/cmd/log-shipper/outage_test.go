package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/testkit"
	"github.com/outrigger/outrigger/shipper/internal/lokitest"
)

// TestLokiDownForMinutes keeps Loki away for minutes (150 s: connections
// refused for the first half, every push answered 503 for the second) while
// two files are written and one of them is rotated by rename+create in the
// middle of the outage (the application goes on writing to the renamed file
// for a moment). Then Loki comes back: the receiver must hold every line
// exactly once and in order per stream, soon. Meanwhile /ready is 503, the
// retry counters grow, the buffered bytes stay under the 2 MiB cap (the
// senders' bounded queues hold reading back further still: about two
// batches per stream) and the peak RSS stays small. SHIPPER_OUTAGE (a Go duration) shortens the outage by hand.
func TestLokiDownForMinutes(t *testing.T) {
	t.Parallel()
	outage := 150 * time.Second
	if v := os.Getenv("SHIPPER_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("SHIPPER_OUTAGE: %v", err)
		}
		outage = d
	}
	const (
		capBytes   = 2 << 20
		maxBackoff = 8 * time.Second
		lineSize   = 250
		perTick    = 8 // lines per file every 20 ms: 400 lines/s per file
	)
	dir := testkit.TempDir(t, "shipper")
	logs := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	loki := lokitest.Start(t, lokitest.Options{})
	cfg := filepath.Join(dir, "shipper.yml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, "memory_limit: %d\ninputs:\n  - paths: [%q]\noutputs:\n  loki:\n    url: %s/loki/api/v1/push\n    max_backoff: %s\n    batch_bytes: 256KiB\n",
		capBytes, logs+"/*.log", loki.URL, maxBackoff), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startShipper(t, dir, "--config.file="+cfg)
	statusURL := "http://" + s.addr

	// Two writers, 400 lines/s each; app.log is rotated (rename out of the
	// glob, 50 more lines to the renamed file, then a new app.log) when asked.
	base := loki.Now().Add(-10 * time.Minute)
	writers := startWriters(t, logs, writerOptions{names: []string{"app.log", "api.log"}, batch: perTick, every: 20 * time.Millisecond,
		afterRename: 50, line: func(seq int) string {
			return lokitest.Line(seq, base.Add(time.Duration(seq)*time.Millisecond), lineSize)
		}})

	metrics := func() (retries, buffered, limit, rotations float64) {
		t.Helper()
		code, body := testkit.Get(t, statusURL+"/metrics", nil)
		if code != http.StatusOK {
			t.Fatalf("/metrics: %d", code)
		}
		fams := testkit.Families(t, body)
		for _, m := range fams["log_shipper_retries_total"].GetMetric() {
			retries += m.GetCounter().GetValue()
		}
		buffered = testkit.MustValue(t, fams, "log_shipper_buffered_bytes", nil)
		limit = testkit.MustValue(t, fams, "log_shipper_buffer_limit_bytes", nil)
		rotations, _ = testkit.Value(fams, "log_shipper_file_events_total", map[string]string{"event": "rotated"})
		return retries, buffered, limit, rotations
	}
	retriesOf := func(reason string) float64 {
		t.Helper()
		_, body := testkit.Get(t, statusURL+"/metrics", nil)
		v, _ := testkit.Value(testkit.Families(t, body), "log_shipper_retries_total", map[string]string{"output": "loki", "reason": reason})
		return v
	}
	ready := func() int {
		t.Helper()
		code, _ := testkit.Get(t, statusURL+"/ready", nil)
		return code
	}

	// Lines flow before the outage.
	testkit.Eventually(t, 15*time.Second, "lines delivered before the outage", func() error {
		if n := loki.Count(); n < 1000 {
			return fmt.Errorf("%d entries", n)
		}
		return nil
	})
	if code := ready(); code != http.StatusOK {
		t.Fatalf("/ready %d before the outage", code)
	}

	loki.Down()
	start := time.Now()
	refused := true
	var firstRetries, maxBuffered float64
	notReadySince := time.Duration(-1)
	samples := 0
	for time.Since(start) < outage {
		time.Sleep(time.Second)
		elapsed := time.Since(start)
		if refused && elapsed >= outage/3 {
			writers.Rotate()
		}
		if refused && elapsed >= outage/2 {
			// The second half: Loki listens again but answers every push 503.
			loki.FailRate(1, http.StatusServiceUnavailable)
			if err := loki.Up(); err != nil {
				t.Fatal(err)
			}
			refused = false
			t.Logf("%s: Loki answers 503 from now on; network retries so far %v", elapsed.Round(time.Second), retriesOf("network"))
		}
		retries, buffered, limit, _ := metrics()
		if limit != capBytes {
			t.Fatalf("log_shipper_buffer_limit_bytes %v, want %d", limit, capBytes)
		}
		if buffered > limit {
			t.Errorf("%s into the outage: %v bytes buffered, over the %v cap", elapsed.Round(time.Second), buffered, limit)
		}
		maxBuffered = max(maxBuffered, buffered)
		if firstRetries == 0 {
			firstRetries = retries
		}
		code := ready()
		switch {
		case code == http.StatusServiceUnavailable && notReadySince < 0:
			notReadySince = elapsed
		case code != http.StatusServiceUnavailable && notReadySince >= 0:
			t.Errorf("%s into the outage: /ready %d, want 503 (it was 503 from %s on)", elapsed.Round(time.Second), code, notReadySince.Round(time.Second))
		}
		samples++
	}
	writers.WaitRotated(t)
	retries, _, _, rotations := metrics()
	peakDown := vmHWM(t, s.Pid())
	received := loki.Count()
	if notReadySince < 0 || notReadySince > 15*time.Second {
		t.Errorf("/ready did not turn 503 within 15 s of the outage (first 503 at %s)", notReadySince)
	}
	if retries <= firstRetries {
		t.Errorf("retries did not grow during the outage: %v at its start, %v at its end", firstRetries, retries)
	}
	if v := retriesOf("network"); v == 0 {
		t.Error("no network retry counted while Loki refused connections")
	}
	if v := retriesOf("server_error"); v == 0 {
		t.Error("no server_error retry counted while Loki answered 503")
	}
	if rotations < 1 {
		t.Errorf("log_shipper_file_events_total{event=\"rotated\"} = %v: the rotation was not seen", rotations)
	}

	loki.FailRate(0, 0)
	back := time.Now()
	time.Sleep(2 * time.Second) // lines keep coming after Loki is back
	final := writers.Stop()
	total := 0
	for _, n := range final {
		total += n
	}
	loki.WaitExactlyOnce(t, 2*maxBackoff+60*time.Second, final)
	recovery := time.Since(back)
	testkit.Eventually(t, 10*time.Second, "/ready 200 once Loki is back", func() error {
		if code := ready(); code != http.StatusOK {
			return fmt.Errorf("/ready %d", code)
		}
		return nil
	})
	peak := vmHWM(t, s.Pid())
	st := loki.Stats()
	t.Logf("outage %s: %d lines written (%d MiB), the receiver held %d at its end; /ready 503 from %s on; retries %v -> %v; "+
		"buffered at most %v of %d bytes; everything delivered %s after Loki came back; peak RSS %d MiB during the outage, %d MiB overall; "+
		"receiver: %d requests %v, %d duplicates dropped",
		outage, total, total*lineSize>>20, received, notReadySince.Round(time.Second), firstRetries, retries,
		maxBuffered, capBytes, recovery.Round(100*time.Millisecond), peakDown>>20, peak>>20, st.Requests, st.Status, st.Duplicates)
	if maxBuffered == 0 {
		t.Error("log_shipper_buffered_bytes stayed 0 while lines piled up")
	}
	if peak > 48<<20 {
		t.Errorf("peak RSS %d MiB with a 2 MiB cap: over 48 MiB", peak>>20)
	}
	if limit := 2*maxBackoff + 30*time.Second; recovery > limit {
		t.Errorf("everything delivered %s after Loki came back: over %s with max_backoff %s", recovery, limit, maxBackoff)
	}
	if samples < int(outage/time.Second)/2 {
		t.Errorf("only %d samples during the outage", samples)
	}
}
