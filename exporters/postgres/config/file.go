package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// File is the exporter's configuration file.
type File struct {
	// AuthModules hold the credentials /probe uses, chosen by ?auth_module=.
	AuthModules map[string]AuthModule `yaml:"auth_modules"`
	// Queries are custom queries turned into metrics.
	Queries []Query `yaml:"queries"`
}

// AuthModule is one set of credentials for /probe.
type AuthModule struct {
	Type     string   `yaml:"type"`
	UserPass UserPass `yaml:"userpass"`
	// Options are added to the connection string (sslmode, dbname, ...).
	Options map[string]string `yaml:"options"`
	// Targets are the host:port patterns (`*` in the host matches any
	// characters, a port of `*` any port) the module's credentials may be
	// sent to. Without any, only the host:port of --postgres.dsn.
	Targets []string `yaml:"targets"`
	line    int
}

// UserPass is a user name and a password or a file holding it.
type UserPass struct {
	Username     string `yaml:"username"`
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
}

// Query is a custom query: each row gives one series per value column, with
// the label columns as labels.
type Query struct {
	// Name prefixes the metric names: <name>_<column>.
	Name string `yaml:"name"`
	Help string `yaml:"help"`
	SQL  string `yaml:"query"`
	// Labels are the columns that become labels.
	Labels []string `yaml:"labels"`
	// Values are the columns that become series.
	Values []Value `yaml:"values"`
	// TTL serves the last result for this long (0: run every scrape).
	TTL time.Duration `yaml:"ttl"`
	// Timeout bounds the query (0: the scrape deadline only).
	Timeout time.Duration `yaml:"timeout"`
	// MinServerVersion like "14" or "9.6" skips the query on older servers.
	MinServerVersion string `yaml:"min_server_version"`
	// MinVersionNum is MinServerVersion as server_version_num.
	MinVersionNum int64 `yaml:"-"`
	Line          int   `yaml:"-"`
}

// Value is one value column of a custom query.
type Value struct {
	Column string `yaml:"column"`
	// Type is gauge or counter.
	Type string `yaml:"type"`
	Help string `yaml:"help"`
}

// Metric is the full name of a value's series: pg_<query>_<column>.
func (q Query) Metric(v Value) string { return "pg_" + q.Name + "_" + v.Column }

var nameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// LoadFile reads and validates a configuration file.
func LoadFile(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config file: %w", err)
	}
	f, err := ParseFile(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// ParseFile decodes a configuration strictly and validates it.
func ParseFile(b []byte) (*File, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("decoding: %w", err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, fmt.Errorf("decoding: %w", err)
	}
	setLines(&root, &f)
	if err := f.validate(); err != nil {
		return nil, err
	}
	return &f, nil
}

// setLines records the line of every query and auth module for errors.
func setLines(root *yaml.Node, f *File) {
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return
	}
	m := root.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		key, val := m.Content[i], m.Content[i+1]
		switch key.Value {
		case "queries":
			for j, q := range val.Content {
				if j < len(f.Queries) {
					f.Queries[j].Line = q.Line
				}
			}
		case "auth_modules":
			for j := 0; j+1 < len(val.Content); j += 2 {
				name := val.Content[j].Value
				if am, ok := f.AuthModules[name]; ok {
					am.line = val.Content[j].Line
					f.AuthModules[name] = am
				}
			}
		}
	}
}

// validate checks every query and auth module; each error names its line.
func (f *File) validate() error {
	var errs []error
	seen := map[string]int{}
	for i := range f.Queries {
		errs = append(errs, f.Queries[i].validate(seen)...)
	}
	for _, name := range slices.Sorted(maps.Keys(f.AuthModules)) {
		errs = append(errs, f.AuthModules[name].validate(name)...)
	}
	return errors.Join(errs...)
}

