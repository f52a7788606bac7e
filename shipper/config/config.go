package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/outrigger/outrigger/shipper/decode"
	"github.com/outrigger/outrigger/shipper/input/kubernetes"
	"github.com/outrigger/outrigger/shipper/process"
)

// ByteSize is a size in bytes, written as a number or with a unit (64MiB, 1MB, 512KiB).
type ByteSize int64

var sizeRe = regexp.MustCompile(`^\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGT]?I?B?)\s*$`)

// ParseByteSize parses 1024, 64MiB, 1.5MB, 512k.
func ParseByteSize(s string) (ByteSize, error) {
	m := sizeRe.FindStringSubmatch(strings.ToUpper(s))
	if m == nil {
		return 0, fmt.Errorf("size %q: want a number of bytes or one with a unit such as 64MiB", s)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: %w", s, err)
	}
	unit := strings.TrimSuffix(strings.TrimSuffix(m[2], "B"), "I")
	mult := map[string]float64{"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}[unit]
	if !strings.Contains(m[2], "I") && unit != "" {
		mult = map[string]float64{"K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}[unit]
	}
	return ByteSize(v * mult), nil
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*b = v
	return nil
}

// Duration is a time.Duration written as 1s, 500ms, 5m.
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: duration %q: want a number with a unit such as 500ms or 5m", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// File is the YAML configuration file.
type File struct {
	Registry        Registry  `yaml:"registry"`
	MemoryLimit     ByteSize  `yaml:"memory_limit"`
	ShutdownTimeout Duration  `yaml:"shutdown_timeout"`
	Inputs          []Input   `yaml:"inputs"`
	Outputs         Outputs   `yaml:"outputs"`
	node            yaml.Node `yaml:"-"`
	name            string
}

// Registry configures the registry of offsets.
type Registry struct {
	Path          string   `yaml:"path"`
	FlushInterval Duration `yaml:"flush_interval"`
}

// Input is one file input.
type Input struct {
	Paths              []string          `yaml:"paths"`
	Exclude            []string          `yaml:"exclude"`
	StartAt            string            `yaml:"start_at"`
	FingerprintBytes   int               `yaml:"fingerprint_bytes"`
	MaxLineBytes       ByteSize          `yaml:"max_line_bytes"`
	MaxOpenFiles       int               `yaml:"max_open_files"`
	ScanInterval       Duration          `yaml:"scan_interval"`
	PollInterval       Duration          `yaml:"poll_interval"`
	PartialLineTimeout Duration          `yaml:"partial_line_timeout"`
	CloseInactive      Duration          `yaml:"close_inactive"`
	CloseRenamedAfter  Duration          `yaml:"close_renamed_after"`
	Format             string            `yaml:"format"`
	JSON               JSONOptions       `yaml:"json"`
	Multiline          *Multiline        `yaml:"multiline"`
	Timestamp          Timestamp         `yaml:"timestamp"`
	Labels             map[string]string `yaml:"labels"`
	FilenameLabel      *string           `yaml:"filename_label"`
	LabelFields        map[string]string `yaml:"label_fields"`
	MaxLabelValues     int               `yaml:"max_label_values"`
	Metadata           map[string]string `yaml:"structured_metadata"`
	Fields             map[string]string `yaml:"fields"`
	DropFields         []string          `yaml:"drop_fields"`
	RenameFields       []RenameField     `yaml:"rename_fields"`
	DropWhen           []Condition       `yaml:"drop_when"`
	Redact             Redact            `yaml:"redact"`
	// Docker follows the logs of containers instead of (or beside) paths.
	Docker *Docker `yaml:"docker"`
	// Container reads the files as container runtime logs (CRI or
	// json-file records).
	Container *Container `yaml:"container"`
	// Kubernetes names the streams of a node's container logs.
	Kubernetes *Kubernetes `yaml:"kubernetes"`

	// Set by the Filebeat translation only (no YAML of their own).
	RawFields            map[string]json.RawMessage `yaml:"-"`
	Drop                 []process.Expr             `yaml:"-"`
	ExcludeRegexps       []*regexp.Regexp           `yaml:"-"`
	WrapRaw              bool                       `yaml:"-"`
	DockerJSON           bool                       `yaml:"-"`
	ExtraTimestampFields []string                   `yaml:"-"`
	// InputType names the input in Elasticsearch documents (input.type).
	InputType string `yaml:"-"`
}

// Docker selects containers whose logs an input follows.
type Docker struct {
	// Host is the engine's API socket (unix:///var/run/docker.sock).
	Host string `yaml:"host"`
	// Labels: a container is followed when it has every one (key or key=value).
	Labels []string `yaml:"labels"`
	// RefreshInterval is how often containers are listed beside the events.
	RefreshInterval Duration `yaml:"refresh_interval"`
}

// Container configures the container log reader.
type Container struct {
	// Format: auto (per file: CRI or json-file), cri or docker.
	Format string `yaml:"format"`
}

// Kubernetes configures the Kubernetes metadata of container logs.
type Kubernetes struct {
	// Node is this node's name; default $NODE_NAME.
	Node string `yaml:"node"`
	// API: false keeps path labels only (no API requests).
	API *bool `yaml:"api"`
	// APIURL defaults to https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT.
	APIURL    string `yaml:"api_url"`
	TokenFile string `yaml:"token_file"`
	CAFile    string `yaml:"ca_file"`
	// PodLabels: stream label -> pod label keys, the first present wins.
	PodLabels map[string][]string `yaml:"pod_labels"`
	// PodAnnotations: stream label -> pod annotation key.
	PodAnnotations map[string]string `yaml:"pod_annotations"`
	MaxPods        int               `yaml:"max_pods"`
}

// JSONOptions are the ndjson options Filebeat users know.
type JSONOptions struct {
	Target        string `yaml:"target"`
	AddErrorKey   bool   `yaml:"add_error_key"`
	MessageKey    string `yaml:"message_key"`
	OverwriteKeys bool   `yaml:"overwrite_keys"`
}

// Multiline groups lines of logs that are not JSON.
type Multiline struct {
	Pattern  string   `yaml:"pattern"`
	Negate   bool     `yaml:"negate"`
	Match    string   `yaml:"match"`
	MaxLines int      `yaml:"max_lines"`
	Timeout  Duration `yaml:"timeout"`
}

// Timestamp says where a record's time is.
type Timestamp struct {
	Field   string   `yaml:"field"`
	Formats []string `yaml:"formats"`
}

// RenameField renames a top-level field.
type RenameField struct {
	From string `yaml:"from"`
	To   string `yaml:"to"`
}

// Condition drops lines.
type Condition struct {
	Field    string  `yaml:"field"`
	Equals   *string `yaml:"equals"`
	Contains string  `yaml:"contains"`
	Regexp   string  `yaml:"regexp"`
	Missing  bool    `yaml:"missing"`
}

// Redact configures the redaction of secrets.
type Redact struct {
	Patterns *bool    `yaml:"patterns"`
	Fields   []string `yaml:"fields"`
	// NoDefaultFields leaves out process.DefaultRedactFields.
	NoDefaultFields bool `yaml:"no_default_fields"`
}

// Outputs are the outputs; none configured means stdout.
type Outputs struct {
	Loki          *Loki          `yaml:"loki"`
	Elasticsearch *Elasticsearch `yaml:"elasticsearch"`
	Stdout        *Stdout        `yaml:"stdout"`
}

// Elasticsearch configures the Elasticsearch (or OpenSearch) output.
type Elasticsearch struct {
	Hosts              []string          `yaml:"hosts"`
	Index              string            `yaml:"index"`
	Indices            []IndexRule       `yaml:"indices"`
	DataStream         bool              `yaml:"data_stream"`
	Username           string            `yaml:"username"`
	Password           string            `yaml:"password"`
	PasswordFile       string            `yaml:"password_file"`
	APIKey             string            `yaml:"api_key"`
	APIKeyFile         string            `yaml:"api_key_file"`
	TLS                TLS               `yaml:"tls"`
	Headers            map[string]string `yaml:"headers"`
	Pipeline           string            `yaml:"pipeline"`
	BatchBytes         ByteSize          `yaml:"batch_bytes"`
	BatchWait          Duration          `yaml:"batch_wait"`
	Parallelism        int               `yaml:"parallelism"`
	Timeout            Duration          `yaml:"timeout"`
	MinBackoff         Duration          `yaml:"min_backoff"`
	MaxBackoff         Duration          `yaml:"max_backoff"`
	CompressionLevel   *int              `yaml:"compression_level"`
	DeadLetterPath     string            `yaml:"dead_letter_path"`
	DeadLetterMaxBytes ByteSize          `yaml:"dead_letter_max_bytes"`
	Setup              ESSetup           `yaml:"setup"`
	LabelsField        *string           `yaml:"labels_field"`
	FilebeatFields     *bool             `yaml:"filebeat_fields"`

	// Set by the Filebeat translation: routing conditions as expressions.
	RuleExprs []process.Expr `yaml:"-"`
	// KubernetesFields: container logs' labels as Filebeat's kubernetes.*
	// (set by the Filebeat translation).
	KubernetesFields bool `yaml:"-"`
}

// IndexRule routes the documents matching When to Index.
type IndexRule struct {
	Index string    `yaml:"index"`
	When  Condition `yaml:"when"`
}

// ESSetup installs an index template and lifecycle policy at start.
type ESSetup struct {
	Template           bool `yaml:"template"`
	Lifecycle          bool `yaml:"lifecycle"`
	RetentionDays      int  `yaml:"retention_days"`
	AuditRetentionDays int  `yaml:"audit_retention_days"`
}

// Loki configures the Loki output.
type Loki struct {
	URL             string   `yaml:"url"`
	TenantID        string   `yaml:"tenant_id"`
	Username        string   `yaml:"username"`
	Password        string   `yaml:"password"`
	PasswordFile    string   `yaml:"password_file"`
	BearerToken     string   `yaml:"bearer_token"`
	BearerTokenFile string   `yaml:"bearer_token_file"`
	TLS             TLS      `yaml:"tls"`
	BatchBytes      ByteSize `yaml:"batch_bytes"`
	BatchWait       Duration `yaml:"batch_wait"`
	Parallelism     int      `yaml:"parallelism"`
	Timeout         Duration `yaml:"timeout"`
	MinBackoff      Duration `yaml:"min_backoff"`
	MaxBackoff      Duration `yaml:"max_backoff"`
}

// TLS is a client TLS setup.
type TLS struct {
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// Stdout configures the debugging output.
type Stdout struct {
	Path string `yaml:"path"`
	// Format: text (time, labels, line) or json (the document an
	// Elasticsearch output would index, as Filebeat's console output).
	Format string `yaml:"format"`
	// KubernetesFields: as Elasticsearch.KubernetesFields.
	KubernetesFields bool `yaml:"-"`
}

// Parse reads a configuration strictly; name is used in error messages.
func Parse(name string, data []byte) (*File, error) {
	f := &File{name: name}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(f); err != nil {
		if errors.Is(err, io.EOF) {
			return f, nil // an empty file
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := yaml.Unmarshal(data, &f.node); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return f, nil
}

// Load reads the configuration file at path.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading configuration: %w", err)
	}
	return Parse(path, b)
}

// line returns the line of the node at a path of keys and indices ("" when unknown).
func (f *File) line(path ...any) string {
	n := &f.node
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n.Kind == 0 {
		return ""
	}
	for _, p := range path {
		var next *yaml.Node
		switch k := p.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == k {
						next = n.Content[i+1]
						break
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && k < len(n.Content) {
				next = n.Content[k]
			}
		}
		if next == nil {
			break
		}
		n = next
	}
	return strconv.Itoa(n.Line)
}

// errAt formats a validation error with the file's name and line.
func (f *File) errAt(what string, err error, path ...any) error {
	if l := f.line(path...); l != "" && f.name != "" {
		return fmt.Errorf("%s:%s: %s: %w", f.name, l, what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// validateInput checks one input and returns its processing configuration.
func (f *File) validateInput(i int, in *Input) (process.Config, []error) {
	c := &inputCheck{f: f, i: i, in: in}
	c.reading()
	pc := processConfig(in)
	pc.FilenameLabel = c.containers()
	for j, s := range in.Timestamp.Formats {
		tf, err := decode.ParseTimeFormat(s)
		if err != nil {
			c.at("timestamp", err, "formats", j)
			continue
		}
		pc.TimeFormats = append(pc.TimeFormats, tf)
	}
	c.labels(pc.FilenameLabel)
	pc.Renames, pc.DropWhen = c.edits()
	pc.RedactPatterns, pc.RedactFields = redaction(in.Redact)
	c.notRedacted(pc.RedactFields)
	c.multiline()
	return pc, c.errs
}

// inputCheck gathers the errors of one input.
type inputCheck struct {
	f    *File
	i    int
	in   *Input
	errs []error
}

// at records an error of the input's field (sub: the path below it).
func (c *inputCheck) at(field string, err error, sub ...any) {
	path := append([]any{"inputs", c.i, field}, sub...)
	c.errs = append(c.errs, c.f.errAt(fmt.Sprintf("inputs[%d].%s", c.i, field), err, path...))
}

// reading checks what is read and how: globs, the docker host, start,
// format and sizes.
func (c *inputCheck) reading() {
	in := c.in
	if len(in.Paths) == 0 && in.Docker == nil {
		c.at("paths", errors.New("at least one path glob (or docker) is needed"))
	}
	if d := in.Docker; d != nil && d.Host != "" && !strings.HasPrefix(d.Host, "unix://") && !strings.HasPrefix(d.Host, "tcp://") {
		c.at("docker", fmt.Errorf("host %q: want unix:///path/docker.sock or tcp://host:port", d.Host), "host")
	}
	for j, p := range in.Paths {
		if _, err := filepath.Match(p, ""); err != nil {
			c.at("paths", fmt.Errorf("glob %q: %w", p, err), j)
		} else if !filepath.IsAbs(p) {
			c.at("paths", fmt.Errorf("glob %q: must be an absolute path", p), j)
		}
	}
	for j, p := range in.Exclude {
		if _, err := filepath.Match(p, ""); err != nil {
			c.at("exclude", fmt.Errorf("glob %q: %w", p, err), j)
		}
	}
	switch in.StartAt {
	case "", "beginning", "end":
	default:
		c.at("start_at", fmt.Errorf("%q: want beginning or end", in.StartAt))
	}
	switch in.Format {
	case "", "json", "raw":
	default:
		c.at("format", fmt.Errorf("%q: want json or raw", in.Format))
	}
	if in.FingerprintBytes < 0 || in.FingerprintBytes > 1<<20 {
		c.at("fingerprint_bytes", errors.New("must be between 1 and 1048576"))
	}
	if in.MaxLineBytes < 0 || in.MaxOpenFiles < 0 || in.MaxLabelValues < 0 {
		c.at("max_line_bytes", errors.New("sizes and counts must not be negative"))
	}
}

// processConfig is the processing an input's fields say as they are (the
// checked parts are filled by validateInput).
func processConfig(in *Input) process.Config {
	pc := process.Config{JSON: in.Format != "raw", Target: in.JSON.Target, AddErrorKey: in.JSON.AddErrorKey,
		MessageKey: in.JSON.MessageKey, OverwriteKeys: in.JSON.OverwriteKeys, TimestampField: in.Timestamp.Field,
		StaticLabels: in.Labels, LabelFields: in.LabelFields, MaxLabelValues: in.MaxLabelValues,
		MetadataFields: in.Metadata, StaticFields: in.Fields, DropFields: in.DropFields,
		RawFields: in.RawFields, Drop: in.Drop, WrapRaw: in.WrapRaw, ExtraTimestampFields: in.ExtraTimestampFields}
	if in.Timestamp.Field == "" {
		pc.TimestampField = "timestamp"
	}
	return pc
}

// containers checks the docker, container and kubernetes settings and
// returns the filename label: none for container logs (their streams are
// named by container or pod), unless the input sets one.
func (c *inputCheck) containers() (filenameLabel string) {
	in := c.in
	filenameLabel = "filename"
	if in.Docker != nil {
		filenameLabel = "" // streams are named by container, not by its log path
		if in.Multiline != nil {
			c.at("multiline", errors.New("is not supported on a docker input"))
		}
	}
	if ct := in.Container; ct != nil {
		if _, err := decode.ParseContainerFormat(ct.Format); err != nil {
			c.at("container", err, "format")
		}
		if in.Docker != nil {
			c.at("container", errors.New("a docker input reads json-file records already"))
		}
	}
	if in.Container != nil || in.Kubernetes != nil {
		filenameLabel = "" // streams are named by pod and container
		if in.Multiline != nil {
			c.at("multiline", errors.New("is not supported on container logs"))
		}
	}
	if in.Kubernetes != nil {
		c.kubernetes()
	}
	if in.FilenameLabel != nil {
		filenameLabel = *in.FilenameLabel
	}
	return filenameLabel
}

// kubernetes checks the kubernetes settings.
func (c *inputCheck) kubernetes() {
	k := c.in.Kubernetes
	if c.in.Docker != nil {
		c.at("kubernetes", errors.New("does not apply to a docker input"))
	}
	if k.APIURL != "" {
		if u, err := url.Parse(k.APIURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			c.at("kubernetes", fmt.Errorf("api_url %q: want https://host:port", k.APIURL), "api_url")
		}
	}
	if k.MaxPods < 0 {
		c.at("kubernetes", errors.New("max_pods must not be negative"), "max_pods")
	}
	for name, keys := range k.PodLabels {
		if err := process.ValidLabelName(name); err != nil {
			c.at("kubernetes", err, "pod_labels", name)
		}
		if len(keys) == 0 {
			c.at("kubernetes", fmt.Errorf("pod_labels.%s: at least one pod label key", name), "pod_labels", name)
		}
	}
	for name := range k.PodAnnotations {
		if err := process.ValidLabelName(name); err != nil {
			c.at("kubernetes", err, "pod_annotations", name)
		}
	}
}

// streamLabels is how many labels the input's streams carry.
func streamLabels(in *Input, filenameLabel string) int {
	n := len(in.Labels) + len(in.LabelFields)
	if in.Docker != nil {
		n += 5 // container, compose_project, compose_service, image, stream
	}
	if in.Container != nil || in.Kubernetes != nil {
		n++ // stream
	}
	if k := in.Kubernetes; k != nil {
		n += 4 + len(k.podLabels()) + len(k.PodAnnotations) // node, namespace, pod, container
	}
	if filenameLabel != "" {
		n++
	}
	return n
}

// labels checks the stream labels: valid names, no more than Loki takes.
func (c *inputCheck) labels(filenameLabel string) {
	in := c.in
	if filenameLabel != "" {
		if err := process.ValidLabelName(filenameLabel); err != nil {
			c.at("filename_label", err)
		}
	}
	if n := streamLabels(in, filenameLabel); n > 15 {
		c.at("labels", fmt.Errorf("%d labels per stream: Loki accepts at most 15", n))
	}
	for k := range in.Labels {
		if err := process.ValidLabelName(k); err != nil {
			c.at("labels", err, k)
		}
	}
	for k := range in.LabelFields {
		if err := process.ValidLabelName(k); err != nil {
			c.at("label_fields", err, k)
		}
		if _, dup := in.Labels[k]; dup {
			c.at("label_fields", fmt.Errorf("label %q is also a static label", k), k)
		}
	}
	for k := range in.Metadata {
		if err := process.ValidLabelName(k); err != nil {
			c.at("structured_metadata", err, k)
		}
	}
}

// edits checks and makes the field renames and the drop conditions.
func (c *inputCheck) edits() ([]process.Rename, []process.Condition) {
	var renames []process.Rename
	for j, r := range c.in.RenameFields {
		if r.From == "" || r.To == "" {
			c.at("rename_fields", errors.New("from and to are both needed"), j)
		}
		renames = append(renames, process.Rename{From: r.From, To: r.To})
	}
	var conds []process.Condition
	for j, d := range c.in.DropWhen {
		pcond := process.Condition{Field: d.Field, Equals: d.Equals, Contains: d.Contains, Missing: d.Missing}
		if d.Regexp != "" {
			re, err := regexp.Compile(d.Regexp)
			if err != nil {
				c.at("drop_when", fmt.Errorf("regexp: %w", err), j, "regexp")
			}
			pcond.Regexp = re
		}
		if d.Equals == nil && d.Contains == "" && d.Regexp == "" && !d.Missing {
			c.at("drop_when", errors.New("a condition needs equals, contains, regexp or missing"), j)
		}
		conds = append(conds, pcond)
	}
	return renames, conds
}

// redaction is what the redact settings say: patterns on (the default) or
// off, and the keys whose values are redacted (the defaults unless turned
// off, then the input's).
func redaction(r Redact) (patterns bool, fields []string) {
	patterns = true
	if r.Patterns != nil {
		patterns = *r.Patterns
	}
	if !r.NoDefaultFields {
		fields = append(fields, process.DefaultRedactFields...)
	}
	for _, fl := range r.Fields {
		if fl != "" {
			fields = append(fields, fl)
		}
	}
	return patterns, fields
}

// notRedacted checks that no label or metadata value comes from a
// redacted field: it is shipped beside the line, not in it, and would
// publish the secret.
func (c *inputCheck) notRedacted(redactFields []string) {
	red := process.NewRedactor(false, redactFields)
	for name, field := range c.in.LabelFields {
		if k := redactedPart(red, field); k != "" {
			c.at("label_fields", fmt.Errorf("label %q takes field %q, whose key %q is redacted (redact.fields): a secret must not become a label", name, field, k), name)
		}
	}
	for name, field := range c.in.Metadata {
		if k := redactedPart(red, field); k != "" {
			c.at("structured_metadata", fmt.Errorf("metadata %q takes field %q, whose key %q is redacted (redact.fields): a secret must not become structured metadata", name, field, k), name)
		}
	}
}

// multiline checks the multiline settings.
func (c *inputCheck) multiline() {
	ml := c.in.Multiline
	if ml == nil {
		return
	}
	if _, err := regexp.Compile(ml.Pattern); err != nil || ml.Pattern == "" {
		c.at("multiline", fmt.Errorf("pattern %q: must be a valid regular expression", ml.Pattern), "pattern")
	}
	switch ml.Match {
	case "", "after", "before":
	default:
		c.at("multiline", fmt.Errorf("match %q: want after or before", ml.Match), "match")
	}
}

func (k *Kubernetes) podLabels() map[string][]string {
	if k.PodLabels == nil {
		return kubernetes.DefaultPodLabels()
	}
	return k.PodLabels
}

// redactedPart returns the part of a dotted field path that is a redacted
// key ("" when none is).
func redactedPart(r *process.Redactor, field string) string {
	for _, part := range strings.Split(field, ".") {
		if r.IsField(part) {
			return part
		}
	}
	if r.IsField(field) {
		return field
	}
	return ""
}
