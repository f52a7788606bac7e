package exporter

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	"github.com/outrigger/outrigger/exporters/celery/config"
	"github.com/outrigger/outrigger/internal/promkit"
	"github.com/outrigger/outrigger/internal/testkit"
)

// One RabbitMQ node serves the whole package: it takes seconds to start.
var (
	rabbitOnce sync.Once
	rabbit     *testkit.RabbitMQ
	pkgTB      = testkit.NewPackageTB("exporter")
)

func sharedRabbitMQ(t *testing.T) *testkit.RabbitMQ {
	t.Helper()
	rabbitOnce.Do(func() { rabbit = testkit.StartRabbitMQ(pkgTB, testkit.RabbitMQOptions{Management: true}) })
	if rabbit == nil {
		t.Fatal("the shared RabbitMQ did not start")
	}
	return rabbit
}

func TestMain(m *testing.M) {
	code := m.Run()
	pkgTB.Close()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// testBuckets are state.DefaultBuckets, for both histograms.
const testBuckets = ".005,.01,.025,.05,.075,.1,.25,.5,.75,1,2.5,5,7.5,10"

func testConfig(t *testing.T, brokerURL string, mut func(*config.Config)) config.ValidatedConfig {
	t.Helper()
	c := config.Config{BrokerURL: brokerURL, DiscoverQueues: true, FanoutPrefix: true,
		PollInterval: 200 * time.Millisecond, DiscoverInterval: 500 * time.Millisecond, SilenceTimeout: 30 * time.Second, MaxBackoff: time.Second,
		TaskCapacity: 10000, TaskTTL: time.Hour, WorkerExpiry: 10 * time.Minute,
		RuntimeBuckets: testBuckets, WaitBuckets: testBuckets}
	if mut != nil {
		mut(&c)
	}
	vc, err := c.Validate()
	if err != nil {
		t.Fatal(err)
	}
	return vc
}

func startExporter(t *testing.T, vc config.ValidatedConfig) *Exporter {
	t.Helper()
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	e := New(vc, log)
	e.Start(t.Context())
	t.Cleanup(e.Stop)
	return e
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// scrape runs a collection as a scrape would and returns the families.
func scrape(t *testing.T, e *Exporter) map[string]*dto.MetricFamily {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(promkit.Metrics(e.Runner().Start(ctx).Wait(ctx)))
	fams, err := reg.Gather()
	if err != nil {
		t.Fatalf("gathering: %v", err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

func value(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	v, _ := testkit.Value(fams, name, labels)
	return v
}

// expect lists series and the values they must have.
type expect []struct {
	name   string
	labels map[string]string
	want   float64
}

func (ex expect) check(fams map[string]*dto.MetricFamily) error {
	var bad []string
	for _, x := range ex {
		got, ok := sum(fams, x.name, x.labels)
		if !ok || got != x.want {
			bad = append(bad, fmt.Sprintf("%s%v = %v (found %v), want %v", x.name, x.labels, got, ok, x.want))
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return fmt.Errorf("\n%s", strings.Join(bad, "\n"))
	}
	return nil
}

// sum adds up every series of name whose labels include labels.
func sum(fams map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	total, found := 0.0, false
	for _, m := range fams[name].GetMetric() {
		match := true
		for k, v := range labels {
			has := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == k && lp.GetValue() == v {
					has = true
				}
			}
			match = match && has
		}
		if match {
			found = true
			total += m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
		}
	}
	return total, found
}

func q(name string) map[string]string { return map[string]string{"queue_name": name} }

// publishBacklog sends 10 tasks with priorities 0-9 and 3 with a countdown to
// a queue nobody consumes.
func publishBacklog(t *testing.T, opts testkit.CeleryOptions, queue string) int {
	t.Helper()
	var tasks []testkit.CeleryTask
	for p := 0; p <= 9; p++ {
		tasks = append(tasks, testkit.CeleryTask{Name: testkit.TaskAdd, Args: []any{p, p}, Queue: queue, Priority: testkit.Priority(p)})
	}
	for range 3 {
		tasks = append(tasks, testkit.CeleryTask{Name: testkit.TaskAdd, Args: []any{1, 1}, Queue: queue, Countdown: 600})
	}
	testkit.SendTasks(t, opts, tasks...)
	return len(tasks)
}

func TestRedisQueueLengthCountsEveryPriorityAndCountdown(t *testing.T) {
	r := testkit.StartRedis(t, testkit.RedisOptions{})
	e := startExporter(t, testConfig(t, r.URL(0), nil))
	n := publishBacklog(t, testkit.CeleryOptions{BrokerURL: r.URL(0)}, "backlog")
	// The queue is found from kombu's bindings: nothing names it here.
	testkit.Eventually(t, 90*time.Second, "celery_queue_length counts every priority list", func() error {
		return expect{{"celery_queue_length", q("backlog"), float64(n)}, {"celery_queue_unacked_messages", q("backlog"), 0}}.check(scrape(t, e))
	})
	testkit.Eventually(t, 10*time.Second, "the oldest message ages", func() error {
		if age := value(scrape(t, e), "celery_queue_oldest_message_age_seconds", q("backlog")); age < 0.5 {
			return fmt.Errorf("age %v", age)
		}
		return nil
	})
}

func TestRedisQueueLengthWithKeyPrefixAndOwnPrioritySteps(t *testing.T) {
	r := testkit.StartRedis(t, testkit.RedisOptions{})
	steps := []any{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	e := startExporter(t, testConfig(t, r.URL(2), func(c *config.Config) {
		c.GlobalKeyPrefix, c.PrioritySteps = "pfx:", "0,1,2,3,4,5,6,7,8,9"
	}))
	n := publishBacklog(t, testkit.CeleryOptions{BrokerURL: r.URL(2),
		TransportOptions: map[string]any{"global_keyprefix": "pfx:", "priority_steps": steps}}, "pq")
	testkit.Eventually(t, 90*time.Second, "celery_queue_length with a key prefix", func() error {
		return expect{{"celery_queue_length", q("pq"), float64(n)}}.check(scrape(t, e))
	})
}

func TestRabbitMQQueueLengthCountsEveryPriorityAndCountdown(t *testing.T) {
	rmq := sharedRabbitMQ(t)
	e := startExporter(t, testConfig(t, rmq.URL(), func(c *config.Config) { c.Queues = []string{"rbacklog"} }))
	n := publishBacklog(t, testkit.CeleryOptions{BrokerURL: rmq.URL()}, "rbacklog")
	testkit.Eventually(t, 30*time.Second, "celery_queue_length on RabbitMQ", func() error {
		return expect{{"celery_queue_length", q("rbacklog"), float64(n)}, {"celery_active_consumer_count", q("rbacklog"), 0}}.check(scrape(t, e))
	})
	testkit.Eventually(t, 10*time.Second, "the oldest message ages (from task-sent)", func() error {
		if age := value(scrape(t, e), "celery_queue_oldest_message_age_seconds", q("rbacklog")); age < 0.5 {
			return fmt.Errorf("age %v", age)
		}
		return nil
	})
}