// validate checks one query and sets MinVersionNum; seen holds the line of
// each query name met so far.
func (q *Query) validate(seen map[string]int) []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("line %d: query %q: %s", q.Line, q.Name, fmt.Sprintf(format, args...)))
	}
	if !nameRE.MatchString(q.Name) {
		bad("name must match %s", nameRE)
	}
	if prev, ok := seen[q.Name]; ok {
		bad("name already used by the query at line %d", prev)
	}
	seen[q.Name] = q.Line
	if strings.TrimSpace(q.SQL) == "" {
		bad("query is empty")
	}
	if len(q.Values) == 0 {
		bad("at least one value column is needed")
	}
	cols := map[string]bool{}
	for _, l := range q.Labels {
		if !nameRE.MatchString(l) {
			bad("label %q must match %s", l, nameRE)
		}
		if cols[l] {
			bad("column %q listed twice", l)
		}
		cols[l] = true
	}
	for _, v := range q.Values {
		if !nameRE.MatchString(v.Column) {
			bad("value column %q must match %s", v.Column, nameRE)
		}
		if cols[v.Column] {
			bad("column %q listed twice", v.Column)
		}
		cols[v.Column] = true
		switch v.Type {
		case "gauge", "counter":
		default:
			bad("value %q: type must be gauge or counter, not %q", v.Column, v.Type)
		}
	}
	if q.TTL < 0 || q.Timeout < 0 {
		bad("ttl and timeout must not be negative")
	}
	if q.MinServerVersion != "" {
		n, err := VersionNum(q.MinServerVersion)
		if err != nil {
			bad("min_server_version: %v", err)
		}
		q.MinVersionNum = n
	}
	return errs
}

// validate checks one auth module.
func (am AuthModule) validate(name string) []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("line %d: auth module %q: %s", am.line, name, fmt.Sprintf(format, args...)))
	}
	if am.Type != "userpass" {
		bad("type must be userpass, not %q", am.Type)
	}
	if am.UserPass.Username == "" {
		bad("userpass.username is empty")
	}
	if am.UserPass.Password != "" && am.UserPass.PasswordFile != "" {
		bad("set userpass.password or userpass.password_file, not both")
	}
	for k := range am.Options {
		switch k {
		case "user", "password", "host", "port":
			bad("option %q belongs elsewhere (credentials in userpass, host and port in the target)", k)
		}
	}
	for _, t := range am.Targets {
		if err := checkTargetPattern(t); err != nil {
			bad("targets: %v", err)
		}
	}
	return errs
}

// VersionNum turns "14", "9.6" or "15.4" into server_version_num form.
func VersionNum(s string) (int64, error) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) > 2 {
		return 0, fmt.Errorf("%q: want MAJOR or MAJOR.MINOR", s)
	}
	var nums []int64
	for _, p := range parts {
		n, err := strconv.ParseInt(p, 10, 32)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q: want MAJOR or MAJOR.MINOR", s)
		}
		nums = append(nums, n)
	}
	major := nums[0]
	minor := int64(0)
	if len(nums) == 2 {
		minor = nums[1]
	}
	if major >= 10 {
		return major*10000 + minor, nil
	}
	return major*10000 + minor*100, nil
}

// Password returns the module's password, reading its file if set.
func (am AuthModule) Password() (string, error) {
	if am.UserPass.PasswordFile == "" {
		return am.UserPass.Password, nil
	}
	b, err := os.ReadFile(am.UserPass.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("reading password file of auth module: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// checkTargetPattern accepts HOST:PORT, [IPV6]:PORT, with `*` in the host
// and a port that is a number or `*`.
func checkTargetPattern(p string) error {
	host, port, err := net.SplitHostPort(p)
	if err != nil || host == "" {
		return fmt.Errorf("%q is not host:port", p)
	}
	if port != "*" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%q: the port must be a number or *", p)
		}
	}
	if strings.ContainsAny(host, "/?#@ ") {
		return fmt.Errorf("%q: not a host name", p)
	}
	return nil
}

// Allows reports whether the module's credentials may be sent to hostport
// (host:port, as the probe will dial it). A module without targets allows
// only dsnHosts, the host:port pairs of --postgres.dsn.
func (am AuthModule) Allows(hostport string, dsnHosts []string) bool {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	patterns := am.Targets
	if len(patterns) == 0 {
		patterns = dsnHosts
	}
	for _, p := range patterns {
		ph, pp, err := net.SplitHostPort(p)
		if err != nil {
			continue
		}
		if (pp == "*" || pp == port) && globMatch(strings.ToLower(ph), strings.ToLower(host)) {
			return true
		}
	}
	return false
}

// globMatch matches s against pattern, where `*` stands for any run of
// characters and everything else for itself.
func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return len(s) >= len(last) && strings.HasSuffix(s, last)
}
