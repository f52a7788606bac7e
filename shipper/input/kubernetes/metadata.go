package kubernetes

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/outrigger/outrigger/internal/promkit/backoff"
	"github.com/outrigger/outrigger/shipper/event"
	"github.com/outrigger/outrigger/shipper/internal/tlsclient"
)

// SkipAnnotation set to "false" on a pod leaves its logs out.
const SkipAnnotation = "outrigger.io/logs"

// In-cluster defaults.
const (
	DefaultTokenFile = "/var/run/secrets/kubernetes.io/serviceaccount/token"
	DefaultCAFile    = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
)

// DefaultPodLabels are the pod labels that name streams unless configured:
// stream label -> pod label keys, the first present wins.
func DefaultPodLabels() map[string][]string {
	return map[string][]string{"app": {"app.kubernetes.io/name", "app"}, "component": {"app.kubernetes.io/component", "component"}}
}

// Config configures the metadata.
type Config struct {
	// Node is this node's name (NODE_NAME from spec.nodeName); it is a
	// stream label and selects the pods watched.
	Node string
	// API is the API server's URL (https://KUBERNETES_SERVICE_HOST:PORT);
	// "" uses path labels only.
	API string
	// TokenFile is read at every request (the kubelet rotates it).
	TokenFile string
	// CAFile verifies the API server ("" uses the system's roots).
	CAFile string
	// PodLabels: stream label -> pod label keys tried in order.
	PodLabels map[string][]string
	// PodAnnotations: stream label -> pod annotation key.
	PodAnnotations map[string]string
	// MaxPods bounds the cache (1000).
	MaxPods int
	// SyncTimeout bounds the first list before reading starts (5s).
	SyncTimeout time.Duration
	// WatchTimeout is asked of the server per watch (5m).
	WatchTimeout time.Duration
	// MinBackoff and MaxBackoff pace reconnections (500ms, 30s).
	MinBackoff, MaxBackoff time.Duration
	Logger                 *slog.Logger
	Metrics                *Metrics // nil: none
}

type podInfo struct {
	uid     string
	labels  []event.Label
	skip    bool
	deleted time.Time
}

// Metadata labels container logs; it implements the pipeline's Discovery
// and Metadata. One Metadata serves every input: it runs one watch.
type Metadata struct {
	cfg    Config
	client *http.Client
	log    *slog.Logger

	mu      sync.RWMutex
	pods    map[string]*podInfo // namespace/name
	rv      string
	err     error
	full    bool
	gen     atomic.Uint64
	running atomic.Bool
}

// New returns the metadata; it does no I/O but reading the CA file.
func New(cfg Config) (*Metadata, error) {
	if cfg.TokenFile == "" {
		cfg.TokenFile = DefaultTokenFile
	}
	if cfg.PodLabels == nil {
		cfg.PodLabels = DefaultPodLabels()
	}
	if cfg.MaxPods <= 0 {
		cfg.MaxPods = 1000
	}
	if cfg.SyncTimeout == 0 {
		cfg.SyncTimeout = 5 * time.Second
	}
	if cfg.WatchTimeout == 0 {
		cfg.WatchTimeout = 5 * time.Minute
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Metadata{cfg: cfg, log: cfg.Logger, pods: map[string]*podInfo{}}
	if cfg.API == "" {
		return m, nil
	}
	if cfg.Node == "" {
		return nil, errors.New("kubernetes: the node name is needed to watch this node's pods (NODE_NAME from spec.nodeName)")
	}
	u, err := url.Parse(cfg.API)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("kubernetes: API URL %q: want https://host:port", cfg.API)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost, tr.MaxConnsPerHost = 1, 1 // one connection to the API server
	if cfg.CAFile != "" {
		tc, err := tlsclient.Config{CAFile: cfg.CAFile}.Build("kubernetes")
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = tc
	}
	m.client = &http.Client{Transport: tr}
	return m, nil
}

// Paths is part of the Discovery: the globs find the files.
func (m *Metadata) Paths() []string { return nil }

// Generation changes with every change of the cache.
func (m *Metadata) Generation() uint64 { return m.gen.Load() }

// Err is the last error talking to the API (nil when the watch runs).
func (m *Metadata) Err() error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.err
}

// NotReady says, for /ready, that the API does not answer.
func (m *Metadata) NotReady() error {
	if err := m.Err(); err != nil {
		return fmt.Errorf("kubernetes API unreachable, streams have path labels only: %w", err)
	}
	return nil
}

// Labels are the stream labels of a container log: namespace, pod,
// container and node always, the pod's chosen labels when known.
func (m *Metadata) Labels(path string) []event.Label {
	var out []event.Label
	if m.cfg.Node != "" {
		out = append(out, event.Label{Name: "node", Value: clean(m.cfg.Node)})
	}
	pi, ok := ParsePath(path)
	if !ok {
		return out
	}
	out = append(out, event.Label{Name: "namespace", Value: clean(pi.Namespace)}, event.Label{Name: "pod", Value: clean(pi.Pod)},
		event.Label{Name: "container", Value: clean(pi.Container)})
	m.mu.RLock()
	defer m.mu.RUnlock()
	if p := m.pods[pi.Namespace+"/"+pi.Pod]; p != nil && (pi.UID == "" || p.uid == pi.UID) {
		out = append(out, p.labels...)
	}
	return out
}

