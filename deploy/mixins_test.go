package deploy

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/outrigger/outrigger/internal/testkit"
	"gopkg.in/yaml.v3"
)

// mixinSelectors are the upstream mixins' default job selectors (facts of
// their config.libsonnet), by the exporter whose series they select.
var mixinSelectors = map[string]*regexp.Regexp{
	"redis-exporter:9121":    regexp.MustCompile(`^redis$`),      // redis mixin: job="redis"
	"celery-exporter:9808":   regexp.MustCompile(`^.*celery.*$`), // celery mixin: job=~".*celery.*"
	"postgres-exporter:9187": regexp.MustCompile(`^.*$`),         // postgres mixin: no job selector
}

// scrapeJobs maps each static target of a scrape file to its job name.
func scrapeJobs(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := map[string]string{}
	for _, sc := range cfg.ScrapeConfigs {
		for _, s := range sc.StaticConfigs {
			for _, tg := range s.Targets {
				out[tg] = sc.JobName
			}
		}
	}
	return out
}

// jobOf is the job outrigger-scrape.yml scrapes the service as.
func jobOf(t *testing.T, service string) string {
	t.Helper()
	for target, job := range scrapeJobs(t, "prometheus/outrigger-scrape.yml") {
		if strings.HasPrefix(target, service+":") {
			return job
		}
	}
	t.Fatalf("outrigger-scrape.yml scrapes no %s", service)
	return ""
}

// TestScrapeJobsAreTheMixinsDefaults: a user who imports the upstream
// mixins unchanged gets alerts on our series: the scrape file, the demo's
// Prometheus and the Kubernetes ServiceMonitors give the jobs the names the
// mixins select by default.
func TestScrapeJobsAreTheMixinsDefaults(t *testing.T) {
	for _, path := range []string{"prometheus/outrigger-scrape.yml", "prometheus/demo-prometheus.yml"} {
		jobs := scrapeJobs(t, path)
		for target, sel := range mixinSelectors {
			job, ok := jobs[target]
			if !ok {
				t.Errorf("%s: no job scrapes %s", path, target)
				continue
			}
			if !sel.MatchString(job) {
				t.Errorf("%s: %s is scraped as job %q, which the mixin's selector %s misses", path, target, job, sel)
			}
		}
	}
	b, err := os.ReadFile("kubernetes/servicemonitors.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(b), "\n---") {
		var sm struct {
			Metadata struct {
				Name string `yaml:"name"`
			} `yaml:"metadata"`
			Spec struct {
				Endpoints []struct {
					Relabelings []struct {
						TargetLabel string `yaml:"targetLabel"`
						Replacement string `yaml:"replacement"`
					} `yaml:"relabelings"`
				} `yaml:"endpoints"`
			} `yaml:"spec"`
		}
		if err := yaml.Unmarshal([]byte(doc), &sm); err != nil {
			t.Fatal(err)
		}
		// The Prometheus Operator names the job after the Service unless a
		// relabeling sets it.
		job := sm.Metadata.Name
		for _, e := range sm.Spec.Endpoints {
			for _, r := range e.Relabelings {
				if r.TargetLabel == "job" {
					job = r.Replacement
				}
			}
		}
		for target, sel := range mixinSelectors {
			if strings.HasPrefix(target, sm.Metadata.Name+":") && !sel.MatchString(job) {
				t.Errorf("ServiceMonitor %s gives job %q, which the mixin's selector %s misses", sm.Metadata.Name, job, sel)
			}
		}
	}
}

// TestUpstreamMixinAlertsFireOnOurSeries runs the mixins' alerts (written as
// facts in prometheus/mixin-tests/mixin-alerts.yml) on our series, including
// CeleryWorkerDown and the Redis cluster alerts.
func TestUpstreamMixinAlertsFireOnOurSeries(t *testing.T) {
	if out, err := testkit.Promtool(t, "", "test", "rules", "prometheus/mixin-tests/mixin-alerts_test.yml"); err != nil {
		t.Fatalf("promtool test rules:\n%s", out)
	}
	jobs := scrapeJobs(t, "prometheus/outrigger-scrape.yml")
	b, err := os.ReadFile("prometheus/mixin-tests/mixin-alerts_test.yml")
	if err != nil {
		t.Fatal(err)
	}
	// The fixture's series carry the jobs the scrape file gives.
	for _, target := range []string{"redis-exporter:9121", "celery-exporter:9808", "postgres-exporter:9187"} {
		if !strings.Contains(string(b), `job="`+jobs[target]+`"`) {
			t.Errorf("the mixin test's series do not use job %q of %s", jobs[target], target)
		}
	}
	// Every mixin alert of the fixture is tested, among them CeleryWorkerDown
	// and the Redis cluster alerts.
	var mixins ruleFile
	rb, err := os.ReadFile("prometheus/mixin-tests/mixin-alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(rb, &mixins); err != nil {
		t.Fatal(err)
	}
	alerts := map[string]bool{}
	for _, g := range mixins.Groups {
		for _, r := range g.Rules {
			alerts[r.Alert] = true
			if !strings.Contains(string(b), "alertname: "+r.Alert+"\n        exp_alerts:") &&
				!strings.Contains(string(b), "alertname: "+r.Alert+", exp_alerts: [{") {
				t.Errorf("no test of %s that expects it to fire", r.Alert)
			}
		}
	}
	for _, a := range []string{"CeleryWorkerDown", "RedisClusterStateNotOk", "RedisClusterSlotFail", "RedisClusterSlotPfail"} {
		if !alerts[a] {
			t.Errorf("the fixture lacks the mixin's %s", a)
		}
	}
}
