package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/testkit"
)

// silentEngine is a unix socket that accepts connections and never answers.
type silentEngine struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	done  sync.WaitGroup
}

func newSilentEngine(t *testing.T, path string) *silentEngine {
	t.Helper()
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	e := &silentEngine{ln: ln}
	e.done.Add(1)
	go func() {
		defer e.done.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.mu.Lock()
			e.conns = append(e.conns, c)
			e.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		e.done.Wait()
		e.mu.Lock()
		defer e.mu.Unlock()
		for _, c := range e.conns {
			c.Close()
		}
	})
	return e
}

func (e *silentEngine) accepted() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.conns)
}

// TestSilentDockerEngineDoesNotBlockFiles: with a Docker engine that
// accepts and never answers, the file inputs ship from the start (the
// container discovery runs beside them, each call bounded).
func TestSilentDockerEngineDoesNotBlockFiles(t *testing.T) {
	dir := testkit.TempDir(t, "shipper")
	engine := newSilentEngine(t, filepath.Join(dir, "docker.sock"))
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	os.WriteFile(filepath.Join(logs, "app.log"), []byte(`{"msg":"file line shipped"}`+"\n"), 0o644)
	s := startShipper(t, dir, "--path="+logs+"/*.log", "--docker.host=unix://"+filepath.Join(dir, "docker.sock"))
	testkit.Eventually(t, 10*time.Second, "the engine asked", func() error {
		if engine.accepted() == 0 {
			return fmt.Errorf("no connection yet")
		}
		return nil
	})
	// Well before the engine's call times out (10 s), the file line is out.
	testkit.Eventually(t, 5*time.Second, "file line on standard output", func() error {
		if !strings.Contains(s.Log(), "file line shipped") {
			return fmt.Errorf("not yet")
		}
		return nil
	})
}