// Skip says the pod of path opted out (outrigger.io/logs: "false").
func (m *Metadata) Skip(path string) bool {
	pi, ok := ParsePath(path)
	if !ok {
		return false
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	p := m.pods[pi.Namespace+"/"+pi.Pod]
	return p != nil && p.skip && (pi.UID == "" || p.uid == pi.UID)
}

// clean makes a label value valid UTF-8 of at most 256 bytes.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= 256 {
		return s
	}
	cut := 256
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

func (m *Metadata) info(p *Pod) *podInfo {
	pi := &podInfo{uid: p.Metadata.UID, skip: strings.EqualFold(p.Metadata.Annotations[SkipAnnotation], "false")}
	for name, keys := range m.cfg.PodLabels {
		for _, k := range keys {
			if v, ok := p.Metadata.Labels[k]; ok && v != "" {
				pi.labels = append(pi.labels, event.Label{Name: name, Value: clean(v)})
				break
			}
		}
	}
	for name, k := range m.cfg.PodAnnotations {
		if v := p.Metadata.Annotations[k]; v != "" {
			pi.labels = append(pi.labels, event.Label{Name: name, Value: clean(v)})
		}
	}
	sort.Slice(pi.labels, func(i, j int) bool { return pi.labels[i].Name < pi.labels[j].Name })
	return pi
}

// deletedRetention keeps a deleted pod's labels for the last reads of
// its logs.
const deletedRetention = 10 * time.Minute

// put adds or replaces a pod; m.mu is held.
func (m *Metadata) put(p *Pod, now time.Time) {
	key := p.Metadata.Namespace + "/" + p.Metadata.Name
	if _, ok := m.pods[key]; !ok && len(m.pods) >= m.cfg.MaxPods {
		m.prune(now, true)
		if len(m.pods) >= m.cfg.MaxPods {
			if !m.full {
				m.log.Warn("kubernetes: pod cache full; further pods get path labels only", "max_pods", m.cfg.MaxPods)
			}
			m.full = true
			return
		}
	}
	m.pods[key] = m.info(p)
}

// prune forgets deleted pods (all of them when force).
func (m *Metadata) prune(now time.Time, force bool) {
	for k, p := range m.pods {
		if !p.deleted.IsZero() && (force || now.Sub(p.deleted) > deletedRetention) {
			delete(m.pods, k)
		}
	}
}

// count records a request's outcome.
func (m *Metadata) count(request string, err error) {
	if m.cfg.Metrics == nil {
		return
	}
	outcome := "ok"
	switch {
	case errors.Is(err, errGone):
		outcome = "gone"
	case err != nil:
		outcome = "error"
	}
	m.cfg.Metrics.Requests.WithLabelValues(request, outcome).Inc()
}

// gauge sets the cache size; m.mu is held.
func (m *Metadata) gauge() {
	if m.cfg.Metrics != nil {
		m.cfg.Metrics.Pods.Set(float64(len(m.pods)))
	}
}

func (m *Metadata) setErr(err error) {
	m.mu.Lock()
	m.err = err
	m.mu.Unlock()
}

// Refresh lists this node's pods once, within the sync timeout, so files
// found at start have their pods' labels.
func (m *Metadata) Refresh(ctx context.Context) error {
	if m.client == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, m.cfg.SyncTimeout)
	defer cancel()
	err := m.list(ctx)
	m.setErr(err)
	return err
}

// Run keeps the cache up to date until ctx ends: watch from the last
// resourceVersion, list again when it is too old (410 Gone), back off
// while the API does not answer. A second Run (another input sharing
// the metadata) returns at once.
func (m *Metadata) Run(ctx context.Context) {
	if m.client == nil || !m.running.CompareAndSwap(false, true) {
		return
	}
	bo := backoff.New(m.cfg.MinBackoff, m.cfg.MaxBackoff)
	for ctx.Err() == nil {
		m.mu.RLock()
		rv := m.rv
		m.mu.RUnlock()
		var err error
		if rv == "" {
			lctx, cancel := context.WithTimeout(ctx, m.cfg.SyncTimeout+10*time.Second)
			err = m.list(lctx)
			cancel()
		}
		if err == nil {
			var events int
			events, err = m.watch(ctx)
			if events > 0 || err == nil {
				bo.Reset()
			}
		}
		if errors.Is(err, errGone) {
			m.log.Info("kubernetes: watch resourceVersion too old, listing again")
			m.mu.Lock()
			m.rv = ""
			m.mu.Unlock()
			continue
		}
		if err == nil || ctx.Err() != nil {
			continue // the server ended the watch: resume from the last version
		}
		m.setErr(err)
		m.log.Warn("kubernetes: watching pods", "err", err)
		if !bo.Wait(ctx) {
			return
		}
	}
}

