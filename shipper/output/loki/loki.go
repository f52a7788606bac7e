package loki

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/s2"

	"github.com/outrigger/outrigger/internal/promkit/backoff"
	"github.com/outrigger/outrigger/shipper/event"
	"github.com/outrigger/outrigger/shipper/internal/tlsclient"
	"github.com/outrigger/outrigger/shipper/output"
)

// TLSConfig is the client's TLS setup.
type TLSConfig = tlsclient.Config

// Config configures the Loki output.
type Config struct {
	Name        string
	URL         string // the push URL, .../loki/api/v1/push
	TenantID    string
	Username    string
	Password    string
	BearerToken string
	TLS         TLSConfig
	BatchBytes  int
	BatchWait   time.Duration
	Parallelism int
	Timeout     time.Duration
	MinBackoff  time.Duration
	MaxBackoff  time.Duration
}

// Defaults fills zero fields.
func (c *Config) Defaults() {
	if c.Name == "" {
		c.Name = "loki"
	}
	if c.BatchBytes == 0 {
		c.BatchBytes = 1 << 20
	}
	if c.BatchWait == 0 {
		c.BatchWait = 500 * time.Millisecond
	}
	if c.Parallelism == 0 {
		c.Parallelism = 4
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	if c.MinBackoff == 0 {
		c.MinBackoff = 500 * time.Millisecond
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = time.Minute
	}
}

// Output is the Loki output.
type Output struct {
	cfg    Config
	index  int
	client *http.Client
	m      *output.Metrics

	workers []*worker
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	mu       sync.Mutex
	lastErr  error
	lastTry  time.Time
	stopping bool
}

// New returns the output; index is its position among the pipeline's
// outputs (used to acknowledge events).
func New(cfg Config, index int, m *output.Metrics) (*Output, error) {
	cfg.Defaults()
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("loki url: must be an http(s) URL such as http://loki:3100/loki/api/v1/push")
	}
	if u.User != nil {
		return nil, errors.New("loki url: put credentials in username/password, not in the URL")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = cfg.Parallelism + 2
	if u.Scheme == "https" || cfg.TLS != (TLSConfig{}) {
		tc, err := cfg.TLS.Build("loki")
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = tc
	}
	o := &Output{cfg: cfg, index: index, m: m, client: &http.Client{Transport: tr, Timeout: cfg.Timeout}}
	m.Up.WithLabelValues(cfg.Name).Set(1)
	for _, r := range []string{"network", "rate_limited", "server_error", "not_stored", "unauthorized", "client_error"} {
		m.Retries.WithLabelValues(cfg.Name, r)
	}
	for _, r := range []string{"too_old", "too_new", "too_far_behind", "line_too_long", "invalid_labels", "too_large", "other"} {
		m.Dropped.WithLabelValues(cfg.Name, r)
	}
	m.ShippedLines.WithLabelValues(cfg.Name)
	m.ShippedBytes.WithLabelValues(cfg.Name)
	return o, nil
}

// Name implements event.Output.
func (o *Output) Name() string { return o.cfg.Name }

// Start implements event.Output.
func (o *Output) Start(ctx context.Context) error {
	o.ctx, o.cancel = context.WithCancel(context.WithoutCancel(ctx))
	for i := 0; i < o.cfg.Parallelism; i++ {
		w := &worker{o: o, in: make(chan []*event.Event, 8), reqs: make(chan *request, 1), free: make(chan *request, 3)}
		o.workers = append(o.workers, w)
		o.wg.Add(2)
		go w.batch()
		go w.send()
	}
	return nil
}

// Send implements event.Output: events go to the worker of their stream.
func (o *Output) Send(ctx context.Context, events []*event.Event) bool {
	n := uint64(len(o.workers))
	if n == 1 || len(events) == 0 {
		return o.workers[0].enqueue(ctx, events)
	}
	first := events[0].Stream.Hash % n
	same := true
	for _, ev := range events[1:] {
		if ev.Stream.Hash%n != first {
			same = false
			break
		}
	}
	if same { // the events of one read are usually of one stream
		return o.workers[first].enqueue(ctx, events)
	}
	parts := make([][]*event.Event, n)
	for _, ev := range events {
		i := ev.Stream.Hash % n
		parts[i] = append(parts[i], ev)
	}
	for i, p := range parts {
		if len(p) > 0 && !o.workers[i].enqueue(ctx, p) {
			return false
		}
	}
	return true
}

// Shutdown implements event.Output.
func (o *Output) Shutdown(ctx context.Context) {
	if o.cancel == nil {
		return
	}
	o.mu.Lock()
	o.stopping = true
	o.mu.Unlock()
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
}

// Ready implements event.Output: the last push succeeded, or, when idle, a
// probe of Loki's /ready answers.
func (o *Output) Ready(ctx context.Context) error {
	o.mu.Lock()
	err, last := o.lastErr, o.lastTry
	o.mu.Unlock()
	if !last.IsZero() && time.Since(last) < 10*time.Second {
		return err
	}
	u, _ := url.Parse(o.cfg.URL)
	u.Path, u.RawQuery = "/ready", ""
	req, rerr := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if rerr != nil {
		return fmt.Errorf("loki output %s: building probe: %w", o.cfg.Name, rerr)
	}
	o.authorize(req)
	resp, rerr := o.client.Do(req)
	if rerr != nil {
		return fmt.Errorf("loki output %s: not reachable", o.cfg.Name)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		return fmt.Errorf("loki output %s: /ready answered HTTP %d", o.cfg.Name, resp.StatusCode)
	}
	return nil
}

func (o *Output) authorize(req *http.Request) {
	if o.cfg.TenantID != "" {
		req.Header.Set("X-Scope-OrgID", o.cfg.TenantID)
	}
	if o.cfg.Username != "" {
		req.SetBasicAuth(o.cfg.Username, o.cfg.Password)
	}
	if o.cfg.BearerToken != "" {
		req.Header.Set("Authorization", "Bearer "+o.cfg.BearerToken)
	}
}

func (o *Output) setState(err error) {
	o.mu.Lock()
	o.lastErr, o.lastTry = err, time.Now()
	o.mu.Unlock()
	if err == nil {
		o.m.Up.WithLabelValues(o.cfg.Name).Set(1)
	} else {
		o.m.Up.WithLabelValues(o.cfg.Name).Set(0)
	}
}

type request struct {
	streams []*streamBatch
	events  []*event.Event
	bytes   int
	started time.Time
}

type worker struct {
	o    *Output
	in   chan []*event.Event
	reqs chan *request
	free chan *request // delivered requests, cleared for reuse
	enc  encoder
	body []byte
	comp []byte
}

func (w *worker) enqueue(ctx context.Context, events []*event.Event) bool {
	select {
	case w.in <- events:
		return true
	case <-ctx.Done():
		return false
	}
}

// batch collects events into requests by size and age.
func (w *worker) batch() {
	defer w.o.wg.Done()
	defer close(w.reqs)
	var cur *request
	byStream := map[*event.Stream]*streamBatch{}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	flush := func() {
		if cur != nil {
			w.reqs <- cur
			cur = nil
			clear(byStream)
		}
		timer.Stop()
	}
	for {
		select {
		case evs, ok := <-w.in:
			if !ok {
				flush()
				return
			}
			for _, ev := range evs {
				if cur == nil {
					cur = w.newRequest()
					timer.Reset(w.o.cfg.BatchWait)
				}
				sb := byStream[ev.Stream]
				if sb == nil {
					sb = cur.addStream(ev.Stream)
					byStream[ev.Stream] = sb
				}
				sb.entries = append(sb.entries, ev)
				cur.events = append(cur.events, ev)
				cur.bytes += len(ev.Line) + 32
				if cur.bytes >= w.o.cfg.BatchBytes {
					flush()
				}
			}
		case <-timer.C:
			flush()
		}
	}
}

func (w *worker) send() {
	defer w.o.wg.Done()
	for req := range w.reqs {
		w.deliver(req)
		req.reset()
		select {
		case w.free <- req:
		default:
		}
	}
}

// newRequest reuses a delivered request's slices (a worker has at most
// three requests: being filled, queued, in flight).
func (w *worker) newRequest() *request {
	select {
	case r := <-w.free:
		r.started = time.Now()
		return r
	default:
		return &request{started: time.Now()}
	}
}

// addStream adds a stream batch to r, reusing one a previous use left.
func (r *request) addStream(s *event.Stream) *streamBatch {
	if len(r.streams) < cap(r.streams) {
		r.streams = r.streams[:len(r.streams)+1]
		if sb := r.streams[len(r.streams)-1]; sb != nil {
			sb.stream = s
			return sb
		}
	} else {
		r.streams = append(r.streams, nil)
	}
	sb := &streamBatch{stream: s}
	r.streams[len(r.streams)-1] = sb
	return sb
}

// keepEntries bounds the entry slots a reset request keeps, across its
// stream batches (many small streams must not pin a big batch's memory).
const keepEntries = 16 << 10

// reset forgets the events of a delivered request and keeps (some of) its
// memory.
func (r *request) reset() {
	clear(r.events)
	r.events = r.events[:0]
	if cap(r.events) > keepEntries {
		r.events = nil
	}
	kept := 0
	all := r.streams[:cap(r.streams)] // with those a previous use left
	for i, sb := range all {
		if sb == nil {
			continue
		}
		kept += cap(sb.entries)
		if kept > keepEntries || i >= 64 {
			clear(all[i:])
			break
		}
		clear(sb.entries)
		sb.entries, sb.stream = sb.entries[:0], nil
	}
	r.streams = r.streams[:0]
	r.bytes = 0
}

var ignoredRe = regexp.MustCompile(`total ignored: (\d+) out of (\d+)`)

// deliver sends req until it is delivered, permanently rejected, or the
// output is stopped (then it stays unacknowledged).
func (w *worker) deliver(req *request) {
	o := w.o
	name := o.cfg.Name
	retry := backoff.New(o.cfg.MinBackoff, o.cfg.MaxBackoff)
	for {
		w.body = w.enc.appendPushRequest(w.body[:0], req.streams)
		w.comp = s2.EncodeSnappy(w.comp[:cap(w.comp)], w.body)
		code, msg, err := w.post(w.comp)
		var reason string
		switch {
		case err != nil && o.ctx.Err() != nil:
			return
		case err != nil:
			reason = "network"
			o.m.Requests.WithLabelValues(name, "error").Inc()
			o.setState(fmt.Errorf("loki output %s: push failed: %s", name, transportError(err)))
		default:
			o.m.Requests.WithLabelValues(name, strconv.Itoa(code/100)+"xx").Inc()
		}
		switch {
		case err != nil:
		case code == http.StatusNoContent || code == http.StatusOK:
			o.setState(nil)
			w.ack(req, "")
			return
		case code == http.StatusRequestEntityTooLarge:
			o.setState(nil)
			if len(req.events) == 1 {
				w.ack(req, "too_large")
				return
			}
			a, b := split(req)
			w.deliver(a)
			w.deliver(b)
			return
		case code == http.StatusBadRequest:
			// Loki stored the valid entries: never resend. Count what it
			// rejected, by reason.
			o.setState(nil)
			w.countRejected(req, msg)
			w.ack(req, "-")
			return
		case code == http.StatusTooManyRequests:
			reason = "rate_limited"
		case code >= 500:
			reason = "server_error"
		case code >= 200 && code < 300:
			reason = "not_stored" // e.g. a blocked tenant's 260: nothing was stored
		case code == http.StatusUnauthorized || code == http.StatusForbidden:
			reason = "unauthorized"
		default:
			reason = "client_error"
		}
		if err == nil {
			o.setState(fmt.Errorf("loki output %s: push answered HTTP %d", name, code))
		}
		o.m.Retries.WithLabelValues(name, reason).Inc()
		if !retry.Wait(o.ctx) {
			return
		}
	}
}

func transportError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // drop the URL
	}
	s := err.Error()
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}

