package elasticsearch

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/klauspost/compress/gzip"

	"github.com/outrigger/outrigger/shipper/event"
	"github.com/outrigger/outrigger/shipper/internal/tlsclient"
	"github.com/outrigger/outrigger/shipper/output"
)

// TLS is the client's TLS setup.
type TLS = tlsclient.Config

// IndexRule sends the documents When matches to Index (Filebeat's indices).
type IndexRule struct {
	Index *Pattern
	When  func(doc []byte) bool
}

// Config configures the output.
type Config struct {
	Name string
	// Hosts are base URLs; "host:9200" without a scheme means http://.
	Hosts []string
	// Index is the index pattern; Indices are tried first.
	Index   *Pattern
	Indices []IndexRule
	// DataStream: the indices are data streams (create only, @timestamp
	// required); the installed template declares them.
	DataStream bool
	Username   string
	Password   string
	// APIKey is "id:key" or its base64 encoding.
	APIKey   string
	TLS      TLS
	Headers  map[string]string
	Pipeline string
	// BatchBytes and BatchWait bound a bulk request by size and age.
	BatchBytes  int
	BatchWait   time.Duration
	Parallelism int
	Timeout     time.Duration
	MinBackoff  time.Duration
	MaxBackoff  time.Duration
	// GzipLevel: 0 is the default (1, fastest), -1 sends uncompressed.
	GzipLevel int
	// DeadLetterPath keeps rejected documents; DeadLetterMaxBytes caps it.
	DeadLetterPath     string
	DeadLetterMaxBytes int64
	// Setup installs an index template (and, with Lifecycle, a lifecycle
	// policy deleting indices after Retention, AuditRetention for indices
	// whose name contains "audit") before the first request.
	SetupTemplate  bool
	SetupLifecycle bool
	Retention      time.Duration
	AuditRetention time.Duration
	// Meta adds the fields Filebeat adds (log.file.path, log.offset,
	// input.type, host.name, agent, ecs.version) where the document lacks them.
	Meta      bool
	InputType string
	// LabelsField puts the stream labels under this key ("" leaves them out).
	LabelsField string
	// Kubernetes writes container logs' labels as Filebeat's kubernetes.*.
	Kubernetes bool
	Logger     *slog.Logger
}

