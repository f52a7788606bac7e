package deploy

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/outrigger/outrigger/internal/testkit"
)

// ports are the daemons' ports from ARCHITECTURE.md.
var ports = map[string]int32{
	"postgres-exporter": 9187, "redis-exporter": 9121, "celery-exporter": 9808,
	"litellm-exporter": 9842, "storage-exporter": 9843, "log-shipper": 9844,
}

type manifests struct {
	deployments     []appsv1.Deployment
	daemonSets      []appsv1.DaemonSet
	services        []corev1.Service
	secrets         []corev1.Secret
	serviceMonitors []monitoringv1.ServiceMonitor
	alertmanagers   []monitoringv1.Alertmanager
	configMaps      []corev1.ConfigMap
	clusterRoles    []rbacv1.ClusterRole
	bindings        []rbacv1.ClusterRoleBinding
	other           int
}

// loadManifests decodes every document of every manifest strictly into the
// Kubernetes API type its kind names: an unknown field is an error.
func loadManifests(t *testing.T) manifests {
	t.Helper()
	files, _ := filepath.Glob("kubernetes/*.yaml")
	if len(files) == 0 {
		t.Fatal("no manifests under deploy/kubernetes")
	}
	var m manifests
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range bytes.Split(b, []byte("\n---\n")) {
			if len(bytes.TrimSpace(stripComments(doc))) == 0 {
				continue
			}
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal(doc, &tm); err != nil {
				t.Fatalf("%s doc %d: %v", f, i, err)
			}
			var target any
			switch tm.Kind {
			case "Deployment":
				target = appendNew(&m.deployments)
			case "DaemonSet":
				target = appendNew(&m.daemonSets)
			case "Service":
				target = appendNew(&m.services)
			case "Secret":
				target = appendNew(&m.secrets)
			case "ServiceMonitor":
				target = appendNew(&m.serviceMonitors)
			case "Alertmanager":
				target = appendNew(&m.alertmanagers)
			case "ConfigMap":
				target = appendNew(&m.configMaps)
			case "ClusterRole":
				target = appendNew(&m.clusterRoles)
			case "ClusterRoleBinding":
				target = appendNew(&m.bindings)
			case "ServiceAccount":
				target = &corev1.ServiceAccount{}
			case "Namespace":
				target = &corev1.Namespace{}
			default:
				t.Fatalf("%s doc %d: kind %q has no decoder in this test", f, i, tm.Kind)
			}
			if err := yaml.UnmarshalStrict(doc, target); err != nil {
				t.Fatalf("%s doc %d (%s): %v", f, i, tm.Kind, err)
			}
			if target != nil {
				m.other++
			}
		}
	}
	return m
}

func stripComments(b []byte) []byte {
	var out [][]byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(l), []byte("#")) {
			out = append(out, l)
		}
	}
	return bytes.Join(out, []byte("\n"))
}