var errGone = errors.New("resourceVersion too old (410 Gone)")

func (m *Metadata) request(ctx context.Context, query url.Values) (*http.Response, error) {
	query.Set("fieldSelector", "spec.nodeName="+m.cfg.Node)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(m.cfg.API, "/")+"/api/v1/pods?"+query.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("making request: %w", err)
	}
	if m.cfg.TokenFile != "-" {
		tok, err := os.ReadFile(m.cfg.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("reading service account token: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	}
	req.Header.Set("Accept", "application/json")
	resp, err := m.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("requesting pods: %w", err)
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusGone {
		return nil, errGone
	}
	var st Status
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if DecodeStatus(b, &st) == nil && st.Message != "" {
		return nil, fmt.Errorf("requesting pods: %s: %s", resp.Status, clean(st.Message))
	}
	return nil, fmt.Errorf("requesting pods: %s", resp.Status)
}

// maxListBytes bounds a list answer (a node runs a few hundred pods).
const maxListBytes = 64 << 20

func (m *Metadata) list(ctx context.Context) (err error) {
	defer func() { m.count("list", err) }()
	resp, err := m.request(ctx, url.Values{})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxListBytes+1))
	if err != nil {
		return fmt.Errorf("reading pod list: %w", err)
	}
	if len(b) > maxListBytes {
		return errors.New("reading pod list: more than 64 MiB")
	}
	l, err := DecodeList(b)
	if err != nil {
		return err
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	live := map[string]bool{}
	for i := range l.Items {
		p := &l.Items[i]
		live[p.Metadata.Namespace+"/"+p.Metadata.Name] = true
		m.put(p, now)
	}
	for k, p := range m.pods {
		if !live[k] && p.deleted.IsZero() {
			p.deleted = now
		}
	}
	m.prune(now, false)
	m.rv, m.err = l.Metadata.ResourceVersion, nil
	m.gen.Add(1)
	m.gauge()
	return nil
}

// maxEventBytes bounds one watch event (a pod object).
const maxEventBytes = 4 << 20

// watch follows events until the server ends the stream; it returns how
// many it applied.
func (m *Metadata) watch(ctx context.Context) (n int, err error) {
	defer func() { m.count("watch", err) }()
	m.mu.RLock()
	rv := m.rv
	m.mu.RUnlock()
	timeout := m.cfg.WatchTimeout
	ctx, cancel := context.WithTimeout(ctx, timeout+30*time.Second)
	defer cancel()
	q := url.Values{"watch": {"true"}, "resourceVersion": {rv}, "allowWatchBookmarks": {"true"},
		"timeoutSeconds": {fmt.Sprint(int(timeout.Seconds()))}}
	resp, err := m.request(ctx, q)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	m.setErr(nil)
	r := bufio.NewReaderSize(resp.Body, 64<<10)
	for {
		line, err := readLine(r, maxEventBytes)
		if err != nil {
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				return n, nil
			}
			return n, fmt.Errorf("reading watch: %w", err)
		}
		if len(line) == 0 {
			continue
		}
		ev, err := DecodeEvent(line)
		if err != nil {
			return n, err
		}
		if ev.Type == "ERROR" {
			if ev.Status.Code == http.StatusGone {
				return n, errGone
			}
			return n, fmt.Errorf("watch error %d: %s", ev.Status.Code, clean(ev.Status.Message))
		}
		m.apply(ev)
		n++
	}
}

func (m *Metadata) apply(ev Event) {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rv = ev.Pod.Metadata.ResourceVersion
	if ev.Type == "BOOKMARK" {
		return
	}
	if m.cfg.Node != "" && ev.Pod.Spec.NodeName != "" && ev.Pod.Spec.NodeName != m.cfg.Node {
		return // not ours (the server filters; a proxy might not)
	}
	key := ev.Pod.Metadata.Namespace + "/" + ev.Pod.Metadata.Name
	if ev.Type == "DELETED" {
		if p := m.pods[key]; p != nil && p.uid == ev.Pod.Metadata.UID {
			p.deleted = now
		}
	} else {
		m.put(&ev.Pod, now)
	}
	m.prune(now, false)
	m.gen.Add(1)
	m.gauge()
}

// readLine reads one newline-terminated line of at most max bytes.
func readLine(r *bufio.Reader, max int) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := r.ReadSlice('\n')
		buf = append(buf, chunk...)
		if len(buf) > max {
			return nil, fmt.Errorf("watch event longer than %d bytes", max)
		}
		if err == nil {
			return buf[:len(buf)-1], nil
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) && len(buf) > 0 {
			return buf, nil
		}
		return nil, err
	}
}
