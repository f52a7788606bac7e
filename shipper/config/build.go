package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/outrigger/outrigger/shipper/decode"
	"github.com/outrigger/outrigger/shipper/event"
	"github.com/outrigger/outrigger/shipper/input/docker"
	"github.com/outrigger/outrigger/shipper/input/file"
	"github.com/outrigger/outrigger/shipper/input/kubernetes"
	"github.com/outrigger/outrigger/shipper/output"
	"github.com/outrigger/outrigger/shipper/output/elasticsearch"
	"github.com/outrigger/outrigger/shipper/output/loki"
	"github.com/outrigger/outrigger/shipper/output/stdout"
	"github.com/outrigger/outrigger/shipper/pipeline"
	"github.com/outrigger/outrigger/shipper/process"
)

// DefaultRegistryPath is where offsets are kept unless configured.
const DefaultRegistryPath = "/var/lib/log-shipper/registry.json"

// Flags are the flags and environment variables of the simple case, which
// need no file: paths to tail and a Loki URL.
type Flags struct {
	Paths            []string
	Exclude          []string
	Labels           []string // name=value
	LokiURL          string
	LokiTenant       string
	LokiUsername     string
	LokiPassword     string
	LokiPasswordFile string
	RegistryPath     string
	RegistryFlush    time.Duration
	MemoryLimit      string
	StartAt          string

	ESHosts        []string
	ESIndex        string
	ESUsername     string
	ESPassword     string
	ESPasswordFile string
	ESAPIKey       string
	ESAPIKeyFile   string

	DockerHost   string
	DockerLabels []string
}

// Merge applies flags over the file: paths add one input, a Loki URL sets
// (or creates) the Loki output, the rest override.
func (f *File) Merge(fl Flags) error {
	var paths []string
	for _, p := range fl.Paths {
		for _, s := range strings.Split(p, ",") {
			if s = strings.TrimSpace(s); s != "" {
				paths = append(paths, s)
			}
		}
	}
	if len(paths) > 0 {
		in := Input{Paths: paths, Exclude: fl.Exclude, StartAt: fl.StartAt, Labels: map[string]string{}}
		for _, l := range fl.Labels {
			k, v, ok := strings.Cut(l, "=")
			if !ok {
				return fmt.Errorf("--label %q: want name=value", l)
			}
			in.Labels[k] = v
		}
		f.Inputs = append(f.Inputs, in)
	} else if len(fl.Labels) > 0 || len(fl.Exclude) > 0 {
		return errors.New("--label and --exclude apply to --path: give --path too")
	}
	if fl.LokiURL != "" {
		if f.Outputs.Loki == nil {
			f.Outputs.Loki = &Loki{}
		}
		f.Outputs.Loki.URL = fl.LokiURL
	}
	if l := f.Outputs.Loki; l != nil {
		if fl.LokiTenant != "" {
			l.TenantID = fl.LokiTenant
		}
		if fl.LokiUsername != "" {
			l.Username = fl.LokiUsername
		}
		if fl.LokiPassword != "" {
			l.Password = fl.LokiPassword
		}
		if fl.LokiPasswordFile != "" {
			l.PasswordFile = fl.LokiPasswordFile
		}
	} else if fl.LokiTenant != "" || fl.LokiUsername != "" || fl.LokiPassword != "" || fl.LokiPasswordFile != "" {
		return errors.New("--loki.* flags need --loki.url (or outputs.loki in the file)")
	}
	if len(fl.ESHosts) > 0 {
		if f.Outputs.Elasticsearch == nil {
			f.Outputs.Elasticsearch = &Elasticsearch{Index: "logs-%{+yyyy.MM.dd}"}
		}
		f.Outputs.Elasticsearch.Hosts = fl.ESHosts
	}
	if es := f.Outputs.Elasticsearch; es != nil {
		set := func(dst *string, v string) {
			if v != "" {
				*dst = v
			}
		}
		set(&es.Index, fl.ESIndex)
		set(&es.Username, fl.ESUsername)
		set(&es.Password, fl.ESPassword)
		set(&es.PasswordFile, fl.ESPasswordFile)
		set(&es.APIKey, fl.ESAPIKey)
		set(&es.APIKeyFile, fl.ESAPIKeyFile)
	} else if fl.ESIndex != "" || fl.ESUsername != "" || fl.ESPassword != "" || fl.ESPasswordFile != "" || fl.ESAPIKey != "" || fl.ESAPIKeyFile != "" {
		return errors.New("--elasticsearch.* flags need --elasticsearch.url (or outputs.elasticsearch in the file)")
	}
	if fl.DockerHost != "" || len(fl.DockerLabels) > 0 {
		f.Inputs = append(f.Inputs, Input{Docker: &Docker{Host: fl.DockerHost, Labels: fl.DockerLabels}})
	}
	if fl.RegistryPath != "" {
		f.Registry.Path = fl.RegistryPath
	}
	if fl.RegistryFlush < 0 {
		return errors.New("--registry.flush-interval must not be negative")
	}
	if fl.RegistryFlush > 0 {
		f.Registry.FlushInterval = Duration(fl.RegistryFlush)
	}
	if fl.MemoryLimit != "" {
		v, err := ParseByteSize(fl.MemoryLimit)
		if err != nil {
			return fmt.Errorf("--memory.limit: %w", err)
		}
		f.MemoryLimit = v
	}
	return nil
}

