package deploy

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/outrigger/outrigger/internal/testkit"
)

// daemonPackages are the main packages of every daemon, relative to deploy/.
var daemonPackages = map[string]string{
	"postgres-exporter": "../exporters/postgres/cmd/postgres-exporter",
	"redis-exporter":    "../exporters/redis/cmd/redis-exporter",
	"celery-exporter":   "../exporters/celery/cmd/celery-exporter",
	"litellm-exporter":  "../exporters/litellm-cost/cmd/litellm-exporter",
	"storage-exporter":  "../exporters/storage/cmd/storage-exporter",
	"log-shipper":       "../shipper/cmd/log-shipper",
}

// daemonBinary returns bin/<name> when `make build` made it, else builds it.
func daemonBinary(t testing.TB, name string) string {
	t.Helper()
	if p, err := filepath.Abs(filepath.Join("..", "bin", name)); err == nil {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return testkit.Build(t, daemonPackages[name])
}

// TestFullStack runs the stack the way a user does: real PostgreSQL, Redis,
// RabbitMQ with a Celery worker, every daemon, and Prometheus loaded with
// deploy/prometheus as shipped (targets pointed at loopback), sending to
// Alertmanager with deploy/alertmanager's routes, whose receivers post to a
// sink in the test. It makes the stack's four headline alerts fire, then
// stops PostgreSQL and checks that only its down alert reaches a person,
// and that its resolution does once PostgreSQL is back.
func TestFullStack(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 12*time.Minute)
	defer cancel()

	pg := testkit.StartPostgres(t, testkit.PostgresOptions{MaxConnections: 50, StatStatements: true})
	redis := testkit.StartRedis(t, testkit.RedisOptions{Args: []string{"--maxmemory", "256mb"}})
	rabbit := testkit.StartRabbitMQ(t, testkit.RabbitMQOptions{Management: true})
	// The worker runs on Redis, as in the agent studio's stack; the backlog
	// piles up on RabbitMQ, watched by a second celery-exporter in the same job.
	celery := testkit.CeleryOptions{BrokerURL: redis.URL(0), Hostname: "worker1@fullstack", Queues: []string{"celery"}}
	testkit.StartCeleryWorker(t, celery)
	celeryAMQP := testkit.CeleryOptions{BrokerURL: rabbit.URL()}

	// LiteLLM's tables, with a key at 85 % of its budget.
	pg.PSQL(t, "postgres", "CREATE DATABASE litellm")
	schema, err := os.ReadFile("../exporters/litellm-cost/testdata/schema.sql")
	if err != nil {
		t.Fatal(err)
	}
	pg.PSQL(t, "litellm", string(schema))
	pg.PSQL(t, "litellm", `INSERT INTO "LiteLLM_VerificationToken" (token, key_alias, spend, max_budget, budget_duration, budget_reset_at)
		VALUES ('hashed-token-1', 'agent-prod', 85, 100, '30d', now() + interval '10 days'),
		       ('hashed-token-2', 'agent-dev', 5, 100, '30d', now() + interval '10 days')`)
	pg.PSQL(t, "litellm", `INSERT INTO "LiteLLM_DailyUserSpend" (id, user_id, date, api_key, model, model_group, custom_llm_provider,
		  prompt_tokens, completion_tokens, spend, api_requests, successful_requests, failed_requests, updated_at)
		VALUES ('d1', 'u1', current_date, 'hashed-token-1', 'gpt-4o', 'gpt-4o', 'openai', 12000, 3000, 12.5, 100, 98, 2, now());
		INSERT INTO "LiteLLM_DailyTagSpend" (id, tag, date, api_key, model, model_group, custom_llm_provider,
		  prompt_tokens, completion_tokens, spend, api_requests, successful_requests, failed_requests, updated_at)
		VALUES ('t1', 'agent', current_date, 'hashed-token-1', 'gpt-4o', 'gpt-4o', 'openai', 12000, 3000, 12.5, 100, 98, 2, now())`)

	// A 6 GB screenshot store, sparse so it costs no disk.
	work := t.TempDir()
	shots := filepath.Join(work, "screenshots", "2026-11-22")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		f, err := os.Create(filepath.Join(shots, fmt.Sprintf("shot-%d.png", i)))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(1 << 30); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	logs := filepath.Join(work, "logs")
	os.MkdirAll(logs, 0o755)
	os.WriteFile(filepath.Join(logs, "app.log"), []byte(`{"timestamp":"2026-11-22T10:00:00Z","level":"INFO","message":"up"}`+"\n"), 0o644)

	loki := newLokiStandIn(t)
	redis.MustDo(t, "CONFIG", "SET", "slowlog-log-slower-than", "0")
	for i := range 100 {
		redis.MustDo(t, "SET", fmt.Sprintf("cache:%d", i), "v")
	}

	args := map[string][]string{
		"postgres-exporter": {"--postgres.dsn=" + pg.DSN("postgres")},
		"redis-exporter":    {"--redis.addr=redis://" + redis.Addr, "--keys.group=cache:*", "--keys.scan-interval=1s"},
		"celery-exporter":   {"--broker-url=" + redis.URL(0), "--queue.poll-interval=1s"},
		"litellm-exporter":  {"--database-url=" + pg.DSN("litellm"), "--refresh.interval=2s", "--spendlogs.enabled", "--spendlogs.lag=1s"},
		"storage-exporter":  {"--path=screenshots=" + filepath.Join(work, "screenshots"), "--walk.interval=2s"},
		"log-shipper":       shipperArgs(work, logs, loki.URL),
	}
	daemons := map[string]*testkit.Daemon{}
	for name, a := range args {
		daemons[name] = testkit.StartDaemon(t, daemonBinary(t, name), a...)
	}
	celeryOnRabbit := testkit.StartDaemon(t, daemonBinary(t, "celery-exporter"), "--broker-url="+rabbit.URL(),
		"--rabbitmq.management-url="+rabbit.ManagementURL(), "--queue=backlog", "--queue.poll-interval=1s")

	// Prometheus with the rules as shipped and the shipped scrape jobs,
	// their targets pointed at the daemons' loopback ports.
	scrape, err := os.ReadFile("prometheus/outrigger-scrape.yml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(scrape)
	for name, d := range daemons {
		re := regexp.MustCompile(regexp.QuoteMeta(name) + `:[0-9]+`)
		if !re.MatchString(cfg) {
			t.Fatalf("outrigger-scrape.yml has no target for %s", name)
		}
		target := strings.TrimPrefix(d.URL, "http://")
		if name == "celery-exporter" {
			target += `", "` + strings.TrimPrefix(celeryOnRabbit.URL, "http://")
		}
		cfg = re.ReplaceAllString(cfg, target)
	}
	cfg = strings.ReplaceAll(cfg, "scrape_interval: 30s", "scrape_interval: 4s")
	// Alertmanager as shipped but for its timings and receivers, which all
	// post to the sink; Prometheus sends to it through the shipped alerting block.
	sink := testkit.StartWebhookSink(t, nil)
	am := testkit.StartAlertmanager(t, testkit.AlertmanagerOptions{Config: alertmanagerTestConfig(t, sink.URL)})
	if !strings.Contains(cfg, `"alertmanager:9093"`) {
		t.Fatal("outrigger-scrape.yml sends alerts nowhere: no alertmanager:9093 target")
	}
	cfg = strings.ReplaceAll(cfg, `"alertmanager:9093"`, `"`+am.Addr+`"`)
	rules, _ := filepath.Glob("prometheus/rules/*.yml")
	var ruleLines []string
	for _, r := range rules {
		abs, _ := filepath.Abs(r)
		ruleLines = append(ruleLines, fmt.Sprintf("  - %q", abs))
	}
	prom := testkit.StartPrometheus(t, testkit.PrometheusOptions{Config: "global: {scrape_interval: 4s, evaluation_interval: 4s, scrape_timeout: 4s}\n" +
		"rule_files:\n" + strings.Join(ruleLines, "\n") + "\n" + cfg})

	// The stack's conditions: 45 of 50 connections taken, a backlog of 60.
	conns := holdConnections(ctx, t, pg.DSN("postgres"), 45)
	defer func() {
		for _, c := range conns {
			c.Close(context.Background())
		}
	}()
	var backlog []testkit.CeleryTask
	for i := range 60 {
		backlog = append(backlog, testkit.CeleryTask{Name: testkit.TaskAdd, Args: []any{i, 1}, Queue: "backlog"})
	}
	testkit.SendTasks(t, celeryAMQP, backlog...)
	// Work the worker does, so every task outcome and histogram has data.
	jobs := []testkit.CeleryTask{{Name: testkit.TaskBoom}, {Name: testkit.TaskReject},
		{Name: testkit.TaskFlaky, Kwargs: map[string]any{"failures": 1}}, {Name: testkit.TaskAdd, Args: []any{1, 2}, Countdown: 600}}
	for i := range 5 {
		jobs = append(jobs, testkit.CeleryTask{Name: testkit.TaskAdd, Args: []any{i, i}})
	}
	testkit.SendTasks(t, celery, jobs...)
	ids := testkit.SendTasks(t, celery, testkit.CeleryTask{Name: testkit.TaskSleep, Args: []any{30}})
	testkit.RevokeTask(t, celery, ids[0], true)
	// Requests the proxy logged after the exporter started.
	pg.PSQL(t, "litellm", `INSERT INTO "LiteLLM_SpendLogs" (request_id, call_type, api_key, spend, total_tokens, "startTime", "endTime",
		  request_duration_ms, model, model_group, cache_hit, status)
		SELECT 'req-' || g, 'acompletion', 'hashed-token-1', 0.01, 100, now(), now() + interval '1 second', 800, 'gpt-4o', 'gpt-4o', 'False', 'success'
		FROM generate_series(1, 20) g`)

	t.Run("every target is up", func(t *testing.T) {
		testkit.Eventually(t, 60*time.Second, "every daemon scraped and up", func() error {
			up := prom.Query(t, `up`)
			var down []string
			seen := map[string]bool{}
			for _, s := range up {
				seen[s.Metric["job"]] = true
				if s.Value[1] != "1" {
					down = append(down, s.Metric["job"])
				}
			}
			for name := range daemons {
				if job := jobOf(t, name); !seen[job] {
					down = append(down, job+" (not scraped yet)")
				}
			}
			if len(down) > 0 {
				sort.Strings(down)
				return fmt.Errorf("down: %v", down)
			}
			return nil
		})
		for q, want := range map[string]string{"pg_up": "1", "redis_up": "1", "min(celery_exporter_broker_up)": "1", "litellm_database_up": "1"} {
			testkit.Eventually(t, 30*time.Second, q, func() error {
				r := prom.Query(t, q)
				if len(r) != 1 || r[0].Value[1] != want {
					return fmt.Errorf("%s = %v", q, r)
				}
				return nil
			})
		}
	})

	t.Run("dashboards use only series the daemons produce", func(t *testing.T) {
		produced := map[string]bool{}
		testkit.Eventually(t, 90*time.Second, "every family the dashboards query", func() error {
			// Hits, a miss and an error between two scrapes of Redis.
			redis.Do("GET", "cache:1")
			redis.Do("GET", "cache:none")
			redis.Do("INCR", "cache:2")
			for _, d := range append(slices.Collect(maps.Values(daemons)), celeryOnRabbit) {
				_, body := d.Get(t, "/metrics", nil)
				for name := range testkit.Families(t, body) {
					produced[name] = true
				}
			}
			if missing := missingDashboardNames(t, produced); len(missing) > 0 {
				return fmt.Errorf("not produced yet: %s", strings.Join(missing, "; "))
			}
			return nil
		})
	})

	// When the pool alert's notification arrives, PostgreSQL is stopped at
	// once: the next flush of that group, 90 s later, then comes after
	// PostgresDown fires (its `for` is 1m), as it does with the shipped 5m.
	var pgStopped time.Time
	var pool testkit.Notification
	t.Run("the headline alerts fire", func(t *testing.T) {
		want := map[string]map[string]string{
			"CeleryQueueBacklog":      {"queue_name": "backlog"},
			"LLMBudgetAbove80Percent": {"scope": "key", "name": "agent-prod"},
			"ScreenshotStoreAbove5GB": {"path": "screenshots"},
		}
		// The backlog and pool alerts hold for 5 minutes, as the stack asks. A
		// scrape lost to a loaded machine resets them; the scrape timeout is
		// generous so that the daemons, which answer within it, are never cut off.
		testkit.Eventually(t, 7*time.Minute, "alerts firing", func() error {
			if pgStopped.IsZero() {
				if n, ok := notified(sink.Notifications(), time.Time{}, "firing", "PostgresPoolUtilizationHigh"); ok {
					pool = n
					pg.Stop(t)
					pgStopped = time.Now()
				}
			}
			alerts := prom.Alerts(t)
			var missing []string
			for name, labels := range want {
				if !hasAlert(alerts, name, "firing", labels) {
					missing = append(missing, fmt.Sprintf("%s%v (have %s)", name, labels, states(alerts, name)))
				}
			}
			if pgStopped.IsZero() {
				missing = append(missing, fmt.Sprintf("PostgresPoolUtilizationHigh notified (have %s)", states(alerts, "PostgresPoolUtilizationHigh")))
			}
			if len(missing) > 0 {
				sort.Strings(missing)
				return fmt.Errorf("not firing: %s", strings.Join(missing, "; "))
			}
			return nil
		})
		for _, a := range prom.Alerts(t) {
			if a.Labels["alertname"] == "LLMBudgetAbove80Percent" && a.Labels["name"] == "agent-dev" {
				t.Errorf("a key at 5 %% of its budget fired the budget alert: %v", a.Labels)
			}
		}
	})
	if pgStopped.IsZero() {
		t.Fatal("the pool alert never reached a receiver")
	}

	t.Run("a firing alert reaches its receiver with its runbook", func(t *testing.T) {
		checkNotification(t, pool, "chat", "PostgresPoolUtilizationHigh")
	})

	// What follows from PostgreSQL being down, and is inhibited by PostgresDown.
	followers := []string{"PostgresPoolUtilizationHigh", "PostgresConnectionsExhausted", "PostgresIdleInTransactionTooLong",
		"PostgresLockWaits", "PostgresReplicationLag", "PostgresSlowQueries", "LLMSpendDatabaseDown"}
	t.Run("with PostgreSQL stopped only PostgresDown is notified", func(t *testing.T) {
		var down testkit.Notification
		testkit.Eventually(t, 3*time.Minute, "PostgresDown notified", func() error {
			n, ok := notified(sink.Notifications(), pgStopped, "firing", "PostgresDown")
			if !ok {
				return fmt.Errorf("no PostgresDown notification; Prometheus has it %s", states(prom.Alerts(t), "PostgresDown"))
			}
			down = n
			return nil
		})
		checkNotification(t, down, "page", "PostgresDown")
		// LiteLLM's exporter lost its database too (the same server, the same
		// datastore label): its alert fires and Alertmanager holds it back.
		testkit.Eventually(t, 3*time.Minute, "LLMSpendDatabaseDown inhibited", func() error {
			for _, a := range am.Alerts(t) {
				if a.Labels["alertname"] == "LLMSpendDatabaseDown" {
					if a.Status.State != "suppressed" || len(a.Status.InhibitedBy) == 0 {
						return fmt.Errorf("LLMSpendDatabaseDown is %s, inhibited by %v", a.Status.State, a.Status.InhibitedBy)
					}
					return nil
				}
			}
			return fmt.Errorf("Alertmanager has no LLMSpendDatabaseDown; Prometheus has it %s", states(prom.Alerts(t), "LLMSpendDatabaseDown"))
		})
		// By now the pool alert's group was flushed again (90 s after its
		// notification) with the alert resolved, and that was held back too.
		noneNotified(t, sink.Notifications(), pgStopped, time.Time{}, false, followers)
	})

	t.Run("its resolution arrives after recovery", func(t *testing.T) {
		pg.Start(t)
		back := time.Now()
		// At PostgresDown's group's next flush (90 s after its first).
		testkit.Eventually(t, 2*time.Minute, "PostgresDown resolved and notified", func() error {
			n, ok := notified(sink.Notifications(), back, "resolved", "PostgresDown")
			if !ok {
				return fmt.Errorf("no resolution yet; Prometheus has PostgresDown %s", states(prom.Alerts(t), "PostgresDown"))
			}
			checkNotification(t, n, "page", "PostgresDown")
			return nil
		})
		// Nothing of the followers while PostgreSQL was down; afterwards no
		// follower fires (a resolution may come once the inhibition lifts).
		noneNotified(t, sink.Notifications(), pgStopped, back, false, followers)
		noneNotified(t, sink.Notifications(), back, time.Time{}, true, followers)
		for _, n := range sink.Notifications() {
			var names []string
			for _, a := range n.Alerts {
				names = append(names, a.Labels["alertname"]+"/"+a.Status)
			}
			t.Logf("notified %-6s at PostgreSQL stop %+6.1fs: %s", n.Receiver, n.Received.Sub(pgStopped).Seconds(), strings.Join(names, ", "))
		}
	})
}

// notified finds a notification received after since that carries alert
// name with the given status.
func notified(got []testkit.Notification, since time.Time, status, name string) (testkit.Notification, bool) {
	for _, n := range got {
		if n.Received.Before(since) {
			continue
		}
		for _, a := range n.Alerts {
			if a.Labels["alertname"] == name && a.Status == status {
				return n, true
			}
		}
	}
	return testkit.Notification{}, false
}

// checkNotification: the alert came to the receiver its severity routes
// to, and links its runbook, which exists.
func checkNotification(t *testing.T, n testkit.Notification, receiver, name string) {
	t.Helper()
	if n.Receiver != receiver || n.Path != "/"+receiver {
		t.Errorf("%s went to %s (%s), want %s", name, n.Receiver, n.Path, receiver)
	}
	for _, a := range n.Alerts {
		if a.Labels["alertname"] != name {
			continue
		}
		url := a.Annotations["runbook_url"]
		file, ok := strings.CutPrefix(url, runbookBase)
		if !ok || file != name+".md" {
			t.Errorf("%s arrived with runbook_url %q", name, url)
		} else if _, err := os.Stat(filepath.Join("runbooks", file)); err != nil {
			t.Errorf("%s links a runbook that does not exist: %v", name, err)
		}
		if a.Annotations["summary"] == "" || a.Labels["instance"] == "" {
			t.Errorf("%s arrived without its summary or target: %v %v", name, a.Annotations, a.Labels)
		}
	}
}

// noneNotified fails for every notification of the named alerts received in
// [from, until) (no end when until is zero): PostgresDown inhibits them then.
// With firingOnly, a resolution is allowed: once PostgreSQL is back and
// PostgresDown resolved, a follower that was notified firing before the
// outage may be notified resolved.
func noneNotified(t *testing.T, got []testkit.Notification, from, until time.Time, firingOnly bool, names []string) {
	t.Helper()
	for _, n := range got {
		if n.Received.Before(from) || (!until.IsZero() && !n.Received.Before(until)) {
			continue
		}
		for _, a := range n.Alerts {
			if slices.Contains(names, a.Labels["alertname"]) && (!firingOnly || a.Status == "firing") {
				t.Errorf("%s reached %s (%s) while PostgresDown inhibits it", a.Labels["alertname"], n.Receiver, a.Status)
			}
		}
	}
}

func shipperArgs(work, logs, lokiURL string) []string {
	return []string{"--path=" + filepath.Join(logs, "*.log"), "--registry.path=" + filepath.Join(work, "registry.json"),
		"--loki.url=" + lokiURL + "/loki/api/v1/push"}
}

// newLokiStandIn answers pushes as Loki does in a bad minute: rate limited,
// then a validation error, then accepted. It checks nothing of the body:
// the shipper's own tests do that against its strict fake; here it only has
// to make the shipper's retry, drop and latency series exist.
func newLokiStandIn(t *testing.T) *httptest.Server {
	var n atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		switch n.Add(1) {
		case 1:
			http.Error(w, "Ingestion rate limit exceeded", http.StatusTooManyRequests)
		case 2:
			http.Error(w, "entry too far behind", http.StatusBadRequest)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func holdConnections(ctx context.Context, t *testing.T, dsn string, n int) []*pgx.Conn {
	t.Helper()
	var conns []*pgx.Conn
	for i := range n {
		c, err := pgx.Connect(ctx, dsn+"&application_name=api")
		if err != nil {
			t.Fatalf("connection %d of %d: %v", i+1, n, err)
		}
		conns = append(conns, c)
	}
	return conns
}

func hasAlert(alerts []testkit.Alert, name, state string, labels map[string]string) bool {
	for _, a := range alerts {
		if a.Labels["alertname"] != name || a.State != state {
			continue
		}
		ok := true
		for k, v := range labels {
			if a.Labels[k] != v {
				ok = false
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func states(alerts []testkit.Alert, name string) string {
	var s []string
	for _, a := range alerts {
		if a.Labels["alertname"] == name {
			s = append(s, a.State)
		}
	}
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ",")
}

// TestEnvVarsInDeployFilesAreFlags holds the compose files and Kubernetes
// manifests to the daemons' real flags: every environment variable they set
// must be one the daemon's --help names.
func TestEnvVarsInDeployFilesAreFlags(t *testing.T) {
	help := map[string]string{}
	for name := range daemonPackages {
		out, _ := exec.Command(daemonBinary(t, name), "--help").CombinedOutput()
		help[name] = string(out)
	}
	// A flag's own variable shows as ($NAME); an incumbent's well-known one
	// (REDIS_ADDR, DATABASE_URL...) is named in the flag's help text.
	check := func(where, daemon, env string) {
		if !regexp.MustCompile(`\b` + regexp.QuoteMeta(env) + `\b`).MatchString(help[daemon]) {
			t.Errorf("%s sets %s for %s, which its --help does not list", where, env, daemon)
		}
	}
	p := loadCompose(t, map[string]string{}, "compose/outrigger.yml")
	for _, svc := range p.Services {
		for env := range svc.Environment {
			check("compose/outrigger.yml", svc.Name, env)
		}
	}
	m := loadManifests(t)
	for _, d := range m.deployments {
		for _, c := range d.Spec.Template.Spec.Containers {
			for _, e := range c.Env {
				check("kubernetes Deployment/"+d.Name, c.Name, e.Name)
			}
		}
	}
}

// missingDashboardNames lists every metric a dashboard queries that no
// daemon produced in the full-stack run, with the panels using it.
func missingDashboardNames(t *testing.T, produced map[string]bool) []string {
	t.Helper()
	var missing []string
	for name, uses := range dashboardMetricNames(t) {
		base := name
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if strings.HasSuffix(name, suffix) && produced[strings.TrimSuffix(name, suffix)] {
				base = strings.TrimSuffix(name, suffix)
			}
		}
		if !produced[base] && name != "up" && name != "ALERTS" {
			missing = append(missing, fmt.Sprintf("%s (%s)", name, strings.Join(uses, ", ")))
		}
	}
	sort.Strings(missing)
	return missing
}
