package monitor

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/outrigger/outrigger/exporters/storage/config"
	"github.com/outrigger/outrigger/exporters/storage/walk"
	"github.com/outrigger/outrigger/internal/promkit"
	"github.com/outrigger/outrigger/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// gateFS is the real filesystem with a gate: while closed, opening a
// directory waits, so a walk can be held in the middle.
type gateFS struct {
	walk.OS
	mu      sync.Mutex
	gate    chan struct{}
	waiting int // callers held at the gate
}

func (g *gateFS) held() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.waiting
}

func (g *gateFS) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gate == nil {
		g.gate = make(chan struct{})
	}
}

func (g *gateFS) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gate != nil {
		close(g.gate)
		g.gate = nil
	}
}

func (g *gateFS) OpenDir(p []byte) (int, error) {
	g.mu.Lock()
	gate := g.gate
	if gate != nil {
		g.waiting++
	}
	g.mu.Unlock()
	if gate != nil {
		<-gate
		g.mu.Lock()
		g.waiting--
		g.mu.Unlock()
	}
	return g.OS.OpenDir(p)
}

type fixture struct {
	mon *Monitor
	url string
}

func settings(interval time.Duration) config.Settings {
	return config.Settings{Interval: interval, Budget: time.Minute, SubdirDepth: 1, TopSubdirs: 5, TopExtensions: 5}
}

// start runs a monitor over targets behind the real promkit server.
func start(t *testing.T, opts Options, targets ...config.Target) *fixture {
	t.Helper()
	if opts.Workers == 0 {
		opts = Options{Workers: 2, MaxConcurrentWalks: 1, MaxHardlinks: 1000, StatfsInterval: time.Second,
			StatfsTimeout: time.Second, FS: opts.FS, Statfs: opts.Statfs}
	}
	mon := New(opts)
	pc := promkit.Config{Service: "storage-exporter", ListenAddresses: []string{"127.0.0.1:0"}, TelemetryPath: "/metrics",
		LogLevel: "warn", LogFormat: "logfmt", ScrapeTimeoutMax: 10 * time.Second, DisableExporterMetrics: true}
	pvc, err := pc.Validate()
	if err != nil {
		t.Fatal(err)
	}
	runner := &promkit.Runner{Namespace: Namespace, Collectors: mon.Collectors()}
	srv, err := promkit.NewServer(pvc, promkit.Options{Namespace: Namespace, Ready: mon.Ready,
		Target: func(*http.Request) (string, promkit.StartFunc, error) { return "default", runner.Start, nil }})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	mon.Start(t.Context(), targets)
	t.Cleanup(func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 10*time.Second)
		defer cancel()
		if err := mon.Stop(ctx); err != nil {
			t.Error(err)
		}
	})
	return &fixture{mon: mon, url: hs.URL}
}

// scrape fetches /metrics uncompressed (see the latency test).
func (f *fixture) scrape(t *testing.T) (map[string]*dto.MetricFamily, []byte, time.Duration) {
	t.Helper()
	begin := time.Now()
	code, body := testkit.Get(t, f.url+"/metrics", http.Header{"Accept-Encoding": {"identity"}})
	took := time.Since(begin)
	if code != http.StatusOK {
		t.Fatalf("/metrics: HTTP %d\n%s", code, body)
	}
	return testkit.Families(t, body), body, took
}

func (f *fixture) waitFirst(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := f.mon.WaitFirst(ctx); err != nil {
		t.Fatal(err)
	}
}