// Defaults fills zero fields.
func (c *Config) Defaults() {
	if c.Name == "" {
		c.Name = "elasticsearch"
	}
	if c.BatchBytes == 0 {
		c.BatchBytes = 1 << 20
	}
	if c.BatchWait == 0 {
		c.BatchWait = time.Second
	}
	if c.Parallelism == 0 {
		c.Parallelism = 2
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	if c.MinBackoff == 0 {
		c.MinBackoff = 500 * time.Millisecond
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = time.Minute
	}
	if c.GzipLevel == 0 {
		c.GzipLevel = 1
	}
	if c.Retention == 0 {
		c.Retention = 30 * 24 * time.Hour
	}
	if c.AuditRetention == 0 {
		c.AuditRetention = 90 * 24 * time.Hour
	}
	if c.DeadLetterMaxBytes == 0 {
		c.DeadLetterMaxBytes = 256 << 20
	}
	if c.InputType == "" {
		c.InputType = "log"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// NormalizeHost turns "host:9200" into "http://host:9200" and checks the URL.
func NormalizeHost(h string) (string, error) {
	if !strings.Contains(h, "://") {
		h = "http://" + h
	}
	u, err := url.Parse(h)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("host %q: want http(s)://host:port or host:port", h)
	}
	if u.User != nil {
		return "", errors.New("host URLs must not hold credentials: use username and password")
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// Output is the Elasticsearch output.
type Output struct {
	cfg    Config
	index  int
	hosts  []string
	auth   string
	client *http.Client
	m      *output.Metrics
	log    *slog.Logger
	dead   deadLetters

	workers []*worker
	next    atomic.Uint64
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	setup   chan struct{} // closed when setup is done (or not wanted)

	mu      sync.Mutex
	lastErr error
	lastTry time.Time
	hostIdx int
}

// New returns the output; index is its position among the pipeline's outputs.
func New(cfg Config, index int, m *output.Metrics) (*Output, error) {
	cfg.Defaults()
	if len(cfg.Hosts) == 0 {
		return nil, errors.New("elasticsearch: at least one host is needed")
	}
	if cfg.Index == nil {
		return nil, errors.New("elasticsearch: an index pattern is needed")
	}
	o := &Output{cfg: cfg, index: index, m: m, log: cfg.Logger, setup: make(chan struct{})}
	for _, h := range cfg.Hosts {
		u, err := NormalizeHost(h)
		if err != nil {
			return nil, fmt.Errorf("elasticsearch: %w", err)
		}
		o.hosts = append(o.hosts, u)
	}
	switch {
	case cfg.APIKey != "":
		key := cfg.APIKey
		if strings.Contains(key, ":") {
			key = base64.StdEncoding.EncodeToString([]byte(key))
		}
		o.auth = "ApiKey " + key
	case cfg.Username != "":
		o.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(cfg.Username+":"+cfg.Password))
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = cfg.Parallelism + 2
	tr.DisableCompression = true
	if cfg.TLS != (TLS{}) || strings.HasPrefix(o.hosts[0], "https:") {
		tc, err := cfg.TLS.Build("elasticsearch")
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = tc
	}
	o.client = &http.Client{Transport: tr, Timeout: cfg.Timeout}
	o.dead = deadLetters{path: cfg.DeadLetterPath, maxBytes: cfg.DeadLetterMaxBytes}
	m.Up.WithLabelValues(cfg.Name).Set(1)
	for _, r := range []string{"network", "rate_limited", "server_error", "unauthorized", "client_error", "item_rate_limited", "item_server_error", "dead_letter_error"} {
		m.Retries.WithLabelValues(cfg.Name, r)
	}
	for _, r := range []string{"mapping_conflict", "rejected", "too_large", "index_field_missing", "invalid_index_name", "dead_letter_full"} {
		m.Dropped.WithLabelValues(cfg.Name, r)
	}
	m.ShippedLines.WithLabelValues(cfg.Name)
	m.ShippedBytes.WithLabelValues(cfg.Name)
	m.Duplicates.WithLabelValues(cfg.Name)
	m.DeadLetters.WithLabelValues(cfg.Name)
	return o, nil
}

// Name implements event.Output.
func (o *Output) Name() string { return o.cfg.Name }

// Start implements event.Output.
func (o *Output) Start(ctx context.Context) error {
	if err := o.dead.open(); err != nil {
		return err
	}
	o.ctx, o.cancel = context.WithCancel(context.WithoutCancel(ctx))
	if o.cfg.SetupTemplate || o.cfg.SetupLifecycle {
		o.wg.Add(1)
		go func() {
			defer o.wg.Done()
			defer close(o.setup)
			o.runSetup()
		}()
	} else {
		close(o.setup)
	}
	for range o.cfg.Parallelism {
		w := &worker{o: o, in: make(chan []*event.Event, 8), reqs: make(chan *batch, 1), free: make(chan *batch, 2),
			docs:        o.docBuilder(),
			needMembers: len(o.cfg.Indices) > 0 || !o.cfg.Index.Static() || (o.cfg.LabelsField != "" && o.cfg.LabelsField != "labels")}
		o.workers = append(o.workers, w)
		o.wg.Add(2)
		go w.collect()
		go w.send()
	}
	return nil
}

// Send implements event.Output: each call's events go to one worker, in turn.
func (o *Output) Send(ctx context.Context, events []*event.Event) bool {
	w := o.workers[o.next.Add(1)%uint64(len(o.workers))]
	select {
	case w.in <- events:
		return true
	case <-ctx.Done():
		return false
	}
}

// Shutdown implements event.Output.
func (o *Output) Shutdown(ctx context.Context) {
	if o.cancel == nil {
		return
	}
	for _, w := range o.workers {
		close(w.in)
	}
	done := make(chan struct{})
	go func() { o.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		o.cancel()
		<-done
	}
	o.cancel()
	o.dead.close()
}

// Ready implements event.Output: the last request succeeded, or, when idle,
// the cluster answers.
func (o *Output) Ready(ctx context.Context) error {
	o.mu.Lock()
	err, last := o.lastErr, o.lastTry
	o.mu.Unlock()
	if !last.IsZero() && time.Since(last) < 10*time.Second {
		return err
	}
	code, _, rerr := o.do(ctx, http.MethodGet, "/", nil, false)
	switch {
	case rerr != nil:
		return fmt.Errorf("elasticsearch output %s: not reachable", o.cfg.Name)
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return fmt.Errorf("elasticsearch output %s: credentials refused (HTTP %d)", o.cfg.Name, code)
	case code >= 500:
		return fmt.Errorf("elasticsearch output %s: HTTP %d", o.cfg.Name, code)
	}
	return nil
}

func (o *Output) setState(err error) {
	o.mu.Lock()
	o.lastErr, o.lastTry = err, time.Now()
	o.mu.Unlock()
	v := 1.0
	if err != nil {
		v = 0
	}
	o.m.Up.WithLabelValues(o.cfg.Name).Set(v)
}

// do sends one request to the current host; a transport error moves to
// the next host for the following request.
func (o *Output) do(ctx context.Context, method, path string, body []byte, gz bool) (int, []byte, error) {
	o.mu.Lock()
	host := o.hosts[o.hostIdx%len(o.hosts)]
	o.mu.Unlock()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, host+path, rd)
	if err != nil {
		return 0, nil, fmt.Errorf("building request: %w", err)
	}
	req.Header.Set("User-Agent", "outrigger-log-shipper")
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if gz {
		req.Header.Set("Content-Type", "application/x-ndjson")
		req.Header.Set("Content-Encoding", "gzip")
	}
	for k, v := range o.cfg.Headers {
		req.Header.Set(k, v)
	}
	if o.auth != "" {
		req.Header.Set("Authorization", o.auth)
	}
	resp, err := o.client.Do(req)
	if err != nil {
		o.mu.Lock()
		o.hostIdx++
		o.mu.Unlock()
		return 0, nil, transportError(err)
	}
	defer resp.Body.Close()
	limit := int64(maxResponseBytes)
	if strings.HasPrefix(path, "/_bulk") {
		limit = maxBulkResponseBytes
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return 0, nil, transportError(err)
	}
	if int64(len(b)) > limit {
		return 0, nil, fmt.Errorf("%w: more than %d bytes", errResponseTooLarge, limit)
	}
	return resp.StatusCode, b, nil
}

// Response caps: a bulk response (filtered to status and error per item)
// stays far below 64 MiB for any batch this output sends; every other
// response (cluster info, template and policy answers) below 1 MiB. A
// longer answer is not Elasticsearch's: an error, never read on.
const (
	maxResponseBytes     = 1 << 20
	maxBulkResponseBytes = 64 << 20
)

var errResponseTooLarge = errors.New("response too large")

// transportError drops the URL from a client error.
func transportError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// docID is the deterministic id of a record: its source's stable key and
// its offset, so a replay after a crash creates nothing new. 128 bits of
// xxHash64 (of key/offset, and of the same with a suffix), base64url: ids
// are not secrets, and SHA-256 cost as much as building the document.
func docID(dst []byte, key string, offset int64) []byte {
	var in [192]byte
	b := append(in[:0], key...)
	b = append(b, '/')
	b = strconv.AppendInt(b, offset, 10)
	var sum [16]byte
	binary.BigEndian.PutUint64(sum[:8], xxhash.Sum64(b))
	binary.BigEndian.PutUint64(sum[8:], xxhash.Sum64(append(b, '#')))
	return base64.RawURLEncoding.AppendEncode(dst, sum[:])
}

var gzipPool = sync.Pool{}

func (o *Output) compress(dst *bytes.Buffer, body []byte) error {
	dst.Reset()
	zw, _ := gzipPool.Get().(*gzip.Writer)
	if zw == nil {
		var err error
		if zw, err = gzip.NewWriterLevel(dst, o.cfg.GzipLevel); err != nil {
			return fmt.Errorf("gzip: %w", err)
		}
	} else {
		zw.Reset(dst)
	}
	defer gzipPool.Put(zw)
	if _, err := zw.Write(body); err != nil {
		return fmt.Errorf("gzip: %w", err)
	}
	return zw.Close()
}

func (o *Output) docBuilder() *DocBuilder {
	b := NewDocBuilder(o.cfg.Meta, o.cfg.InputType, o.cfg.LabelsField)
	b.Kubernetes = o.cfg.Kubernetes
	return b
}
