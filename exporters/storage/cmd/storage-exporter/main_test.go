package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/outrigger/outrigger/exporters/storage/internal/treegen"
	"github.com/outrigger/outrigger/internal/testkit"
)

// binary is the storage-exporter built once for the whole test binary.
var binary string

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "outrigger-storage-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil { // run as nobody too
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	binary = filepath.Join(dir, "storage-exporter")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building storage-exporter:", err)
		return 1
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			return 1
		}
	}
	return code
}

// exporter is the binary running as a daemon on a free port.
type exporter struct{ *testkit.Daemon }

func startExporter(t *testing.T, args ...string) *exporter {
	t.Helper()
	return &exporter{testkit.StartDaemon(t, binary, append([]string{"--log.level=debug"}, args...)...)}
}

func (e *exporter) waitReady(t *testing.T) {
	t.Helper()
	testkit.Eventually(t, 60*time.Second, "ready", func() error {
		if code, body := e.Get(t, "/ready", nil); code != http.StatusOK {
			return fmt.Errorf("/ready %d %s", code, body)
		}
		return nil
	})
}

func (e *exporter) metrics(t *testing.T) []byte {
	t.Helper()
	code, body := e.Get(t, "/metrics", nil)
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	return body
}

// tree generates a tree readable by every user, removed at cleanup.
func tree(t *testing.T, files int) (string, *treegen.Manifest) {
	t.Helper()
	root := testkit.TempDir(t, "storage-tree")
	man, err := treegen.Generate(t.Context(), root, treegen.Spec{Files: files, Extras: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(man.Locked, 0o755) }) // so that RemoveAll can empty it
	return root, man
}

// du runs GNU du, as cred when set, and returns its total (du exits 1 when
// it met an unreadable directory, but still prints the total).
func du(t *testing.T, cred *syscall.Credential, dir string, args ...string) float64 {
	t.Helper()
	cmd := exec.Command("du", append(args, dir)...)
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("du: %v", err)
	}
	n, err := strconv.ParseFloat(strings.Fields(out.String())[0], 64)
	if err != nil {
		t.Fatalf("du output %q: %v", out.String(), err)
	}
	return n
}

func TestHelpListsEveryFlagWithItsEnvironmentVariable(t *testing.T) {
	help := testkit.HelpListsEnvVars(t, binary)
	for _, f := range []string{"path", "config.file", "config.check", "once", "walk.interval", "walk.budget",
		"walk.subdir-depth", "walk.top-subdirs", "walk.top-extensions", "walk.workers", "walk.max-concurrent",
		"walk.max-hardlinks", "statfs.interval", "statfs.timeout", "web.listen-address", "web.config.file",
		"web.telemetry-path", "log.level", "log.format"} {
		if !strings.Contains(help, "--"+f) && !strings.Contains(help, "--[no-]"+f) {
			t.Errorf("--help does not list --%s", f)
		}
	}
}

// goldenMask keeps the values that follow from the generated tree alone
// (counts, the regular files' bytes, the fixed oldest mtime, the walk's
// outcome); sizes that include directories or depend on the filesystem, ages,
// durations, the temporary directory, the build and which subdirectories
// make the top N (ranked by sizes that include directories') are masked.
var goldenMask = testkit.Mask{
	Keep: regexp.MustCompile(`^storage_(path_(files|directories|other_entries|oldest_file_timestamp_seconds|info)|` +
		`extension_(files|apparent_bytes)|walk_(success|partial|in_progress|stat_errors|vanished_entries|directory_cycles|hardlink_set_full)|` +
		`walks_total|filesystem_stat_success)$`),
	Labels: []string{"directory", "subdir"},
	Drop:   regexp.MustCompile(`^go_`),
}

