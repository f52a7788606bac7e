package main

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/crypto/bcrypt"

	"github.com/outrigger/outrigger/internal/testkit"
	"github.com/outrigger/outrigger/shipper/internal/lokitest"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "log-shipper-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "log-shipper")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building log-shipper:", err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		return runWithLeakCheck(m)
	}()
	os.Exit(code)
}

func runWithLeakCheck(m *testing.M) int {
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			return 1
		}
	}
	return code
}

type shipper struct {
	*testkit.Process
	addr string
}

func startShipper(t *testing.T, dir string, args ...string) *shipper {
	t.Helper()
	port := testkit.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	p := &testkit.Process{Name: "log-shipper", Path: binary, LogPath: filepath.Join(dir, "shipper.log"),
		Args: append([]string{"--web.listen-address=" + addr, "--registry.path=" + filepath.Join(dir, "state", "registry.json")}, args...)}
	p.Start(t)
	t.Cleanup(func() { p.Stop(t) })
	s := &shipper{Process: p, addr: addr}
	s.waitUp(t)
	return s
}

func (s *shipper) waitUp(t *testing.T) {
	t.Helper()
	testkit.Eventually(t, 10*time.Second, "log-shipper listening", func() error {
		if !s.Running() {
			t.Fatalf("log-shipper exited:\n%s", s.Log())
		}
		resp, err := http.Get("http://" + s.addr + "/health")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
}

func TestHelpListsFlagsWithEnvVars(t *testing.T) {
	out, err := exec.Command(binary, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("--help: %v\n%s", err, out)
	}
	for _, want := range []string{"--path", "($LOG_SHIPPER_PATH)", "--loki.url", "($LOG_SHIPPER_LOKI_URL)",
		"--loki.password-file", "--config.file", "config.check", "--memory.limit", "($LOG_SHIPPER_WEB_LISTEN_ADDRESS)",
		"--web.config.file"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("--help lacks %q", want)
		}
	}
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yml")
	os.WriteFile(good, []byte("inputs:\n  - paths: [/app/logs/*.log]\n    label_fields: {level: level}\noutputs:\n  loki:\n    url: http://loki:3100/loki/api/v1/push\n"), 0o644)
	bad := filepath.Join(dir, "bad.yml")
	os.WriteFile(bad, []byte("inputs:\n  - paths: [/app/logs/*.log]\n    lables: {job: app}\n"), 0o644)
	out, err := exec.Command(binary, "--config.file", good, "--config.check").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "valid") {
		t.Errorf("good config: %v\n%s", err, out)
	}
	out, err = exec.Command(binary, "--config.file", bad, "--config.check").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "line 3") || !strings.Contains(string(out), "lables") {
		t.Errorf("bad config: want a failure naming line 3 and the key: %v\n%s", err, out)
	}
}

func TestEndpointsAndReadiness(t *testing.T) {
	dir := testkit.TempDir(t, "shipper")
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	loki := lokitest.Start(t, lokitest.Options{})
	loki.Down()
	s := startShipper(t, dir, "--path="+logs+"/*.log", "--loki.url="+loki.URL+"/loki/api/v1/push")
	base := "http://" + s.addr
	if code, body := testkit.Get(t, base+"/health", nil); code != 200 || !strings.Contains(string(body), "healthy") {
		t.Errorf("/health: %d %s", code, body)
	}
	testkit.Eventually(t, 15*time.Second, "/ready 503 while Loki is down", func() error {
		if code, body := testkit.Get(t, base+"/ready", nil); code != 503 {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})
	if err := loki.Up(); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(logs, "app.log"), []byte(lokitest.Line(1, loki.Now(), 200)+"\n"), 0o644)
	testkit.Eventually(t, 20*time.Second, "/ready 200 once Loki is back", func() error {
		if code, body := testkit.Get(t, base+"/ready", nil); code != 200 {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})
	testkit.Eventually(t, 10*time.Second, "line shipped", func() error {
		if loki.Count() != 1 {
			return fmt.Errorf("%d entries", loki.Count())
		}
		return nil
	})
	s.Signal(syscall.SIGHUP)
	time.Sleep(300 * time.Millisecond)
	if !s.Running() {
		t.Fatalf("SIGHUP stopped the shipper:\n%s", s.Log())
	}
	code, body := testkit.Get(t, base+"/metrics", nil)
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	testkit.CheckMetrics(t, body)
	fams := testkit.Families(t, body)
	if v := testkit.MustValue(t, fams, "log_shipper_shipped_lines_total", map[string]string{"output": "loki"}); v != 1 {
		t.Errorf("shipped lines %v, want 1", v)
	}
	for _, name := range []string{"log_shipper_read_lines_total", "log_shipper_read_bytes_total", "log_shipper_file_lag_bytes",
		"log_shipper_registry_age_seconds", "log_shipper_batch_duration_seconds", "log_shipper_retries_total", "log_shipper_buffer_limit_bytes"} {
		if fams[name] == nil {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}

func TestWebConfigBasicAuth(t *testing.T) {
	dir := testkit.TempDir(t, "shipper")
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	web := filepath.Join(dir, "web.yml")
	os.WriteFile(web, []byte("basic_auth_users:\n  prom: "+string(hash)+"\n"), 0o644)
	s := startShipper(t, dir, "--path="+dir+"/logs/*.log", "--web.config.file="+web)
	if code, _ := testkit.Get(t, "http://"+s.addr+"/metrics", nil); code != 401 {
		t.Errorf("/metrics without credentials: %d, want 401", code)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.addr+"/metrics", nil)
	req.SetBasicAuth("prom", "s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/metrics with credentials: %d", resp.StatusCode)
	}
}

// TestKill9MidBatch kills the shipper with SIGKILL at random moments while
// two files are written and one is rotated, restarts it each time, and
// checks that Loki ends up with every line exactly once and in order.
func TestKill9MidBatch(t *testing.T) {
	dir := testkit.TempDir(t, "shipper")
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	loki := lokitest.Start(t, lokitest.Options{})
	s := startShipper(t, dir, "--path="+logs+"/*.log", "--loki.url="+loki.URL+"/loki/api/v1/push")

	base := loki.Now().Add(-20 * time.Minute)
	writers := startWriters(t, logs, writerOptions{names: []string{"app.log", "api.log"}, batch: 200, every: 10 * time.Millisecond,
		line: func(seq int) string { return lokitest.Line(seq, base.Add(time.Duration(seq)*time.Millisecond), 250) }})
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 8))
	for i := range 6 {
		time.Sleep(time.Duration(150+rng.IntN(600)) * time.Millisecond)
		s.Kill()
		t.Logf("kill %d: receiver holds %d entries", i+1, loki.Count())
		if i == 2 {
			writers.Rotate() // app.log is renamed and created anew while the shipper is down
			writers.WaitRotated(t)
		}
		if rng.IntN(2) == 0 {
			time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		}
		s.Start(t)
		s.waitUp(t)
	}
	loki.WaitExactlyOnce(t, 60*time.Second, writers.Stop())
	st := loki.Stats()
	t.Logf("%d entries; %d replayed entries dropped as duplicates by the receiver; %d requests", st.Accepted, st.Duplicates, st.Requests)
}

