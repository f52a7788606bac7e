package main

import (
	"bufio"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/outrigger/outrigger/shipper/internal/lokitest"
)

// writerOptions shape the lines an application writes in the shipper's
// end-to-end tests.
type writerOptions struct {
	names       []string                 // files in the directory; only app.log is ever rotated
	line        func(seq int) string     // the seq-th line of a file, without its newline
	batch       int                      // lines written and flushed at once
	every       time.Duration            // pause after each batch
	afterRename int                      // lines still written to the renamed app.log before the new one is opened
	rotates     string                   // the file rotated instead of app.log
	rotatedName func(path string) string // the rotated file's name (path + ".1" by default)
}

// logWriters appends numbered lines to files, one goroutine each, until
// stopped, and knows the last line of each file that reached the disk.
type logWriters struct {
	mu      sync.Mutex
	want    map[string]int // lokitest stream -> last sequence number flushed
	stop    chan struct{}
	rotate  chan struct{}
	rotated chan struct{}
	wg      sync.WaitGroup
	halt    func()
	once    func()
}

func startWriters(t *testing.T, dir string, o writerOptions) *logWriters {
	lw := &logWriters{want: map[string]int{}, stop: make(chan struct{}), rotate: make(chan struct{}), rotated: make(chan struct{})}
	lw.halt = sync.OnceFunc(func() { close(lw.stop); lw.wg.Wait() })
	lw.once = sync.OnceFunc(func() { close(lw.rotate) })
	t.Cleanup(lw.halt)
	rotates := o.rotates
	if rotates == "" {
		rotates = "app.log"
	}
	for _, name := range o.names {
		path := filepath.Join(dir, name)
		lw.wg.Go(func() { lw.write(t, path, name == rotates, o) })
	}
	return lw
}

func (lw *logWriters) write(t *testing.T, path string, rotates bool, o writerOptions) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Error(err)
		return
	}
	defer func() { f.Close() }()
	w := bufio.NewWriter(f)
	seq := 0
	write := func(n int) bool {
		for range n {
			seq++
			w.WriteString(o.line(seq) + "\n")
		}
		if err := w.Flush(); err != nil {
			t.Errorf("writing %s: %v", path, err)
			return false
		}
		lw.mu.Lock()
		lw.want[lokitest.StreamFor(path)] = seq
		lw.mu.Unlock()
		return true
	}
	rotate := lw.rotate
	if !rotates {
		rotate = nil
	}
	for {
		if !write(o.batch) {
			return
		}
		select {
		case <-lw.stop:
			return
		case <-rotate: // rename out of the glob, then create anew
			rotate = nil
			to := path + ".1"
			if o.rotatedName != nil {
				to = o.rotatedName(path)
			}
			if err := os.Rename(path, to); err != nil {
				t.Error(err)
				return
			}
			if o.afterRename > 0 && !write(o.afterRename) {
				return
			}
			f.Close()
			if f, err = os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
				t.Error(err)
				return
			}
			w.Reset(f)
			close(lw.rotated)
		case <-time.After(o.every):
		}
	}
}

// Rotate asks app.log's writer to rotate it (once).
func (lw *logWriters) Rotate() { lw.once() }

// WaitRotated waits for the rotation Rotate asked for.
func (lw *logWriters) WaitRotated(t *testing.T) {
	t.Helper()
	select {
	case <-lw.rotated:
	case <-time.After(10 * time.Second):
		t.Fatal("app.log was not rotated")
	}
}

// Want returns, per stream, the last line flushed so far.
func (lw *logWriters) Want() map[string]int {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return maps.Clone(lw.want)
}

// Stop stops the writers and returns the last line of each stream.
func (lw *logWriters) Stop() map[string]int {
	lw.halt()
	return lw.Want()
}
