package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/outrigger/outrigger/internal/testkit"
	"github.com/outrigger/outrigger/shipper/internal/estest"
)

// `log-shipper --web.healthcheck` runs every 30 s in the shipper's
// container with the shipper's flags, registry volume and log files. It
// probes the running shipper's /health and touches nothing of the
// deployment: no glob is listed, no log file opened, the registry and the
// dead-letter file keep their bytes and mtimes.
func TestHealthcheckTouchesNothing(t *testing.T) {
	dir := testkit.TempDir(t, "shipper")
	logs, state := filepath.Join(dir, "logs"), filepath.Join(dir, "state")
	os.MkdirAll(logs, 0o755)
	os.WriteFile(filepath.Join(logs, "app.log"), []byte("{\"msg\":\"one\"}\n{\"msg\":\"two\"}\n{\"msg\":\"three\"}\n"), 0o644)
	es := estest.New(estest.ES8)
	defer es.Close()
	es.ItemStatus = func(string, string, map[string]any) int { return 400 } // every line dead-lettered
	deployment := []string{"--path=" + logs + "/*.log", "--elasticsearch.url=" + es.URL}
	registry, dead := filepath.Join(state, "registry.json"), filepath.Join(state, "elasticsearch-dead-letter.ndjson")

	// A first run leaves a registry and a dead-letter file behind.
	first := startShipper(t, dir, deployment...)
	testkit.Eventually(t, 10*time.Second, "three dead letters and the offset saved", func() error {
		b, err := os.ReadFile(dead)
		if err != nil || bytes.Count(b, []byte("\n")) != 3 {
			return fmt.Errorf("dead letters: %q %v", b, err)
		}
		if r, err := os.ReadFile(registry); err != nil || !strings.Contains(string(r), "app.log") {
			return fmt.Errorf("registry: %q %v", r, err)
		}
		return nil
	})
	first.Stop(t)
	before := snapshot(t, registry, dead)

	// The shipper the probe asks: another instance, with nothing to tail.
	running := startShipper(t, t.TempDir(), "--path="+filepath.Join(t.TempDir(), "*.log"))
	watch := watchOpens(t, logs, state)
	probe := func() (string, error) {
		out, err := exec.Command(binary, append(deployment, "--registry.path="+registry,
			"--web.listen-address="+running.addr, "--web.healthcheck")...).CombinedOutput()
		return string(out), err
	}
	if out, err := probe(); err != nil {
		t.Fatalf("healthcheck against a running shipper: %v\n%s", err, out)
	}
	if ev := watch(); len(ev) > 0 {
		t.Errorf("the healthcheck touched the deployment: %s", strings.Join(ev, ", "))
	}
	if after := snapshot(t, registry, dead); after != before {
		t.Errorf("registry or dead-letter file changed:\nbefore %s\nafter  %s", before, after)
	}

	running.Stop(t)
	watch() // the snapshot's own reads
	if out, err := probe(); err == nil {
		t.Errorf("healthcheck with no shipper running succeeded:\n%s", out)
	}
	if ev := watch(); len(ev) > 0 {
		t.Errorf("the failing healthcheck touched the deployment: %s", strings.Join(ev, ", "))
	}
}

// snapshot sums up the bytes and modification times of files.
func snapshot(t *testing.T, paths ...string) string {
	t.Helper()
	var b strings.Builder
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %d %s %q; ", filepath.Base(p), fi.Size(), fi.ModTime().Format(time.RFC3339Nano), data)
	}
	return b.String()
}

// watchOpens reports, on each call, what was opened, listed, created or
// written in dirs (inotify) since the previous call. The kernel queues an
// event when the system call happens, so once a process has exited its
// events are all there.
func watchOpens(t *testing.T, dirs ...string) func() []string {
	t.Helper()
	fd, err := syscall.InotifyInit1(syscall.IN_NONBLOCK | syscall.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	names := map[int32]string{}
	for _, d := range dirs {
		wd, err := syscall.InotifyAddWatch(fd, d, syscall.IN_OPEN|syscall.IN_ACCESS|syscall.IN_MODIFY|
			syscall.IN_CREATE|syscall.IN_DELETE|syscall.IN_MOVED_TO|syscall.IN_ATTRIB)
		if err != nil {
			t.Fatal(err)
		}
		names[int32(wd)] = d
	}
	return func() []string {
		var out []string
		buf := make([]byte, 64<<10)
		for {
			n, err := syscall.Read(fd, buf)
			if errors.Is(err, syscall.EAGAIN) {
				return out
			}
			if err != nil {
				t.Fatal(err)
			}
			for off := 0; off+syscall.SizeofInotifyEvent <= n; {
				ev := (*syscall.InotifyEvent)(unsafe.Pointer(&buf[off]))
				name := string(bytes.TrimRight(buf[off+syscall.SizeofInotifyEvent:off+syscall.SizeofInotifyEvent+int(ev.Len)], "\x00"))
				out = append(out, fmt.Sprintf("%s/%s mask %#x", names[ev.Wd], name, ev.Mask))
				off += syscall.SizeofInotifyEvent + int(ev.Len)
			}
		}
	}
}
