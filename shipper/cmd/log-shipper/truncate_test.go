package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/testkit"
	"github.com/outrigger/outrigger/shipper/internal/lokitest"
)

// TestCopytruncateAndGracefulStop ships a file to a real Loki, rotates it the
// way logrotate's copytruncate does (copy out of the glob, truncate in place,
// write on), stops the shipper gracefully while more lines are written and
// starts it again: Loki stores every line once and in order, and received
// each exactly once: nothing is sent again after a truncation or a clean stop.
func TestCopytruncateAndGracefulStop(t *testing.T) {
	dir := testkit.TempDir(t, "shipper")
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	loki := lokitest.StartReal(t, testkit.LokiOptions{})
	path := filepath.Join(logs, "app.log")
	base := loki.Now().Add(-5 * time.Minute)
	seq := 0
	write := func(n int) {
		t.Helper()
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for range n {
			seq++
			b.WriteString(lokitest.Line(seq, base.Add(time.Duration(seq)*time.Millisecond), 200) + "\n")
		}
		if _, err := f.WriteString(b.String()); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	want := func() map[string]int { return map[string]int{lokitest.StreamFor(path): seq} }

	write(500)
	s := startShipper(t, dir, "--path="+logs+"/*.log", "--loki.url="+loki.PushURL())
	loki.WaitExactlyOnce(t, 30*time.Second, want())

	// copytruncate: the copy leaves the glob, the file starts over in place.
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".1", old, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	write(300)
	loki.WaitExactlyOnce(t, 30*time.Second, want())

	// A graceful stop, lines written meanwhile, a start.
	s.Stop(t)
	write(200)
	s.Start(t)
	s.waitUp(t)
	write(100)
	loki.WaitExactlyOnce(t, 30*time.Second, want())
	if got := loki.LinesReceived(t); got != seq {
		t.Errorf("Loki received %d lines for %d written: %d sent again after a copytruncate or a graceful stop", got, seq, got-seq)
	}
}