func TestKubernetesManifestsDecodeIntoAPITypes(t *testing.T) {
	m := loadManifests(t)
	if len(m.daemonSets) != 1 || m.daemonSets[0].Name != "log-shipper" {
		t.Fatalf("want the shipper as the one DaemonSet, have %d", len(m.daemonSets))
	}
	seen := map[string]bool{}
	for _, d := range m.deployments {
		seen[d.Name] = true
		checkPod(t, "Deployment/"+d.Name, d.Spec.Template.Spec, d.Spec.Template.Labels, d.Spec.Selector)
		if d.Name != "browser-sandbox" && (d.Spec.Replicas == nil || *d.Spec.Replicas != 1) {
			t.Errorf("Deployment/%s: an exporter keeps one connection to its target: run one replica", d.Name)
		}
	}
	for _, name := range []string{"postgres-exporter", "redis-exporter", "celery-exporter", "litellm-exporter", "browser-sandbox"} {
		if !seen[name] {
			t.Errorf("no Deployment (or sidecar patch) for %s", name)
		}
	}
	ds := m.daemonSets[0]
	checkPod(t, "DaemonSet/log-shipper", ds.Spec.Template.Spec, ds.Spec.Template.Labels, ds.Spec.Selector)
	if len(ds.Spec.Template.Spec.Tolerations) == 0 {
		t.Error("the shipper DaemonSet has no tolerations: it would skip tainted nodes")
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, vm := range ds.Spec.Template.Spec.Containers[0].VolumeMounts {
		mounts[vm.Name] = vm
	}
	for _, v := range ds.Spec.Template.Spec.Volumes {
		switch {
		case v.Name == "registry":
			if v.HostPath == nil || mounts[v.Name].ReadOnly {
				t.Error("the registry must be a writable hostPath so offsets survive pod restarts")
			}
		case v.HostPath != nil && !mounts[v.Name].ReadOnly:
			t.Errorf("host path %s is mounted writable; logs are read-only", v.HostPath.Path)
		}
	}
}

// checkPod holds every Outrigger container to the same rules: non-root,
// read-only root, limits, probes on /health and /ready, the daemon's port.
func checkPod(t *testing.T, what string, spec corev1.PodSpec, labels map[string]string, sel *metav1.LabelSelector) {
	t.Helper()
	if sel != nil {
		for k, v := range sel.MatchLabels {
			if labels[k] != v {
				t.Errorf("%s: selector %s=%s does not match the pod template", what, k, v)
			}
		}
	}
	for _, c := range spec.Containers {
		want, ok := ports[c.Name]
		if !ok {
			t.Errorf("%s: container %s is not an Outrigger daemon", what, c.Name)
			continue
		}
		if !strings.HasPrefix(c.Image, "outrigger/"+c.Name+":") {
			t.Errorf("%s: image %s", what, c.Image)
		}
		if len(c.Ports) != 1 || c.Ports[0].ContainerPort != want {
			t.Errorf("%s: want port %d, have %v", what, want, c.Ports)
		}
		sc := c.SecurityContext
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
			sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("%s: %s needs readOnlyRootFilesystem and no privilege escalation", what, c.Name)
		}
		nonRoot := (sc != nil && sc.RunAsNonRoot != nil && *sc.RunAsNonRoot) ||
			(spec.SecurityContext != nil && spec.SecurityContext.RunAsNonRoot != nil && *spec.SecurityContext.RunAsNonRoot)
		if !nonRoot && !unprivilegedRoot(sc) {
			t.Errorf("%s: %s may run as root with privileges (non-root, or root with every capability dropped but DAC_READ_SEARCH)", what, c.Name)
		}
		if c.Resources.Limits.Memory().IsZero() || c.Resources.Requests.Cpu().IsZero() {
			t.Errorf("%s: %s needs a memory limit and a CPU request", what, c.Name)
		}
		if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/health" {
			t.Errorf("%s: %s liveness probe must GET /health", what, c.Name)
		}
		if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/ready" {
			t.Errorf("%s: %s readiness probe must GET /ready", what, c.Name)
		}
	}
}

func TestServiceMonitorsSelectServices(t *testing.T) {
	m := loadManifests(t)
	if len(m.serviceMonitors) == 0 {
		t.Fatal("no ServiceMonitors")
	}
	for _, sm := range m.serviceMonitors {
		var found *corev1.Service
		for i, s := range m.services {
			match := true
			for k, v := range sm.Spec.Selector.MatchLabels {
				if s.Labels[k] != v {
					match = false
				}
			}
			if match {
				found = &m.services[i]
			}
		}
		if found == nil {
			t.Errorf("ServiceMonitor/%s selects no Service", sm.Name)
			continue
		}
		portNames := map[string]bool{}
		for _, p := range found.Spec.Ports {
			portNames[p.Name] = true
			if p.Port != ports[found.Name] {
				t.Errorf("Service/%s port %d, want %d", found.Name, p.Port, ports[found.Name])
			}
		}
		for _, ep := range sm.Spec.Endpoints {
			if !portNames[ep.Port] {
				t.Errorf("ServiceMonitor/%s scrapes port %q the Service lacks", sm.Name, ep.Port)
			}
		}
	}
}

