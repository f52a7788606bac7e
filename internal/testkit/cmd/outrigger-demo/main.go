// Command outrigger-demo starts throwaway PostgreSQL, Redis, RabbitMQ with a
// Celery worker, a real Loki (built by scripts/loki.sh) that the log shipper
// ships a FastAPI-style application log to, Prometheus (loaded with
// deploy/prometheus) and Alertmanager
// (deploy/alertmanager's routes, its receivers pointed at a local webhook
// sink that prints each notification), then every Outrigger daemon found in
// bin/ against them, prints the URLs and waits for Ctrl-C, when it stops
// everything in reverse order. `make demo` runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/outrigger/outrigger/internal/testkit"
)

func main() { os.Exit(run()) }

func run() int {
	root := flag.String("root", ".", "the repository root (holds bin/ and deploy/)")
	flag.Parse()
	// Failures stop the demo (PackageTB panics); cleanups run in reverse at the end.
	d := testkit.NewPackageTB("demo")
	code := 0
	func() {
		defer func() {
			if r := recover(); r != nil {
				fmt.Fprintln(os.Stderr, "demo failed:", r)
				code = 1
			}
		}()
		start(d, *root)
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		fmt.Println("\nEverything is up. Press Ctrl-C to stop it all.")
		<-ctx.Done()
		fmt.Println("\nstopping...")
	}()
	d.Close()
	return code
}

// port returns want when it is free on loopback, else any free port.
func port(t testkit.TB, want int) int {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", want))
	if err == nil {
		l.Close()
		return want
	}
	return testkit.FreePort(t)
}

type daemon struct {
	name string
	port int
	args func(s *services) []string
	// datastore is the scrape label that links the exporter to the server it
	// watches, for Alertmanager's inhibitions (deploy/prometheus/outrigger-scrape.yml).
	datastore string
}

// job is the daemon's scrape job: the one the upstream mixins select
// (deploy/prometheus/outrigger-scrape.yml), "redis" for redis-exporter.
func (d daemon) job() string {
	if d.name == "redis-exporter" {
		return "redis"
	}
	return d.name
}

type services struct {
	pg      *testkit.Postgres
	redis   *testkit.Redis
	loki    *testkit.Loki
	rabbit  *testkit.RabbitMQ
	workDir string
}

func start(t testkit.TB, root string) {
	fmt.Println("starting PostgreSQL, Redis, RabbitMQ with a Celery worker, Loki, Prometheus and Alertmanager on free loopback ports...")
	s := &services{workDir: testkit.TempDir(t, "demo")}
	s.pg = testkit.StartPostgres(t, testkit.PostgresOptions{MaxConnections: 50, StatStatements: true})
	s.redis = testkit.StartRedis(t, testkit.RedisOptions{Args: []string{"--maxmemory", "64mb"}})
	s.loki = testkit.StartLoki(t, testkit.LokiOptions{})
	extra := startExtras(t, root, s)

	daemons := []daemon{
		{"postgres-exporter", 9187, func(s *services) []string { return []string{"--postgres.dsn=" + s.pg.DSN("postgres")} }, "postgres"},
		{"redis-exporter", 9121, func(s *services) []string { return []string{"--redis.addr=redis://" + s.redis.Addr} }, "redis"},
		{"celery-exporter", 9808, func(s *services) []string {
			return []string{"--broker-url=" + s.rabbit.URL(), "--queue=celery", "--queue=reports"}
		}, "rabbitmq"},
		{"litellm-exporter", 9842, func(s *services) []string { return []string{"--database-url=" + s.pg.DSN("litellm")} }, "postgres"},
		{"storage-exporter", 9843, func(s *services) []string {
			return []string{"--path=screenshots=" + filepath.Join(s.workDir, "screenshots")}
		}, ""},
		{"log-shipper", 9844, func(s *services) []string {
			return []string{"--path=" + filepath.Join(s.workDir, "logs", "*.log"), "--registry.path=" + filepath.Join(s.workDir, "registry.json"),
				"--loki.url=" + s.loki.PushURL()}
		}, ""},
	}
	var targets []string
	var urls []string
	for _, d := range daemons {
		bin, _ := filepath.Abs(filepath.Join(root, "bin", d.name))
		if _, err := os.Stat(bin); err != nil {
			continue
		}
		p := port(t, d.port)
		dm := startDaemon(t, bin, p, d.args(s)...)
		labels := ""
		if d.datastore != "" {
			labels = fmt.Sprintf("labels: {datastore: %s}, ", d.datastore)
		}
		targets = append(targets, fmt.Sprintf("  - job_name: %s\n    static_configs: [{%stargets: ['127.0.0.1:%d']}]\n", d.job(), labels, p))
		urls = append(urls, fmt.Sprintf("  %-18s %s/metrics", d.name, dm))
	}
	rules, _ := filepath.Glob(filepath.Join(root, "deploy", "prometheus", "rules", "*.yml"))
	var ruleLines []string
	for _, r := range rules {
		if strings.HasSuffix(r, "_test.yml") {
			continue
		}
		abs, _ := filepath.Abs(r)
		ruleLines = append(ruleLines, fmt.Sprintf("  - %q", abs))
	}
	cfg := "global: {scrape_interval: 5s, evaluation_interval: 5s}\n"
	if len(ruleLines) > 0 {
		cfg += "rule_files:\n" + strings.Join(ruleLines, "\n") + "\n"
	}
	sink, am := startAlerting(t, root)
	cfg += fmt.Sprintf("alerting:\n  alertmanagers:\n    - static_configs: [{targets: ['%s']}]\n", am.Addr)
	cfg += "scrape_configs:\n" + strings.Join(targets, "")
	prom := testkit.StartPrometheus(t, testkit.PrometheusOptions{Config: cfg})

	fmt.Println("\nservices:")
	fmt.Printf("  %-18s %s (user postgres)\n", "PostgreSQL", s.pg.DSN("postgres"))
	fmt.Printf("  %-18s redis://%s\n", "Redis", s.redis.Addr)
	for _, e := range extra {
		fmt.Println("  " + e)
	}
	fmt.Printf("  %-18s %s (the shipper sends it logs/api.log; recent lines: %s)\n", "Loki", s.loki.URL, logQLURL(s.loki))
	fmt.Printf("  %-18s %s (targets: %s/targets, alerts: %s/alerts)\n", "Prometheus", prom.URL, prom.URL, prom.URL)
	fmt.Printf("  %-18s %s (deploy/alertmanager's routes; every receiver posts to the sink)\n", "Alertmanager", am.URL)
	fmt.Printf("  %-18s %s (prints each notification below)\n", "webhook sink", sink.URL)
	fmt.Println("\ndaemons:")
	sort.Strings(urls)
	for _, u := range urls {
		fmt.Println(u)
	}
	if len(urls) == 0 {
		fmt.Println("  (none built yet: run `make build`)")
	}
}

func startDaemon(t testkit.TB, bin string, port int, args ...string) string {
	dir := t.TempDir()
	p := &testkit.Process{Name: filepath.Base(bin), Path: bin, Dir: dir, LogPath: filepath.Join(dir, "daemon.log"),
		Args: append([]string{fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port)}, args...)}
	p.Start(t)
	t.Cleanup(func() { p.Stop(t) })
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return url
		}
		if !p.Running() {
			t.Fatalf("%s exited at start:\n%s", filepath.Base(bin), p.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not listen on %d:\n%s", filepath.Base(bin), port, p.Log())
	return ""
}