// TestMemoryCapWhileOutputDown piles up logs while Loki is down and checks
// the shipper's peak resident memory, then that everything arrives.
func TestMemoryCapWhileOutputDown(t *testing.T) {
	size := 100 << 20
	if v := os.Getenv("SHIPPER_PILE_BYTES"); v != "" {
		size, _ = strconv.Atoi(v)
	}
	dir := testkit.TempDir(t, "shipper")
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	loki := lokitest.Start(t, lokitest.Options{CountOnly: true})
	loki.Down()
	lines := 0
	base := loki.Now().Add(-time.Hour)
	for i := range 4 {
		f, err := os.Create(filepath.Join(logs, fmt.Sprintf("app%d.log", i)))
		if err != nil {
			t.Fatal(err)
		}
		w := bufio.NewWriterSize(f, 1<<20)
		for n := 0; n < size/4; {
			lines++
			l := lokitest.Line(lines, base.Add(time.Duration(lines)*time.Microsecond), 1024)
			w.WriteString(l + "\n")
			n += len(l) + 1
		}
		w.Flush()
		f.Close()
	}
	cmd := exec.Command(binary, "--web.listen-address=127.0.0.1:0", "--registry.path="+filepath.Join(dir, "reg.json"),
		"--path="+logs+"/*.log", "--loki.url="+loki.URL+"/loki/api/v1/push", "--memory.limit=16MiB")
	logf, _ := os.Create(filepath.Join(dir, "shipper.log"))
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	time.Sleep(4 * time.Second) // reading stops at the cap; retries go on
	peakDown := vmHWM(t, cmd.Process.Pid)
	if err := loki.Up(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(90 * time.Second)
	for loki.Count() < lines {
		if time.Now().After(deadline) {
			t.Fatalf("receiver has %d of %d lines", loki.Count(), lines)
		}
		time.Sleep(100 * time.Millisecond)
	}
	peak := vmHWM(t, cmd.Process.Pid)
	t.Logf("%d MiB of logs (%d lines): peak RSS %d MiB while Loki was down, %d MiB overall", size>>20, lines, peakDown>>20, peak>>20)
	if loki.Count() != lines {
		t.Errorf("receiver has %d lines, want %d", loki.Count(), lines)
	}
	if peak > 64<<20 {
		t.Errorf("peak RSS %d MiB with a 16 MiB cap: over 64 MiB", peak>>20)
	}
}

func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			f := strings.Fields(l)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

func TestStdoutByDefault(t *testing.T) {
	dir := testkit.TempDir(t, "shipper")
	line := lokitest.Line(1, time.Now(), 150)
	logs := filepath.Join(dir, "logs") // not the directory of the shipper's own output
	os.MkdirAll(logs, 0o755)
	os.WriteFile(filepath.Join(logs, "app.log"), []byte(line+"\n"), 0o644)
	s := startShipper(t, dir, "--path="+logs+"/*.log")
	testkit.Eventually(t, 10*time.Second, "line on standard output", func() error {
		if !strings.Contains(s.Log(), line) {
			return fmt.Errorf("not yet")
		}
		return nil
	})
}