func du(t testing.TB, dir string, args ...string) float64 {
	t.Helper()
	out, err := exec.Command("du", append(args, dir)...).Output()
	if err != nil {
		t.Fatalf("du %v %s: %v", args, dir, err)
	}
	n, err := strconv.ParseFloat(strings.Fields(string(out))[0], 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func smallTree(t *testing.T, files int) string {
	t.Helper()
	root := t.TempDir()
	for i := range files {
		p := filepath.Join(root, fmt.Sprintf("d%d", i%3), fmt.Sprintf("f%d.png", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, make([]byte, 100*i), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func addFile(t *testing.T, root string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(root, "new.bin"), make([]byte, 5000), 0o644); err != nil {
		t.Fatal(err)
	}
}

// While a walk is held in the middle, every scrape answers within 10 ms
// with the previous walk's figures and says a walk is in progress; once the
// walk finishes, scrapes serve the new figures.
func TestScrapeDuringWalkServesLastResultFast(t *testing.T) {
	root := smallTree(t, 30)
	gate := &gateFS{}
	f := start(t, Options{FS: gate}, config.Target{Name: "shots", Dir: root, Settings: settings(100 * time.Millisecond)})
	t.Cleanup(gate.open) // before the monitor stops
	f.waitFirst(t)
	before := du(t, root, "-sb")
	gate.close()
	// Once a walk is held at the gate it is the only one running: nothing
	// it sees can be published until the gate opens.
	testkit.Eventually(t, 10*time.Second, "a walk held at the gate", func() error {
		if gate.held() == 0 {
			return fmt.Errorf("no walk at the gate yet")
		}
		return nil
	})
	addFile(t, root)
	lbl := map[string]string{"path": "shots"}
	// A scrape that waited for the held walk would hang until the gate
	// opens; one served from memory answers in about a millisecond. The
	// median of a round of scrapes must be under 10 ms; a machine busy with
	// other work can slow a round (never because of the walk), so up to five
	// rounds are tried. Scrapes ask for no gzip: under the race detector
	// compressing costs ~10 ms of CPU per scrape, walk or no walk.
	best := time.Hour
	for round := 0; round < 5 && best >= 10*time.Millisecond; round++ {
		var took []time.Duration
		for range 21 {
			fams, _, d := f.scrape(t)
			took = append(took, d)
			if d >= time.Second {
				t.Errorf("a scrape during a walk took %s: it waited for something", d)
			}
			if got := testkit.MustValue(t, fams, "storage_path_apparent_bytes", lbl); got != before {
				t.Fatalf("during the walk apparent bytes = %v, want the last walk's %v", got, before)
			}
			if testkit.MustValue(t, fams, "storage_walk_in_progress", lbl) != 1 {
				t.Fatal("the walk is no longer reported in progress while held")
			}
		}
		slices.Sort(took)
		t.Logf("round %d: 21 scrapes during a walk: median %s, slowest %s", round+1, took[len(took)/2], took[len(took)-1])
		best = min(best, took[len(took)/2])
	}
	if best >= 10*time.Millisecond {
		t.Errorf("best median scrape during a walk took %s, want under 10ms", best)
	}
	if gate.held() == 0 {
		t.Fatal("the walk left the gate while held")
	}
	gate.open()
	after := du(t, root, "-sb")
	testkit.Eventually(t, 10*time.Second, "new figures after the walk", func() error {
		fams, _, _ := f.scrape(t)
		if got, _ := testkit.Value(fams, "storage_path_apparent_bytes", lbl); got != after {
			return fmt.Errorf("apparent bytes %v, want %v", got, after)
		}
		return nil
	})
}

// Every figure of a finished walk, and the filesystem's, as du and df see
// them; the exposition passes promtool.
func TestMetricsMatchDuAndDf(t *testing.T) {
	root := smallTree(t, 50)
	f := start(t, Options{}, config.Target{Name: "shots", Dir: root, Settings: settings(time.Hour)})
	f.waitFirst(t)
	fams, body, _ := f.scrape(t)
	testkit.CheckMetrics(t, body)
	lbl := map[string]string{"path": "shots"}
	for name, want := range map[string]float64{
		"storage_path_apparent_bytes":         du(t, root, "-sb"),
		"storage_path_allocated_bytes":        du(t, root, "-s", "-B1"),
		"storage_path_files":                  50,
		"storage_path_directories":            4,
		"storage_path_other_entries":          0,
		"storage_walk_success":                1,
		"storage_walk_partial":                0,
		"storage_walk_in_progress":            0,
		"storage_filesystem_stat_success":     1,
		"storage_walk_unreadable_directories": 0,
	} {
		if got := testkit.MustValue(t, fams, name, lbl); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if got := testkit.MustValue(t, fams, "storage_walks_total", map[string]string{"path": "shots", "result": "complete"}); got != 1 {
		t.Errorf("walks complete = %v, want 1", got)
	}
	if got := testkit.MustValue(t, fams, "storage_subdir_apparent_bytes", map[string]string{"path": "shots", "subdir": "d1"}); got != du(t, filepath.Join(root, "d1"), "-sb") {
		t.Errorf("subdir d1 apparent bytes %v, want du's", got)
	}
	if got := testkit.MustValue(t, fams, "storage_extension_files", map[string]string{"path": "shots", "extension": ".png"}); got != 50 {
		t.Errorf(".png files %v, want 50", got)
	}
	if age := testkit.MustValue(t, fams, "storage_path_newest_file_age_seconds", lbl); age < 0 || age > 60 {
		t.Errorf("newest file age %vs, want a few seconds", age)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(root, &st); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("df", "-B1", "--output=size,itotal", root).Output()
	if err != nil {
		t.Fatal(err)
	}
	dfFields := strings.Fields(strings.Split(strings.TrimSpace(string(out)), "\n")[1])
	size, _ := strconv.ParseFloat(dfFields[0], 64)
	inodes, _ := strconv.ParseFloat(dfFields[1], 64)
	if got := testkit.MustValue(t, fams, "storage_filesystem_size_bytes", lbl); got != size {
		t.Errorf("filesystem size %v, df says %v", got, size)
	}
	if got := testkit.MustValue(t, fams, "storage_filesystem_files", lbl); got != inodes {
		t.Errorf("filesystem inodes %v, df says %v", got, inodes)
	}
}

// A statfs that never returns (a dead NFS server) does not hold up scrapes:
// they answer at once and say the filesystem check failed.
func TestHungStatfsDoesNotBlockScrapes(t *testing.T) {
	root := smallTree(t, 5)
	hang := make(chan struct{})
	statfs := func(p string, st *unix.Statfs_t) error {
		<-hang
		return unix.Statfs(p, st)
	}
	opts := Options{Workers: 2, MaxConcurrentWalks: 1, MaxHardlinks: 10, StatfsInterval: 20 * time.Millisecond,
		StatfsTimeout: 50 * time.Millisecond, Statfs: statfs}
	f := start(t, opts, config.Target{Name: "nfs", Dir: root, Settings: settings(time.Hour)})
	released := false
	release := func() {
		if !released {
			close(hang)
			released = true
		}
	}
	t.Cleanup(release)
	f.waitFirst(t)
	lbl := map[string]string{"path": "nfs"}
	for range 5 {
		fams, _, took := f.scrape(t)
		if took > time.Second {
			t.Errorf("scrape took %s with statfs hung", took)
		}
		if got := testkit.MustValue(t, fams, "storage_filesystem_stat_success", lbl); got != 0 {
			t.Errorf("stat_success %v with statfs hung, want 0", got)
		}
		if _, ok := testkit.Value(fams, "storage_filesystem_size_bytes", lbl); ok {
			t.Error("a size is reported though statfs never answered")
		}
		testkit.MustValue(t, fams, "storage_path_apparent_bytes", lbl)
		time.Sleep(30 * time.Millisecond)
	}
	release()
	testkit.Eventually(t, 10*time.Second, "statfs answering again", func() error {
		fams, _, _ := f.scrape(t)
		if v, _ := testkit.Value(fams, "storage_filesystem_size_bytes", lbl); v <= 0 {
			return fmt.Errorf("size %v", v)
		}
		return nil
	})
}

// /ready answers 503 with the reason until every path's first walk is done.
func TestReadyAfterFirstWalk(t *testing.T) {
	root := smallTree(t, 5)
	gate := &gateFS{}
	gate.close()
	t.Cleanup(gate.open)
	f := start(t, Options{FS: gate}, config.Target{Name: "logs", Dir: root, Settings: settings(time.Hour)})
	code, body := testkit.Get(t, f.url+"/ready", nil)
	var answer struct{ Status, Reason string }
	if err := json.Unmarshal(body, &answer); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if code != http.StatusServiceUnavailable || !strings.Contains(answer.Reason, `first walk of path "logs"`) {
		t.Errorf("/ready before the first walk: %d %s", code, body)
	}
	gate.open()
	testkit.Eventually(t, 10*time.Second, "ready", func() error {
		if code, body := testkit.Get(t, f.url+"/ready", nil); code != http.StatusOK {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})
}

// A reload keeps unchanged paths (and their results), drops removed ones
// and walks new ones.
func TestUpdateKeepsUnchangedDropsRemovedAddsNew(t *testing.T) {
	a, b, c := smallTree(t, 3), smallTree(t, 4), smallTree(t, 5)
	ta := config.Target{Name: "a", Dir: a, Settings: settings(time.Hour)}
	tb := config.Target{Name: "b", Dir: b, Settings: settings(time.Hour)}
	f := start(t, Options{}, ta, tb)
	f.waitFirst(t)
	f.mon.Update([]config.Target{ta, {Name: "c", Dir: c, Settings: settings(time.Hour)}})
	f.waitFirst(t)
	fams, _, _ := f.scrape(t)
	if got := testkit.MustValue(t, fams, "storage_walks_total", map[string]string{"path": "a", "result": "complete"}); got != 1 {
		t.Errorf("unchanged path a walked %v times, want 1 (kept, not restarted)", got)
	}
	if _, ok := testkit.Value(fams, "storage_path_files", map[string]string{"path": "b"}); ok {
		t.Error("removed path b is still reported")
	}
	if got := testkit.MustValue(t, fams, "storage_path_files", map[string]string{"path": "c"}); got != 5 {
		t.Errorf("new path c files = %v, want 5", got)
	}
}

// A root that disappears fails the walk: the last figures stay, with
// success 0, so alerts on size keep working and a staleness alert can fire.
func TestFailedWalkKeepsLastFiguresAndSaysSo(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "tree")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	addFile(t, root)
	f := start(t, Options{}, config.Target{Name: "x", Dir: root, Settings: settings(50 * time.Millisecond)})
	f.waitFirst(t)
	if err := os.RemoveAll(root); err != nil {
		t.Fatal(err)
	}
	lbl := map[string]string{"path": "x"}
	testkit.Eventually(t, 10*time.Second, "a failed walk", func() error {
		fams, _, _ := f.scrape(t)
		if v, _ := testkit.Value(fams, "storage_walk_success", lbl); v != 0 {
			return fmt.Errorf("success %v", v)
		}
		if v, _ := testkit.Value(fams, "storage_walks_total", map[string]string{"path": "x", "result": "failed"}); v < 1 {
			return fmt.Errorf("failed walks %v", v)
		}
		if v, _ := testkit.Value(fams, "storage_path_files", lbl); v != 1 {
			return fmt.Errorf("last figures gone: files %v", v)
		}
		return nil
	})
}

// A walk over its budget is published as partial.
func TestWalkOverBudgetIsReportedPartial(t *testing.T) {
	root := smallTree(t, 30)
	slow := &slowFS{delay: 20 * time.Millisecond}
	s := settings(time.Hour)
	s.Budget = 30 * time.Millisecond
	f := start(t, Options{FS: slow}, config.Target{Name: "big", Dir: root, Settings: s})
	f.waitFirst(t)
	fams, _, _ := f.scrape(t)
	lbl := map[string]string{"path": "big"}
	if v := testkit.MustValue(t, fams, "storage_walk_partial", lbl); v != 1 {
		t.Errorf("partial = %v, want 1", v)
	}
	if v := testkit.MustValue(t, fams, "storage_walks_total", map[string]string{"path": "big", "result": "partial"}); v != 1 {
		t.Errorf("partial walks = %v, want 1", v)
	}
	if v := testkit.MustValue(t, fams, "storage_path_files", lbl); v >= 30 {
		t.Errorf("a partial walk counted all %v files", v)
	}
}

type slowFS struct {
	walk.OS
	delay time.Duration
}

func (s *slowFS) OpenDir(p []byte) (int, error) {
	time.Sleep(s.delay)
	return s.OS.OpenDir(p)
}
