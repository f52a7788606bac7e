package collector

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/outrigger/outrigger/exporters/redis/config"
	"github.com/outrigger/outrigger/internal/testkit"
)

// scrapeTimed fetches /metrics with a 1 s timeout header and returns the
// families and how long the answer took.
func scrapeTimed(t *testing.T, url string) (map[string]float64, time.Duration) {
	t.Helper()
	start := time.Now()
	code, body := testkit.Get(t, url, timeoutHeader("1"))
	took := time.Since(start)
	if code != 200 {
		t.Fatalf("GET %s: %d %s", url, code, body)
	}
	fams := testkit.Families(t, body)
	up, _ := testkit.Value(fams, "redis_up", nil)
	info, _ := testkit.Value(fams, "redis_scrape_collector_success", map[string]string{"collector": "info"})
	return map[string]float64{"up": up, "info_success": info}, took
}

// TestStalledRedisAnswersInTime: a CLIENT PAUSEd or SIGSTOPped server makes
// a scrape with a 1 s timeout header answer in under 1 s with redis_up 0, and
// the next scrape after the stall says redis_up 1 again, over still one
// connection.
func TestStalledRedisAnswersInTime(t *testing.T) {
	r := testkit.StartRedis(t, testkit.RedisOptions{})
	ts := NewTargets(t.Context(), validate(t, r, "", nil), nil)
	defer ts.Close()
	hs := server(t, ts)
	url := hs.URL + "/metrics"

	if got, _ := scrapeTimed(t, url); got["up"] != 1 {
		t.Fatalf("healthy server: %v", got)
	}
	stalls := []struct {
		name          string
		stall, resume func()
	}{
		{"CLIENT PAUSE 5000", func() { r.MustDo(t, "CLIENT", "PAUSE", "5000") }, func() { r.MustDo(t, "CLIENT", "UNPAUSE") }},
		{"SIGSTOP", func() { r.Process().Signal(syscall.SIGSTOP) }, func() { r.Process().Signal(syscall.SIGCONT) }},
	}
	for _, s := range stalls {
		t.Run(s.name, func(t *testing.T) {
			s.stall()
			resumed := false
			defer func() {
				if !resumed {
					s.resume()
				}
			}()
			for i := range 3 {
				got, took := scrapeTimed(t, url)
				if took >= time.Second {
					t.Errorf("scrape %d during the stall took %v, want < 1s", i, took)
				}
				if got["up"] != 0 || got["info_success"] != 0 {
					t.Errorf("scrape %d during the stall: %v, want redis_up 0 and info collector failed", i, got)
				}
			}
			s.resume()
			resumed = true
			testkit.Eventually(t, 5*time.Second, "redis_up 1 after the stall", func() error {
				if got, _ := scrapeTimed(t, url); got["up"] != 1 {
					return fmt.Errorf("%v", got)
				}
				return nil
			})
			testkit.Eventually(t, 5*time.Second, "one exporter connection", func() error {
				if n := ourConnections(t, r); n != 1 {
					return fmt.Errorf("%d connections named like the exporter", n)
				}
				return nil
			})
		})
	}
}

// TestOneConnectionUnderLoad: concurrent scrapes, readiness checks and the
// key-group worker share one connection.
func TestOneConnectionUnderLoad(t *testing.T) {
	r := testkit.StartRedis(t, testkit.RedisOptions{})
	r.MustDo(t, "DEBUG", "POPULATE", "20000", "cache")
	v := validate(t, r, "", func(c *config.Target) { c.KeyGroups = []config.KeyGroup{{Pattern: "cache:*"}} })
	ts := NewTargets(t.Context(), v, nil)
	defer ts.Close()
	hs := server(t, ts)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			code, _ := testkit.Get(t, hs.URL+"/metrics", nil)
			if code != 200 {
				t.Errorf("status %d", code)
			}
			if code, _ := testkit.Get(t, hs.URL+"/ready", nil); code != 200 {
				t.Errorf("ready status %d", code)
			}
		})
	}
	wg.Wait()
	if n := ourConnections(t, r); n != 1 {
		t.Errorf("%d exporter connections, want 1", n)
	}
	if got := connectionsReceived(t, r); got > 3 {
		t.Errorf("the server accepted %v connections (testkit's own included); the exporter reconnected", got)
	}
}

func connectionsReceived(t *testing.T, r *testkit.Redis) float64 {
	t.Helper()
	v, _ := infoOf(t, r).Float("total_connections_received")
	// Every testkit Do (including this INFO and the CLIENT LIST) is a connection.
	return v - float64(strings.Count(r.MustDo(t, "CLIENT", "LIST"), "\n")) - 1
}

// TestMultiTarget scrapes two servers named in a config file, one with a
// password read from a file, through /scrape?target=.
func TestMultiTarget(t *testing.T) {
	a := testkit.StartRedis(t, testkit.RedisOptions{})
	b := testkit.StartRedis(t, testkit.RedisOptions{Password: "s3cret"})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "b.pw"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "targets.yml")
	yml := fmt.Sprintf("targets:\n  - name: a\n    addr: %s\n  - name: b\n    addr: redis://%s/0\n    password_file: b.pw\n", a.Addr, b.Addr)
	if err := os.WriteFile(file, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	ts := NewTargets(context.WithoutCancel(t.Context()), validate(t, a, file, nil), nil)
	defer ts.Close()
	hs := server(t, ts)
	for name, r := range map[string]*testkit.Redis{"a": a, "b": b, "redis://" + b.Addr + "/0": b} {
		code, body := testkit.Get(t, hs.URL+"/scrape?target="+name, nil)
		if code != 200 {
			t.Fatalf("target %s: %d %s", name, code, body)
		}
		fams := testkit.Families(t, body)
		if up := testkit.MustValue(t, fams, "redis_up", nil); up != 1 {
			t.Errorf("target %s: redis_up %v", name, up)
		}
		testkit.MustValue(t, fams, "redis_instance_info", map[string]string{"tcp_port": fmt.Sprint(r.Port)})
		if strings.Contains(string(body), "s3cret") {
			t.Error("the password shows in the exposition")
		}
	}
	if code, body := testkit.Get(t, hs.URL+"/scrape?target=redis://evil:6379", nil); code != 400 || strings.Contains(string(body), "s3cret") {
		t.Errorf("unknown target: %d %s", code, body)
	}
}