func TestSecretKeysReferencedExist(t *testing.T) {
	m := loadManifests(t)
	keys := map[string]bool{}
	for _, s := range m.secrets {
		for k := range s.StringData {
			keys[s.Name+"/"+k] = true
		}
	}
	for _, d := range m.deployments {
		for _, c := range d.Spec.Template.Spec.Containers {
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					ref := fmt.Sprintf("%s/%s", e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key)
					if !keys[ref] {
						t.Errorf("Deployment/%s reads secret %s, which secrets.example.yaml does not define", d.Name, ref)
					}
				}
			}
		}
	}
}

// unprivilegedRoot: uid 0 with every capability dropped except, at most,
// DAC_READ_SEARCH (read any file, write none it does not own).
func unprivilegedRoot(sc *corev1.SecurityContext) bool {
	if sc == nil || sc.Capabilities == nil {
		return false
	}
	all := false
	for _, c := range sc.Capabilities.Drop {
		all = all || c == "ALL"
	}
	for _, c := range sc.Capabilities.Add {
		if c != "DAC_READ_SEARCH" {
			return false
		}
	}
	return all
}

// TestLogShipperDaemonSet holds the DaemonSet to what a node needs: the
// ConfigMap's shipper.yml passes the shipper's own --config.check, its
// paths are inside read-only mounts, the registry is on the one writable
// hostPath, RBAC is get/list/watch on pods bound to the pod's service
// account, NODE_NAME comes from spec.nodeName, the shipper's own pods opt
// out, and the memory limit holds the shipper's soft limit with room.
func TestLogShipperDaemonSet(t *testing.T) {
	m := loadManifests(t)
	ds := m.daemonSets[0]
	pod := ds.Spec.Template.Spec
	c := pod.Containers[0]
	var shipperYML string
	for _, cm := range m.configMaps {
		if cm.Name == "log-shipper" {
			shipperYML = cm.Data["shipper.yml"]
		}
	}
	if shipperYML == "" {
		t.Fatal("no ConfigMap log-shipper with shipper.yml")
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "shipper.yml")
	if err := os.WriteFile(cfgPath, []byte(shipperYML), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := testkit.Build(t, "../shipper/cmd/log-shipper")
	out, err := exec.Command(bin, "--config.file="+cfgPath, "--config.check").CombinedOutput()
	if err != nil {
		t.Fatalf("the ConfigMap's shipper.yml fails --config.check: %v\n%s", err, out)
	}
	var cfg struct {
		Registry    struct{ Path string } `yaml:"registry"`
		MemoryLimit string                `yaml:"memory_limit"`
		Inputs      []struct {
			Paths []string `yaml:"paths"`
		} `yaml:"inputs"`
	}
	if err := yaml.Unmarshal([]byte(shipperYML), &cfg); err != nil {
		t.Fatal(err)
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, vm := range c.VolumeMounts {
		mounts[vm.Name] = vm
	}
	under := func(p string) (corev1.VolumeMount, bool) {
		for _, vm := range c.VolumeMounts {
			if strings.HasPrefix(p, strings.TrimSuffix(vm.MountPath, "/")+"/") {
				return vm, true
			}
		}
		return corev1.VolumeMount{}, false
	}
	for _, in := range cfg.Inputs {
		for _, p := range in.Paths {
			if vm, ok := under(p); !ok || !vm.ReadOnly {
				t.Errorf("input path %s is not under a read-only mount", p)
			}
		}
	}
	if vm, ok := under(cfg.Registry.Path); !ok || vm.Name != "registry" || vm.ReadOnly {
		t.Errorf("registry %s is not on the writable registry volume", cfg.Registry.Path)
	}
	for _, a := range c.Args {
		if strings.HasPrefix(a, "--registry.path=") {
			t.Errorf("%s: the registry's path is the ConfigMap's", a)
		}
	}
	nodeName := false
	for _, e := range c.Env {
		if e.Name == "NODE_NAME" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "spec.nodeName" {
			nodeName = true
		}
	}
	if !nodeName {
		t.Error("NODE_NAME must come from spec.nodeName (it selects this node's pods)")
	}
	if ds.Spec.Template.Annotations["outrigger.io/logs"] != "false" {
		t.Error(`the shipper's own pods should carry outrigger.io/logs: "false"`)
	}
	// RBAC: read-only pods, bound to the DaemonSet's service account.
	roles := map[string]rbacv1.ClusterRole{}
	for _, r := range m.clusterRoles {
		roles[r.Name] = r
	}
	bound := false
	for _, b := range m.bindings {
		for _, s := range b.Subjects {
			if s.Kind != "ServiceAccount" || s.Name != pod.ServiceAccountName || s.Namespace != ds.Namespace {
				continue
			}
			r, ok := roles[b.RoleRef.Name]
			if !ok {
				t.Errorf("ClusterRoleBinding/%s names a missing ClusterRole %s", b.Name, b.RoleRef.Name)
				continue
			}
			bound = true
			for _, rule := range r.Rules {
				if fmt.Sprint(rule.APIGroups) != "[]" || fmt.Sprint(rule.Resources) != "[pods]" || fmt.Sprint(rule.Verbs) != "[get list watch]" {
					t.Errorf("ClusterRole/%s rule %+v: want get, list, watch on pods only", r.Name, rule)
				}
			}
		}
	}
	if !bound {
		t.Errorf("no ClusterRole bound to ServiceAccount %s/%s", ds.Namespace, pod.ServiceAccountName)
	}
	// Memory: the shipper's soft limit is max(2 x memory_limit + 16 MiB,
	// 40 MiB); the container's limit leaves it twice that.
	capMiB := int64(16)
	if cfg.MemoryLimit != "" {
		if _, err := fmt.Sscanf(cfg.MemoryLimit, "%dMiB", &capMiB); err != nil {
			t.Fatalf("memory_limit %q: write it in MiB for this test", cfg.MemoryLimit)
		}
	}
	soft := max(2*capMiB+16, 40) << 20
	if limit := c.Resources.Limits.Memory().Value(); limit < 2*soft {
		t.Errorf("memory limit %d MiB: under twice the shipper's soft limit (%d MiB)", limit>>20, soft>>20)
	}
	sc := c.SecurityContext
	if sc == nil || sc.Capabilities == nil || fmt.Sprint(sc.Capabilities.Add) != "[DAC_READ_SEARCH]" {
		t.Error("the shipper needs DAC_READ_SEARCH (and nothing else) to read every container log")
	}
}

// TestServiceMonitorsSetTheScrapeLabels: on Kubernetes the exporters carry
// the same datastore label as in outrigger-scrape.yml, or the inhibitions
// that rely on it would never apply.
func TestServiceMonitorsSetTheScrapeLabels(t *testing.T) {
	b, err := os.ReadFile("prometheus/outrigger-scrape.yml")
	if err != nil {
		t.Fatal(err)
	}
	var scrape struct {
		ScrapeConfigs []struct {
			JobName       string `json:"job_name"`
			StaticConfigs []struct {
				Labels map[string]string `json:"labels"`
			} `json:"static_configs"`
		} `json:"scrape_configs"`
	}
	if err := yaml.Unmarshal(b, &scrape); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, sc := range scrape.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			if v := st.Labels["datastore"]; v != "" {
				want[sc.JobName] = v
			}
		}
	}
	if len(want) == 0 {
		t.Fatal("outrigger-scrape.yml sets no datastore label")
	}
	// By job: the ServiceMonitor's name, or the job it relabels to.
	have := map[string]string{}
	for _, sm := range loadManifests(t).serviceMonitors {
		for _, ep := range sm.Spec.Endpoints {
			job, store := sm.Name, ""
			for _, r := range ep.RelabelConfigs {
				switch {
				case r.TargetLabel == "job" && r.Replacement != nil:
					job = *r.Replacement
				case r.TargetLabel == "datastore" && r.Replacement != nil:
					store = *r.Replacement
				}
			}
			if store != "" {
				have[job] = store
			}
		}
	}
	for job, v := range want {
		if have[job] != v {
			t.Errorf("the ServiceMonitor for job %s sets datastore=%q, outrigger-scrape.yml %q", job, have[job], v)
		}
	}
}

// appendNew appends a zero T to *s and returns a pointer to it, to decode
// into before the next append.
func appendNew[T any](s *[]T) *T {
	*s = append(*s, *new(T))
	return &(*s)[len(*s)-1]
}
