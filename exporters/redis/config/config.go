package config

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/outrigger/outrigger/internal/promkit"
	promconfig "github.com/prometheus/common/config"
	"github.com/redis/go-redis/v9"
	"gopkg.in/yaml.v3"
)

// DefaultTarget is the name of the target --redis.addr describes; it is the
// one /metrics scrapes.
const DefaultTarget = "default"

// Target describes one Redis server, as flags or the config file give it.
type Target struct {
	Name         string      `yaml:"name"`
	Addr         string      `yaml:"addr"`
	User         string      `yaml:"user"`
	Password     string      `yaml:"password"`
	PasswordFile string      `yaml:"password_file"`
	TLS          TLS         `yaml:"tls"`
	KeyGroups    []KeyGroup  `yaml:"key_groups"`
	Keys         []SingleKey `yaml:"keys"`

	line int // where the config file defines it (0: from flags)
}

// TLS configures rediss:// connections.
type TLS struct {
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// KeyGroup counts the keys of one database that match a glob pattern (Redis
// SCAN MATCH syntax), and sums their memory.
type KeyGroup struct {
	Name    string `yaml:"name"`
	DB      int    `yaml:"db"`
	Pattern string `yaml:"pattern"`
}

// SingleKey is a key whose length is reported (LLEN, XLEN, SCARD, ZCARD,
// HLEN or STRLEN by its type).
type SingleKey struct {
	DB  int    `yaml:"db"`
	Key string `yaml:"key"`
}

// File is the YAML config file: the targets /scrape?target= may name.
type File struct {
	Targets []Target `yaml:"targets"`
}

// Scan bounds the background key-group worker.
type Scan struct {
	Interval time.Duration // a cycle starts this often
	Budget   time.Duration // most time a cycle spends scanning
	Batch    int           // SCAN COUNT per step
}

// Config is what the flags say, before validation: main fills it and
// calls Validate; nothing else reads it.
type Config struct {
	Default Target // --redis.* and --tls.*, the target of /metrics
	// KeyGroupFlags and KeyFlags are the --keys.group and --keys.length
	// values ("[dbN=]PATTERN", comma-separated), for the default target.
	KeyGroupFlags    []string
	KeyFlags         []string
	File             string // path of the YAML config file, optional
	ClientName       string
	ClientsTopN      int
	SlowlogTop       int
	LatencyHistogram bool
	Scan             Scan
}

// ValidatedConfig is a Config whose flags parsed, whose file was read, whose
// secrets were resolved and whose addresses parsed: the only form the
// collector takes.
type ValidatedConfig struct {
	targets []Resolved
	scrape  Scrape
}

// Scrape is what every target's scrape and key-group worker take.
type Scrape struct {
	ClientName  string // CLIENT SETNAME of the exporter's connections
	ClientsTopN int    // client groups before folding into "other"
	SlowlogTop  int    // slowest recent slowlog entries reported
	// LatencyHistogram adds redis_command_latency_seconds from LATENCY
	// HISTOGRAM; the percentiles of INFO latencystats are always reported.
	LatencyHistogram bool
	Scan             Scan
}

// Targets are the targets to serve, the default target first.
func (v ValidatedConfig) Targets() []Resolved { return slices.Clone(v.targets) }

// Scrape is the options of every target.
func (v ValidatedConfig) Scrape() Scrape { return v.scrape }

// Resolved is a target ready to connect to.
type Resolved struct {
	name      string
	addr      string
	options   *redis.Options
	keyGroups []KeyGroup
	keys      []SingleKey
	fp        string
}

// Name is the target's name (DefaultTarget for --redis.addr).
func (r Resolved) Name() string { return r.name }

// Addr is the address without credentials, safe to show.
func (r Resolved) Addr() string { return r.addr }

// RedisOptions are the client options, credentials and TLS included (a
// copy: the caller may change it).
func (r Resolved) RedisOptions() *redis.Options {
	o := *r.options
	return &o
}

// KeyGroups are the groups the target's background scan counts.
func (r Resolved) KeyGroups() []KeyGroup { return slices.Clone(r.keyGroups) }

// Keys are the single keys whose length is reported.
func (r Resolved) Keys() []SingleKey { return slices.Clone(r.keys) }

// Fingerprint changes when anything about the target changes (used to keep
// unchanged targets across reloads). It holds no secret.
func (r Resolved) Fingerprint() string { return r.fp }

// Validate parses the flags' values, reads the config file and checks
// everything.
func (c Config) Validate() (ValidatedConfig, error) {
	v := ValidatedConfig{scrape: Scrape{ClientName: c.ClientName, ClientsTopN: c.ClientsTopN, SlowlogTop: c.SlowlogTop,
		LatencyHistogram: c.LatencyHistogram, Scan: c.Scan}}
	errs := c.checkOptions()
	def := c.Default
	def.Name = DefaultTarget
	groups, err := ParseKeyGroups(c.KeyGroupFlags)
	if err != nil {
		errs = append(errs, err)
	}
	keys, err := ParseSingleKeys(c.KeyFlags)
	if err != nil {
		errs = append(errs, err)
	}
	def.KeyGroups = append(slices.Clone(def.KeyGroups), groups...)
	def.Keys = append(slices.Clone(def.Keys), keys...)
	targets := []Target{def}
	if c.File != "" {
		f, err := Load(c.File)
		if err != nil {
			errs = append(errs, err)
		}
		targets = append(targets, f.Targets...)
	}
	seen := map[string]int{}
	for _, t := range targets {
		where := "flags"
		if t.line > 0 {
			where = fmt.Sprintf("%s:%d", c.File, t.line)
		}
		if prev, dup := seen[t.Name]; dup {
			errs = append(errs, fmt.Errorf("%s: target name %q already used at line %d", where, t.Name, prev))
			continue
		}
		seen[t.Name] = t.line
		r, err := t.resolve()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: target %q: %w", where, t.Name, err))
			continue
		}
		v.targets = append(v.targets, r)
	}
	if err := errors.Join(errs...); err != nil {
		return ValidatedConfig{}, err
	}
	return v, nil
}

