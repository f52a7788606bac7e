package deploy

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// loadCompose loads files the way `docker compose -f a -f b` does, with the
// compose-spec reference loader (schema validation, interpolation, merge).
func loadCompose(t *testing.T, env map[string]string, files ...string) *types.Project {
	t.Helper()
	var cfs []types.ConfigFile
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		cfs = append(cfs, types.ConfigFile{Filename: f, Content: b})
	}
	wd, _ := filepath.Abs(filepath.Dir(files[0]))
	p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir: wd, ConfigFiles: cfs, Environment: env,
	}, func(o *loader.Options) {
		o.SetProjectName("outrigger-test", true)
		o.ResolvePaths = true
	})
	if err != nil {
		t.Fatalf("loading %v: %v", files, err)
	}
	return p
}

func TestComposeSidecarsAddToAStack(t *testing.T) {
	// The user's own project: the sidecars are added with -f.
	stack := filepath.Join(t.TempDir(), "docker-compose.yml")
	os.WriteFile(stack, []byte("services:\n  api:\n    image: example/api\n  postgres:\n    image: postgres:15\n  redis:\n    image: redis:7\n"), 0o644)
	sidecars, _ := filepath.Abs("compose/outrigger.yml")
	p := loadCompose(t, map[string]string{}, stack, sidecars)
	if _, err := p.GetService("api"); err != nil {
		t.Fatal("the user's own service was lost in the merge")
	}
	for name, port := range ports {
		svc, err := p.GetService(name)
		if err != nil {
			t.Errorf("no service %s", name)
			continue
		}
		if !svc.ReadOnly || svc.User == "" || strings.HasPrefix(svc.User, "0") || svc.User == "root" {
			t.Errorf("%s: want a read-only root and a non-root user, have read_only=%v user=%q", name, svc.ReadOnly, svc.User)
		}
		hc := svc.HealthCheck
		if hc == nil || len(hc.Test) < 3 || hc.Test[0] != "CMD" || hc.Test[1] != "/"+name || hc.Test[2] != "--web.healthcheck" {
			t.Errorf("%s: healthcheck %v must run the daemon's own --web.healthcheck (the image has no shell)", name, hc)
		} else if !strings.Contains(strings.Join(hc.Test, " "), ":"+itoa(port)) {
			t.Errorf("%s: healthcheck probes the wrong port: %v", name, hc.Test)
		}
		for k, v := range svc.Environment {
			if v != nil && looksSecret(k, *v) {
				t.Errorf("%s: %s carries a secret in the environment; use a *_FILE secret", name, k)
			}
		}
	}
	shipper, _ := p.GetService("log-shipper")
	var logsRO, registryVolume bool
	for _, v := range shipper.Volumes {
		if v.Target == "/app/logs" && v.ReadOnly {
			logsRO = true
		}
		if v.Type == types.VolumeTypeVolume && v.Target == "/var/lib/log-shipper" && !v.ReadOnly {
			registryVolume = true
		}
	}
	if !logsRO || !registryVolume {
		t.Errorf("log-shipper: logs must be mounted read-only (%v) and the registry kept on a named volume (%v)", logsRO, registryVolume)
	}
	for name, s := range p.Secrets {
		if s.File == "" {
			t.Errorf("secret %s is not a file", name)
		}
	}
}

func TestComposeDemoIsComplete(t *testing.T) {
	// docker compose reads .env from the project directory.
	env := map[string]string{}
	b, err := os.ReadFile("compose/.env")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(k, "#") {
			env[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	p := loadCompose(t, env, "compose/demo.yml", "compose/outrigger.yml")
	for _, name := range []string{"postgres", "redis", "celery-worker", "prometheus", "grafana", "loki"} {
		if _, err := p.GetService(name); err != nil {
			t.Errorf("the demo lacks %s", name)
		}
	}
	for name := range ports {
		if _, err := p.GetService(name); err != nil {
			t.Errorf("the demo lacks the sidecar %s", name)
		}
	}
	for _, s := range p.Secrets {
		if _, err := os.Stat(s.File); err != nil {
			t.Errorf("the demo's secret file is missing: %v", err)
		}
	}
	prom, _ := p.GetService("prometheus")
	cfg := ""
	for _, a := range prom.Command {
		if strings.HasPrefix(a, "--config.file=/etc/prometheus/") {
			cfg = strings.TrimPrefix(a, "--config.file=/etc/prometheus/")
		}
	}
	if _, err := os.Stat(filepath.Join("prometheus", cfg)); cfg == "" || err != nil {
		t.Errorf("the demo's Prometheus reads %q, which deploy/prometheus does not have", cfg)
	}
}

func looksSecret(key, value string) bool {
	k := strings.ToUpper(key)
	if strings.HasSuffix(k, "_FILE") {
		return false
	}
	if strings.Contains(k, "PASSWORD") || strings.Contains(k, "TOKEN") || strings.Contains(k, "API_KEY") {
		return value != ""
	}
	// user:password@ in a URL
	if i := strings.Index(value, "://"); i >= 0 {
		rest := value[i+3:]
		if at := strings.Index(rest, "@"); at > 0 && strings.Contains(rest[:at], ":") {
			return true
		}
	}
	return false
}

func itoa(i int32) string { return strconv.Itoa(int(i)) }