// The daemon end to end: /health, /ready, a lint-clean /metrics whose
// figures equal du's and whose families are the golden file's, a config file re-read on SIGHUP (a broken one is
// refused and the daemon keeps going).
func TestDaemonServesDuExactFiguresAndReloadsOnSIGHUP(t *testing.T) {
	root, man := tree(t, 3000)
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "x.log"), make([]byte, 1234), 0o644); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(t.TempDir(), "storage.yml")
	writeConfig := func(body string) {
		if err := os.WriteFile(cfgFile, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeConfig(fmt.Sprintf("paths:\n  - name: shots\n    path: %s\n    subdir_depth: 2\n", root))
	e := startExporter(t, "--config.file="+cfgFile, "--walk.interval=1h")

	code, body := e.Get(t, "/health", nil)
	var health map[string]string
	if err := json.Unmarshal(body, &health); err != nil || code != http.StatusOK || health["status"] != "healthy" {
		t.Errorf("/health: %d %s", code, body)
	}
	e.waitReady(t)
	metrics := e.metrics(t)
	testkit.CheckMetrics(t, metrics)
	testkit.GoldenExposition(t, "storage-exporter.golden.prom", metrics, goldenMask)
	fams := testkit.Families(t, metrics)
	shots := map[string]string{"path": "shots"}
	for name, want := range map[string]float64{
		"storage_path_apparent_bytes":                du(t, nil, root, "-sb"),
		"storage_path_allocated_bytes":               du(t, nil, root, "-s", "-B1"),
		"storage_path_files":                         float64(man.Files),
		"storage_path_directories":                   float64(man.Dirs),
		"storage_path_other_entries":                 float64(man.Others),
		"storage_path_oldest_file_timestamp_seconds": float64(man.Oldest.Unix()),
		"storage_walk_success":                       1,
		"storage_walk_partial":                       0,
		"storage_filesystem_stat_success":            1,
	} {
		if got := testkit.MustValue(t, fams, name, shots); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}

	writeConfig(fmt.Sprintf("paths:\n  - name: shots\n    path: %s\n  - name: logs\n    path: %s\n", root, other))
	e.Signal(syscall.SIGHUP)
	testkit.Eventually(t, 20*time.Second, "the new path after SIGHUP", func() error {
		fams := testkit.Families(t, e.metrics(t))
		if v, ok := testkit.Value(fams, "storage_path_apparent_bytes", map[string]string{"path": "logs"}); !ok || v != du(t, nil, other, "-sb") {
			return fmt.Errorf("logs apparent bytes %v (present %v)", v, ok)
		}
		return nil
	})
	writeConfig("paths: [this is not valid")
	e.Signal(syscall.SIGHUP)
	time.Sleep(300 * time.Millisecond)
	if !e.Running() {
		t.Fatal("the exporter stopped after SIGHUP with a broken config file")
	}
	fams = testkit.Families(t, e.metrics(t))
	testkit.MustValue(t, fams, "storage_path_files", map[string]string{"path": "logs"})
	if !strings.Contains(e.Log(), "reloading configuration failed") {
		t.Error("a refused reload is not logged")
	}
}

// A real unreadable directory: root reads a chmod 000 directory, so the
// exporter and du both run as nobody. Figures still equal du's, and the
// directory is counted.
func TestUnreadableDirectoryAsNobodyMatchesDu(t *testing.T) {
	root, man := tree(t, 2000)
	if err := os.Chmod(man.Locked, 0); err != nil {
		t.Fatal(err)
	}
	nobody := credential(t, "nobody")
	cmd := exec.Command(binary, "--once", "--path=shots="+root)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: nobody}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("--once as nobody: %v\n%s", err, stderr.String())
	}
	testkit.CheckMetrics(t, stdout.Bytes())
	fams := testkit.Families(t, stdout.Bytes())
	shots := map[string]string{"path": "shots"}
	for name, want := range map[string]float64{
		"storage_path_apparent_bytes":         du(t, nobody, root, "-sb"),
		"storage_path_allocated_bytes":        du(t, nobody, root, "-s", "-B1"),
		"storage_walk_unreadable_directories": 1,
		"storage_path_files":                  float64(man.Files - 2), // the two inside the locked directory
		"storage_walk_success":                1,
	} {
		if got := testkit.MustValue(t, fams, name, shots); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if du(t, nobody, root, "-sb") == du(t, nil, root, "-sb") {
		t.Error("the locked directory was readable to nobody: the test proves nothing")
	}
}

func credential(t *testing.T, name string) *syscall.Credential {
	t.Helper()
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatalf("user %s: %v", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

func TestBasicAuthFromWebConfigFile(t *testing.T) {
	webCfg := testkit.BasicAuthWebConfig(t, "prometheus", "scrape-pw")
	e := startExporter(t, "--path=tmp="+t.TempDir(), "--web.config.file="+webCfg)
	if code, _ := e.Get(t, "/metrics", nil); code != http.StatusUnauthorized {
		t.Errorf("unauthenticated /metrics: %d, want 401", code)
	}
	auth := http.Header{"Authorization": {"Basic " + basic("prometheus", "scrape-pw")}}
	if code, body := e.Get(t, "/metrics", auth); code != http.StatusOK || !bytes.Contains(body, []byte("storage_")) {
		t.Errorf("authenticated /metrics: %d", code)
	}
	if code, _ := e.Get(t, "/metrics", http.Header{"Authorization": {"Basic " + basic("prometheus", "wrong")}}); code != http.StatusUnauthorized {
		t.Errorf("wrong password: %d, want 401", code)
	}
	// The container healthcheck probes the daemon (a 401 means alive) and
	// walks nothing itself.
	addr := strings.TrimPrefix(e.URL, "http://")
	if out, err := exec.Command(binary, "--web.healthcheck", "--web.listen-address="+addr, "--web.config.file="+webCfg,
		"--path=tmp=/nonexistent").CombinedOutput(); err != nil {
		t.Errorf("--web.healthcheck against the running daemon: %v\n%s", err, out)
	}
}

func basic(user, pw string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pw))
}

// Paths from the environment, one per line, as a compose file would give them.
func TestPathsFromEnvironment(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	cmd := exec.Command(binary, "--config.check")
	cmd.Env = append(os.Environ(), "STORAGE_EXPORTER_PATH=a="+a+"\nb="+b)
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "configuration OK: 2 paths" {
		t.Errorf("--config.check with two paths in the environment: %v %s", err, out)
	}
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yml")
	bad := filepath.Join(dir, "bad.yml")
	os.WriteFile(good, []byte("paths:\n  - name: logs\n    path: /app/logs\n"), 0o644)
	os.WriteFile(bad, []byte("paths:\n  - name: logs\n    path: /app/logs\n    budgett: 1m\n"), 0o644)
	cases := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"--config.check", "--config.file=" + good}, 0, "configuration OK: 1 paths"},
		{[]string{"--config.check", "--config.file=" + bad}, 2, "line 4: field budgett not found"},
		{[]string{"--config.check"}, 2, "nothing to watch"},
		{[]string{"--config.check", "--path=x=/x", "--walk.interval=10ms"}, 2, "--walk.interval 10ms: must be at least 1s"},
		{[]string{"--no-such-flag"}, 2, "unknown long flag '--no-such-flag'"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, binary, tc.args...).CombinedOutput()
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code || !strings.Contains(string(out), tc.out) {
				t.Errorf("exit %d, output %q; want %d and %q", code, out, tc.code, tc.out)
			}
		})
	}
}