// checkOptions checks the values that are not a target's.
func (c Config) checkOptions() []error {
	var errs []error
	if c.ClientName == "" || strings.ContainsAny(c.ClientName, " \n\r") {
		errs = append(errs, fmt.Errorf("--redis.client-name %q: must be non-empty and without spaces", c.ClientName))
	}
	if c.ClientsTopN < 1 || c.SlowlogTop < 0 || c.SlowlogTop > 128 {
		errs = append(errs, errors.New("--clients.top-n must be at least 1, --slowlog.top between 0 and 128"))
	}
	if c.Scan.Interval <= 0 || c.Scan.Budget <= 0 || c.Scan.Batch < 10 || c.Scan.Batch > 100000 {
		errs = append(errs, errors.New("--keys.scan-interval and --keys.scan-budget must be positive, --keys.scan-batch between 10 and 100000"))
	}
	return errs
}

// Load reads a config file strictly: unknown fields, duplicate target names
// and missing values are errors that carry the line they are on.
func Load(path string) (File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return File{}, fmt.Errorf("reading config file: %w", err)
	}
	f, err := Parse(b)
	if err != nil {
		return File{}, fmt.Errorf("%s: %w", path, err)
	}
	// Files named in the config are relative to it, as in Prometheus.
	dir := filepath.Dir(path)
	rel := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	for i := range f.Targets {
		t := &f.Targets[i]
		rel(&t.PasswordFile)
		rel(&t.TLS.CAFile)
		rel(&t.TLS.CertFile)
		rel(&t.TLS.KeyFile)
	}
	return f, nil
}

// Parse decodes a config file's content strictly.
func Parse(b []byte) (File, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return File{}, fmt.Errorf("parsing config: %w", err)
	}
	// A second pass over the node tree finds the line of every target, so
	// that errors found later (a bad address, a missing pattern) point at it.
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return File{}, fmt.Errorf("parsing config: %w", err)
	}
	if seq := targetsNode(&root); seq != nil {
		for i, n := range seq.Content {
			if i < len(f.Targets) {
				f.Targets[i].line = n.Line
			}
		}
	}
	var errs []error
	for i := range f.Targets {
		t := &f.Targets[i]
		if t.Name == "" {
			errs = append(errs, fmt.Errorf("line %d: target without a name", t.line))
		} else if t.Name == DefaultTarget {
			errs = append(errs, fmt.Errorf("line %d: target name %q is reserved for --redis.addr", t.line, DefaultTarget))
		}
		if t.Addr == "" {
			errs = append(errs, fmt.Errorf("line %d: target %q has no addr", t.line, t.Name))
		}
	}
	return f, errors.Join(errs...)
}