func (w *worker) post(body []byte) (int, string, error) {
	o := w.o
	req, err := http.NewRequestWithContext(o.ctx, http.MethodPost, o.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return 0, "", fmt.Errorf("building push request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("User-Agent", "outrigger-log-shipper")
	o.authorize(req)
	resp, err := o.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, string(msg), nil
}

func (w *worker) ack(req *request, dropReason string) {
	o := w.o
	name := o.cfg.Name
	switch dropReason {
	case "":
		n := 0
		for _, ev := range req.events {
			n += len(ev.Line)
		}
		o.m.ShippedLines.WithLabelValues(name).Add(float64(len(req.events)))
		o.m.ShippedBytes.WithLabelValues(name).Add(float64(n))
	case "-": // counted by the caller
	default:
		o.m.Dropped.WithLabelValues(name, dropReason).Add(float64(len(req.events)))
	}
	o.m.BatchDuration.WithLabelValues(name).Observe(time.Since(req.started).Seconds())
	for _, ev := range req.events {
		ev.Ack.Done(o.index)
	}
}

// countRejected counts the entries a 400 rejected, by reason, and the rest
// as shipped.
func (w *worker) countRejected(req *request, msg string) {
	o := w.o
	name := o.cfg.Name
	reasons := map[string]int{}
	listed := 0
	for _, line := range strings.Split(msg, "\n") {
		r := rejectReason(line)
		if r == "" {
			continue
		}
		reasons[r]++
		listed++
	}
	total := len(req.events)
	ignored := listed
	if m := ignoredRe.FindStringSubmatch(msg); m != nil {
		ignored, _ = strconv.Atoi(m[1])
	} else if listed == 0 {
		ignored = total // a whole-request 400 such as bad labels
		reasons["invalid"] = total
	}
	ignored = min(ignored, total)
	if ignored > listed && listed > 0 {
		reasons["other"] += ignored - listed
	}
	for r, n := range reasons {
		o.m.Dropped.WithLabelValues(name, r).Add(float64(n))
	}
	o.m.ShippedLines.WithLabelValues(name).Add(float64(total - ignored))
}

func rejectReason(line string) string {
	switch {
	case strings.Contains(line, "too far behind"):
		return "too_far_behind"
	case strings.Contains(line, "timestamp too old"):
		return "too_old"
	case strings.Contains(line, "timestamp too new"):
		return "too_new"
	case strings.Contains(line, "Max entry size") || strings.Contains(line, "line too long"):
		return "line_too_long"
	case strings.Contains(line, "labels"):
		return "invalid_labels"
	case strings.Contains(line, "entry for stream") || strings.Contains(line, "ignored, reason"):
		return "other"
	}
	return ""
}

// split halves a request, keeping each stream's order.
func split(req *request) (*request, *request) {
	half := len(req.events) / 2
	return subRequest(req, req.events[:half]), subRequest(req, req.events[half:])
}

func subRequest(req *request, events []*event.Event) *request {
	r := &request{started: req.started, events: events}
	by := map[*event.Stream]*streamBatch{}
	for _, ev := range events {
		sb := by[ev.Stream]
		if sb == nil {
			sb = &streamBatch{stream: ev.Stream}
			by[ev.Stream] = sb
			r.streams = append(r.streams, sb)
		}
		sb.entries = append(sb.entries, ev)
		r.bytes += len(ev.Line) + 32
	}
	return r
}
