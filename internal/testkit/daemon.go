package testkit

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Build compiles the main package in dir (e.g. "./cmd/postgres-exporter",
// relative to the test's package) into a temp dir and returns the binary.
func Build(t TB, pkg string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// Daemon is one of our binaries running as a child process for an
// end-to-end test, listening on a free loopback port.
type Daemon struct {
	*Process
	URL string // http://127.0.0.1:port
}

// StartDaemon runs bin with args plus --web.listen-address on a free port and
// waits until /health answers (any status: auth may be on).
func StartDaemon(t TB, bin string, args ...string) *Daemon {
	t.Helper()
	return StartDaemonEnv(t, bin, nil, args...)
}

// StartDaemonEnv is StartDaemon with extra environment variables
// ("NAME=value"), e.g. an incumbent's DATA_SOURCE_NAME.
func StartDaemonEnv(t TB, bin string, env []string, args ...string) *Daemon {
	t.Helper()
	port := FreePort(t)
	dir := t.TempDir()
	d := &Daemon{URL: fmt.Sprintf("http://127.0.0.1:%d", port)}
	d.Process = &Process{Name: filepath.Base(bin), Path: bin, Dir: dir, Env: env, LogPath: filepath.Join(dir, "daemon.log"),
		Args: append([]string{fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port)}, args...)}
	t.Cleanup(func() {
		d.dumpOnFailure(t)
		d.Stop(t)
	})
	d.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := waitTCP(ctx, d.Process, fmt.Sprintf("127.0.0.1:%d", port)); err != nil {
		t.Fatalf("%v\n%s", err, d.Log())
	}
	return d
}

// Get fetches a path of the daemon.
func (d *Daemon) Get(t TB, path string, header http.Header) (int, []byte) {
	t.Helper()
	return Get(t, d.URL+path, header)
}

// BasicAuthWebConfig writes an exporter-toolkit web config requiring basic
// auth for user/password and returns its path.
func BasicAuthWebConfig(t TB, user, password string) string {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "web-config.yml")
	if err := os.WriteFile(path, []byte(fmt.Sprintf("basic_auth_users:\n  %s: %s\n", user, hash)), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// HelpListsEnvVars runs `bin --help` and fails for every flag line that does
// not name its environment variable.
func HelpListsEnvVars(t TB, bin string) string {
	t.Helper()
	out, _ := exec.Command(bin, "--help").CombinedOutput()
	help := string(out)
	// kingpin prints each flag, then its help, then "($ENV)" at the end of it.
	blocks := strings.Split(help, "\n      --")
	for _, b := range blocks[1:] {
		name := strings.TrimPrefix(strings.SplitN(strings.Fields(b)[0], "=", 2)[0], "[no-]")
		// One-shot actions must not come from the environment: set in a
		// container's env, they would stop the daemon from serving.
		switch name {
		case "help", "version", "web.healthcheck", "config.check":
			continue
		}
		if !strings.Contains(b, "($") {
			t.Errorf("--help: flag %s does not name its environment variable", name)
		}
	}
	if len(blocks) < 5 {
		t.Errorf("--help lists too few flags:\n%s", help)
	}
	return help
}