func targetsNode(root *yaml.Node) *yaml.Node {
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return nil
	}
	m := root.Content[0]
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "targets" && m.Content[i+1].Kind == yaml.SequenceNode {
			return m.Content[i+1]
		}
	}
	return nil
}

// resolve checks a target and builds its connection options.
func (t Target) resolve() (Resolved, error) {
	var errs []error
	opts, safeAddr, err := parseAddr(t.Addr)
	if err != nil {
		return Resolved{}, err
	}
	if t.User != "" {
		opts.Username = t.User
	}
	if t.Password != "" && t.PasswordFile != "" {
		errs = append(errs, errors.New("password and password_file are both set"))
	}
	if t.Password != "" || t.PasswordFile != "" {
		pw, err := promkit.Secret(t.Password, t.PasswordFile)
		if err != nil {
			errs = append(errs, err)
		}
		opts.Password = pw
	}
	if opts.TLSConfig != nil || t.TLS != (TLS{}) {
		tc, err := t.TLS.build(opts.TLSConfig)
		if err != nil {
			errs = append(errs, err)
		}
		opts.TLSConfig = tc
	}
	names := map[string]bool{}
	for i := range t.KeyGroups {
		g := &t.KeyGroups[i]
		if g.Pattern == "" {
			errs = append(errs, fmt.Errorf("key group %d has no pattern", i+1))
		}
		if g.Name == "" {
			g.Name = g.Pattern
		}
		if g.DB < 0 {
			errs = append(errs, fmt.Errorf("key group %q: db %d is negative", g.Name, g.DB))
		}
		key := strconv.Itoa(g.DB) + "/" + g.Name
		if names[key] {
			errs = append(errs, fmt.Errorf("key group %q in db %d is defined twice", g.Name, g.DB))
		}
		names[key] = true
	}
	for _, k := range t.Keys {
		if k.Key == "" || k.DB < 0 {
			errs = append(errs, fmt.Errorf("single key %q in db %d: needs a name and a db >= 0", k.Key, k.DB))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Resolved{}, err
	}
	fp := fmt.Sprintf("%s|%s|%x|%+v|%v|%v", safeAddr, t.User, hashSecret(opts.Password), t.TLS, t.KeyGroups, t.Keys)
	return Resolved{name: t.Name, addr: safeAddr, options: opts, keyGroups: t.KeyGroups, keys: t.Keys, fp: fp}, nil
}

// parseAddr accepts redis://, rediss://, unix:// URLs and a bare host:port.
// It returns the options and the address with any credentials taken out.
func parseAddr(addr string) (*redis.Options, string, error) {
	if addr == "" {
		return nil, "", errors.New("no address")
	}
	if !strings.Contains(addr, "://") {
		if strings.HasPrefix(addr, "/") {
			addr = "unix://" + addr
		} else {
			addr = "redis://" + addr
		}
	}
	u, err := url.Parse(addr)
	if err != nil {
		// url.Error quotes the URL, which may hold a password: drop it.
		return nil, "", errors.New("parsing address: not a valid URL")
	}
	safe := *u
	safe.User = nil
	safe.RawQuery = ""
	opts, err := redis.ParseURL(addr)
	if err != nil {
		return nil, "", fmt.Errorf("parsing address %s: %w", safe.String(), redactErr(err, u))
	}
	return opts, safe.String(), nil
}

// redactErr keeps a URL's password out of an error from a parser.
func redactErr(err error, u *url.URL) error {
	if u.User == nil {
		return err
	}
	pw, ok := u.User.Password()
	if !ok || pw == "" || !strings.Contains(err.Error(), pw) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), pw, "xxxxx"))
}

// build makes the TLS client config of a target with prometheus/common,
// over base, the config a rediss:// URL implies (its host as server name).
func (t TLS) build(base *tls.Config) (*tls.Config, error) {
	if (t.CertFile == "") != (t.KeyFile == "") {
		return nil, errors.New("tls cert_file and key_file go together")
	}
	cfg := &promconfig.TLSConfig{
		CAFile:             t.CAFile,
		CertFile:           t.CertFile,
		KeyFile:            t.KeyFile,
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify,
		MinVersion:         promconfig.TLSVersion(tls.VersionTLS12),
	}
	if cfg.ServerName == "" && base != nil {
		cfg.ServerName = base.ServerName
	}
	c, err := promconfig.NewTLSConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("tls (check ca_file, cert_file and key_file): %w", err)
	}
	return c, nil
}
