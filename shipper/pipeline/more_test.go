package pipeline_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/outrigger/outrigger/shipper/config"
	"github.com/outrigger/outrigger/shipper/internal/lokitest"
)

func TestOpenFileCap(t *testing.T) {
	h := newHarness(t, lokitest.Options{})
	h.mutate = func(f *config.File) {
		f.Inputs[0].MaxOpenFiles = 3
		f.Inputs[0].CloseInactive = config.Duration(150 * time.Millisecond)
	}
	for i := range 10 {
		h.write(fmt.Sprintf("f%d.log", i), 20, 200)
	}
	// Count the process's real descriptors on the logs while the pipeline
	// runs: without the cap all ten stay open for close_inactive after they
	// are read, so a sample every 2 ms sees more than three.
	stop := make(chan struct{})
	peak := make(chan int)
	go func() {
		most := 0
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			most = max(most, openLogs(t, h.dir))
			select {
			case <-stop:
				peak <- most
				return
			case <-tick.C:
			}
		}
	}()
	h.start()
	h.waitAll(15 * time.Second)
	// Idle files were closed; new lines reopen them.
	for i := range 10 {
		h.write(fmt.Sprintf("f%d.log", i), 5, 200)
	}
	h.waitAll(15 * time.Second)
	close(stop)
	if most := <-peak; most > 3 || most == 0 {
		t.Errorf("at most %d log files were open at once, want 1 to 3 (max_open_files: 3)", most)
	}
}

// openLogs counts this process's descriptors open for reading only on *.log
// files under dir (the harness's own writers are open for writing).
func openLogs(t *testing.T, dir string) int {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Error(err)
		return 0
	}
	n := 0
	for _, fd := range fds {
		target, err := os.Readlink("/proc/self/fd/" + fd.Name())
		if err != nil || !strings.HasPrefix(target, dir+"/") || !strings.HasSuffix(target, ".log") {
			continue
		}
		info, err := os.ReadFile("/proc/self/fdinfo/" + fd.Name())
		if err != nil {
			continue // closed meanwhile
		}
		for _, l := range strings.Split(string(info), "\n") {
			if flags, ok := strings.CutPrefix(l, "flags:"); ok {
				if v, err := strconv.ParseUint(strings.TrimSpace(flags), 8, 64); err == nil && v&3 == 0 { // O_RDONLY
					n++
				}
			}
		}
	}
	return n
}

func TestMultilineTracebacks(t *testing.T) {
	// Raw lines carry no timestamp the shipper reads: it stamps them with its
	// own (real) clock, so the receiver keeps that clock too.
	h := newHarness(t, lokitest.Options{Now: time.Now})
	h.glob = h.path("*.txt")
	h.mutate = func(f *config.File) {
		f.Inputs[0].Format = "raw"
		f.Inputs[0].Multiline = &config.Multiline{Pattern: `^\d{4}-\d{2}-\d{2}`, Negate: true, Timeout: config.Duration(200 * time.Millisecond)}
	}
	h.start()
	var b strings.Builder
	for i := 1; i <= 50; i++ {
		fmt.Fprintf(&b, "2026-11-22 01:00:%02d,000 ERROR task %d failed\n", i%60, i)
		if i%5 == 0 {
			b.WriteString("Traceback (most recent call last):\n  File \"worker.py\", line 9, in run\nValueError: sk-abcdefghijklmnopqrstuvwx\n")
		}
	}
	if err := os.WriteFile(h.path("worker.txt"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	stream := lokitest.StreamFor(h.path("worker.txt"))
	testDeadline := time.Now().Add(10 * time.Second)
	for len(h.loki.Streams()[stream]) < 50 && time.Now().Before(testDeadline) {
		time.Sleep(20 * time.Millisecond)
	}
	got := h.loki.Streams()[stream]
	if len(got) != 50 {
		t.Fatalf("%d records, want 50 (the last one flushed by the timeout)", len(got))
	}
	for i, e := range got {
		if !strings.Contains(e.Line, fmt.Sprintf("task %d failed", i+1)) {
			t.Fatalf("record %d: %q", i, e.Line)
		}
		if (i+1)%5 == 0 && (!strings.Contains(e.Line, "\nValueError: sk-[REDACTED]") || strings.Count(e.Line, "\n") != 3) {
			t.Fatalf("record %d lost its traceback or a secret: %q", i, e.Line)
		}
	}
}

// TestGracefulStopCommitsWhatWasDelivered stops the pipeline while lines
// flow: in-flight batches are delivered and their offsets saved at
// shutdown (the periodic save is off here), so a restart resends (almost)
// nothing.
func TestGracefulStopCommitsWhatWasDelivered(t *testing.T) {
	h := newHarness(t, lokitest.Options{})
	h.mutate = func(f *config.File) { f.Registry.FlushInterval = config.Duration(time.Hour) }
	h.write("app.log", 20000, 200)
	h.start()
	h.waitSome(2000)
	h.stop()
	delivered := h.loki.Count()
	h.start()
	h.waitAll(20 * time.Second)
	dups := h.loki.Stats().Duplicates
	t.Logf("%d delivered before the stop, %d resent after it", delivered, dups)
	if dups > delivered/10 {
		t.Errorf("%d of %d delivered lines were sent again after a graceful stop", dups, delivered)
	}
}