// Validated is a configuration that passed Validate; only it can be built.
type Validated struct {
	f      *File
	procs  []process.Config
	inputs []Input
}

// Validate checks the whole configuration and reports every problem at once.
func (f *File) Validate() (*Validated, error) {
	var errs []error
	v := &Validated{f: f}
	if len(f.Inputs) == 0 {
		errs = append(errs, errors.New("no input: give --path or inputs in the configuration file"))
	}
	for i := range f.Inputs {
		pc, e := f.validateInput(i, &f.Inputs[i])
		errs = append(errs, e...)
		v.procs = append(v.procs, pc)
		v.inputs = append(v.inputs, f.Inputs[i])
	}
	if f.MemoryLimit != 0 && f.MemoryLimit < 1<<20 {
		errs = append(errs, f.errAt("memory_limit", errors.New("must be at least 1MiB"), "memory_limit"))
	}
	if l := f.Outputs.Loki; l != nil {
		u, err := url.Parse(l.URL)
		switch {
		case l.URL == "":
			errs = append(errs, f.errAt("outputs.loki.url", errors.New("is required"), "outputs", "loki"))
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			errs = append(errs, f.errAt("outputs.loki.url", errors.New("must be an http(s) URL such as http://loki:3100/loki/api/v1/push"), "outputs", "loki", "url"))
		case u.User != nil:
			errs = append(errs, f.errAt("outputs.loki.url", errors.New("must not hold credentials: use username and password(_file)"), "outputs", "loki", "url"))
		}
		if l.Password != "" && l.PasswordFile != "" {
			errs = append(errs, f.errAt("outputs.loki", errors.New("password and password_file are exclusive"), "outputs", "loki"))
		}
		if (l.Username != "" || l.Password != "" || l.PasswordFile != "") && (l.BearerToken != "" || l.BearerTokenFile != "") {
			errs = append(errs, f.errAt("outputs.loki", errors.New("basic auth and a bearer token are exclusive"), "outputs", "loki"))
		}
		if l.BatchBytes < 0 || l.Parallelism < 0 || l.Parallelism > 64 {
			errs = append(errs, f.errAt("outputs.loki", errors.New("batch_bytes must not be negative, parallelism between 1 and 64"), "outputs", "loki"))
		}
		mem := int64(f.MemoryLimit)
		if mem == 0 {
			mem = 16 << 20
		}
		batch := int64(l.BatchBytes)
		if batch == 0 {
			batch = 1 << 20
		}
		if batch > mem/4 {
			errs = append(errs, f.errAt("outputs.loki.batch_bytes", fmt.Errorf("%d bytes: keep it under a quarter of memory_limit (%d)", batch, mem), "outputs", "loki", "batch_bytes"))
		}
	}
	if es := f.Outputs.Elasticsearch; es != nil {
		errs = append(errs, f.validateES(es)...)
	}
	if o := f.Outputs.Stdout; o != nil && o.Format != "" && o.Format != "text" && o.Format != "json" {
		errs = append(errs, f.errAt("outputs.stdout.format", fmt.Errorf("%q: want text or json", o.Format), "outputs", "stdout", "format"))
	}
	if o := f.Outputs.Stdout; o != nil && o.Path != "" && o.Path != "-" {
		for i, in := range f.Inputs {
			for _, g := range in.Paths {
				if ok, _ := filepath.Match(g, o.Path); ok {
					errs = append(errs, f.errAt("outputs.stdout.path", fmt.Errorf("%s is read by inputs[%d] (%s): the shipper would read its own output", o.Path, i, g), "outputs", "stdout", "path"))
				}
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return v, nil
}

// Summary describes the validated configuration in one line (no secrets).
func (v *Validated) Summary() string {
	outs := []string{}
	if v.f.Outputs.Loki != nil {
		u, _ := url.Parse(v.f.Outputs.Loki.URL)
		outs = append(outs, "loki "+u.Redacted())
	}
	if es := v.f.Outputs.Elasticsearch; es != nil {
		outs = append(outs, "elasticsearch "+strings.Join(es.Hosts, ",")+" index "+es.Index)
	}
	if v.f.Outputs.Stdout != nil || len(outs) == 0 {
		outs = append(outs, "stdout")
	}
	return fmt.Sprintf("%d input(s), outputs: %s", len(v.inputs), strings.Join(outs, ", "))
}

func secret(value, file string) (string, error) {
	if file == "" {
		return value, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("reading secret file: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// Build makes the pipeline configuration: outputs are created (not
// started). Each component's metrics (file input, Kubernetes metadata,
// processing, outputs) are registered on reg (nil: not registered), every
// family whether or not the configuration uses the component, so the
// exposition has the same names in every setup.
func (v *Validated) Build(reg prometheus.Registerer, logger *slog.Logger) (pipeline.Config, error) {
	f := v.f
	fileMetrics, kubeMetrics := file.NewMetrics(reg), kubernetes.NewMetrics(reg)
	procMetrics, outMetrics := process.NewMetrics(reg), output.NewMetrics(reg)
	cfg := pipeline.Config{RegistryPath: f.Registry.Path, RegistryFlush: time.Duration(f.Registry.FlushInterval),
		MemoryLimit: int64(f.MemoryLimit), ShutdownTimeout: time.Duration(f.ShutdownTimeout), Logger: logger,
		Dropped: outMetrics.Dropped, DecodeErrors: procMetrics.DecodeErrors}
	if cfg.RegistryPath == "" {
		cfg.RegistryPath = DefaultRegistryPath
	}
	if cfg.MemoryLimit == 0 {
		cfg.MemoryLimit = 16 << 20
	}
	if err := os.MkdirAll(filepath.Dir(cfg.RegistryPath), 0o750); err != nil {
		return cfg, fmt.Errorf("creating registry directory: %w", err)
	}
	var outs []event.Output
	if l := f.Outputs.Loki; l != nil {
		pw, err := secret(l.Password, l.PasswordFile)
		if err != nil {
			return cfg, fmt.Errorf("loki password: %w", err)
		}
		tok, err := secret(l.BearerToken, l.BearerTokenFile)
		if err != nil {
			return cfg, fmt.Errorf("loki bearer token: %w", err)
		}
		o, err := loki.New(loki.Config{URL: l.URL, TenantID: l.TenantID, Username: l.Username, Password: pw,
			BearerToken: tok, TLS: loki.TLSConfig(l.TLS), BatchBytes: int(l.BatchBytes), BatchWait: time.Duration(l.BatchWait),
			Parallelism: l.Parallelism, Timeout: time.Duration(l.Timeout), MinBackoff: time.Duration(l.MinBackoff),
			MaxBackoff: time.Duration(l.MaxBackoff)}, len(outs), outMetrics)
		if err != nil {
			return cfg, err
		}
		outs = append(outs, o)
	}
	if es := f.Outputs.Elasticsearch; es != nil {
		o, err := v.buildES(es, len(outs), outMetrics, logger, filepath.Dir(cfg.RegistryPath))
		if err != nil {
			return cfg, err
		}
		outs = append(outs, o)
	}
	if f.Outputs.Stdout != nil || len(outs) == 0 {
		sc := stdout.Config{}
		if o := f.Outputs.Stdout; o != nil {
			sc.Path = o.Path
			if o.Format == "json" {
				sc.Docs = elasticsearch.NewDocBuilder(true, v.inputType(), "")
				sc.Docs.Kubernetes = o.KubernetesFields
			}
		}
		outs = append(outs, stdout.New(sc, len(outs), outMetrics))
	}
	cfg.Outputs = outs
	var meta *kubernetes.Metadata // one watch for every input
	var metaCfg kubernetes.Config
	for i, in := range v.inputs {
		pc := v.procs[i]
		pc.Metrics = procMetrics
		fc := file.Config{Include: in.Paths, Exclude: in.Exclude, StartAtEnd: in.StartAt == "end",
			FingerprintBytes: in.FingerprintBytes, MaxLineBytes: int(in.MaxLineBytes), MaxOpenFiles: in.MaxOpenFiles,
			ScanInterval: time.Duration(in.ScanInterval), PollInterval: time.Duration(in.PollInterval),
			PartialLineTimeout: time.Duration(in.PartialLineTimeout), CloseInactive: time.Duration(in.CloseInactive),
			CloseRenamedAfter: time.Duration(in.CloseRenamedAfter), Metrics: fileMetrics}
		fc.ExcludeRegexps = in.ExcludeRegexps
		pin := pipeline.Input{File: fc, Processor: process.New(pc), DockerJSON: in.DockerJSON}
		if in.Container != nil || in.Kubernetes != nil {
			pin.Container = decode.ContainerAuto
			if in.Container != nil {
				pin.Container, _ = decode.ParseContainerFormat(in.Container.Format)
			}
		}
		if in.Kubernetes != nil {
			// The real file, so a rotated one is found beside it after a
			// restart (the /var/log/containers links point into /var/log/pods),
			// unless the link leads out of the pods tree (cri-dockerd's links
			// to the engine's files): the link's name then says the pod.
			pin.File.ResolveSymlinks = func(real string) bool {
				_, ok := kubernetes.ParsePath(real)
				return ok
			}
		}
		if k := in.Kubernetes; k != nil {
			other := kubeConfig(k, logger)
			other.Metrics = kubeMetrics
			if meta != nil && !reflect.DeepEqual(other, metaCfg) {
				logger.Warn("kubernetes: inputs differ in their kubernetes settings; the first input's serve all (one watch per node)", "input", i)
			}
			if meta == nil {
				metaCfg = other
				if metaCfg.API == "" && (k.API == nil || *k.API) {
					logger.Warn("kubernetes: not in a cluster (no KUBERNETES_SERVICE_HOST): streams get path labels only")
				}
				m, err := kubernetes.New(metaCfg)
				if err != nil {
					return cfg, err
				}
				meta = m
			}
			pin.Discovery = meta
		}
		if d := in.Docker; d != nil {
			disc, err := docker.New(docker.Config{Host: d.Host, Labels: d.Labels, Refresh: time.Duration(d.RefreshInterval), Logger: logger})
			if err != nil {
				return cfg, err
			}
			pin.Discovery, pin.DockerJSON = disc, true
		}
		if ml := in.Multiline; ml != nil {
			pin.Multiline = &decode.MultilineConfig{Pattern: regexp.MustCompile(ml.Pattern), Negate: ml.Negate,
				Before: ml.Match == "before", MaxLines: ml.MaxLines, Timeout: time.Duration(ml.Timeout)}
		}
		cfg.Inputs = append(cfg.Inputs, pin)
	}
	return cfg, nil
}

// kubeConfig fills the in-cluster defaults: the node from NODE_NAME (the
// downward API), the API server from KUBERNETES_SERVICE_HOST/PORT, the
// service account's token and CA. Outside a cluster (no such variables)
// the streams get path labels only.
func kubeConfig(k *Kubernetes, logger *slog.Logger) kubernetes.Config {
	kc := kubernetes.Config{Node: k.Node, API: k.APIURL, TokenFile: k.TokenFile, CAFile: k.CAFile,
		PodLabels: k.podLabels(), PodAnnotations: k.PodAnnotations, MaxPods: k.MaxPods, Logger: logger}
	if kc.Node == "" {
		kc.Node = os.Getenv("NODE_NAME")
	}
	if k.API != nil && !*k.API {
		kc.API = ""
		return kc
	}
	if kc.API == "" {
		if host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT"); host != "" && port != "" {
			kc.API = "https://" + net.JoinHostPort(host, port)
			if kc.CAFile == "" {
				kc.CAFile = kubernetes.DefaultCAFile
			}
		}
	}
	return kc
}
