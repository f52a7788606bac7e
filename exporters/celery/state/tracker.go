package state

import (
	"math"
	"strings"
	"sync"
	"time"

	"github.com/outrigger/outrigger/exporters/celery/events"
	"github.com/outrigger/outrigger/internal/promkit"
)

// HostnameMode says how the hostname label of task series is written.
type HostnameMode int

const (
	// HostnameFull keeps Celery's node name, "name@host".
	HostnameFull HostnameMode = iota
	// HostnameHost keeps the part after "@" (the machine or pod).
	HostnameHost
	// HostnameGeneric writes "generic": one series per task name and queue.
	HostnameGeneric
)

// Unknown labels a task whose name the exporter never saw (its task-sent
// and task-received events came before the exporter started, or were evicted).
const Unknown = "unknown"

// Options shape a Tracker.
type Options struct {
	// TaskCapacity bounds the tasks remembered in flight (default 100000).
	TaskCapacity int
	// TaskTTL forgets a task with no event for this long (default 1h).
	TaskTTL time.Duration
	// HostnameMode of task and worker series (HostnameGeneric applies to
	// task series only; workers are then labelled by host).
	HostnameMode HostnameMode
	// GenericSentHostname labels task-sent counts hostname="generic": the
	// producers (API pods) otherwise add series as they come and go.
	GenericSentHostname bool
	// Expiry removes every series of a hostname (workers and task counters)
	// after it sent nothing for this long. 0 never expires. Keep it longer
	// than the alert windows on celery_worker_up == 0 (the celery mixin's
	// CeleryWorkerDown waits 15m), or the series goes before the alert fires.
	Expiry time.Duration
	// TopTasks admits the first N distinct task names as labels and counts
	// the rest as "other"; 0 admits all.
	TopTasks int
	// MaxQueues bounds queue_name values the same way (default 200).
	MaxQueues int
	// MaxExceptions bounds exception label values per tracker (default 100).
	MaxExceptions int
	// DefaultQueue labels tasks whose queue no event told (default "celery").
	DefaultQueue string
	// RuntimeBuckets and WaitBuckets of the two histograms.
	RuntimeBuckets, WaitBuckets []float64
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// DefaultBuckets are prometheus_client's defaults, which the incumbent's
// celery_task_runtime uses.
var DefaultBuckets = []float64{.005, .01, .025, .05, .075, .1, .25, .5, .75, 1, 2.5, 5, 7.5, 10}

// DefaultWaitBuckets are the incumbent's celery_task_queue_wait_time
// buckets: no sub-50ms resolution, up to half an hour of backlog.
var DefaultWaitBuckets = []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800}

// maxWorkers bounds the worker series between expiries.
const maxWorkers = 10000

// Counter kinds of a task series.
const (
	cSent = iota
	cReceived
	cStarted
	cSucceeded
	cRejected
	cRevoked
	cRetried
	numCounters
)

type seriesKey struct{ name, host, queue string }

type histogram struct {
	counts []uint64 // per bucket, not cumulative
	sum    float64
	count  uint64
}

func (h *histogram) observe(bounds []float64, v float64) {
	if h.counts == nil {
		h.counts = make([]uint64, len(bounds))
	}
	for i, b := range bounds {
		if v <= b {
			h.counts[i]++
			break
		}
	}
	h.sum += v
	h.count++
}

type series struct {
	counters [numCounters]uint64
	failed   map[string]uint64
	runtime  histogram
	wait     histogram
}

type worker struct {
	lastBeat time.Time // local receive time of the last worker event
	freq     float64
	active   int
	offline  bool
}

// ownStats are the tracker's own counters.
type ownStats struct {
	Events       [events.NumTypes]uint64
	LastEvent    time.Time // local receive time
	EvictedFull  uint64
	EvictedTTL   uint64
	ExpiredHosts uint64
	UnknownTasks uint64 // events for task ids the LRU did not hold
}

// Tracker holds the state. Apply is called by the one event consumer;
// the read methods by scrapes. All are safe for concurrent use.
type Tracker struct {
	opts Options

	mu         sync.Mutex
	tasks      *lru
	strs       []string
	strIdx     map[string]uint32
	names      map[string]struct{} // admitted task names
	queues     map[string]struct{} // admitted queue names
	exceptions map[string]struct{}
	nameQueue  map[string]string // task name -> queue last seen in task-sent
	series     map[seriesKey]*series
	hostSeen   map[string]time.Time // label hostname -> last event
	workers    map[string]*worker
	stats      ownStats
}

// New returns an empty Tracker.
func New(opts Options) *Tracker {
	if opts.TaskCapacity <= 0 {
		opts.TaskCapacity = 100000
	}
	if opts.TaskTTL <= 0 {
		opts.TaskTTL = time.Hour
	}
	if opts.MaxQueues <= 0 {
		opts.MaxQueues = 200
	}
	if opts.MaxExceptions <= 0 {
		opts.MaxExceptions = 100
	}
	if opts.DefaultQueue == "" {
		opts.DefaultQueue = "celery"
	}
	if opts.RuntimeBuckets == nil {
		opts.RuntimeBuckets = DefaultBuckets
	}
	if opts.WaitBuckets == nil {
		opts.WaitBuckets = DefaultWaitBuckets
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	t := &Tracker{opts: opts, tasks: newLRU(opts.TaskCapacity), strIdx: map[string]uint32{},
		names: map[string]struct{}{}, queues: map[string]struct{}{}, exceptions: map[string]struct{}{},
		nameQueue: map[string]string{}, series: map[seriesKey]*series{}, hostSeen: map[string]time.Time{},
		workers: map[string]*worker{}}
	t.intern("") // index 0 is "unknown"
	return t
}

func (t *Tracker) intern(s string) uint32 {
	if i, ok := t.strIdx[s]; ok {
		return i
	}
	i := uint32(len(t.strs))
	t.strs = append(t.strs, s)
	t.strIdx[s] = i
	return i
}

func (t *Tracker) str(i uint32) string { return t.strs[i] }

// admitName applies the --task.top-n rule: the first N names seen keep
// their label, later ones count as promkit.Other. This is an admission bound,
// not promkit.TopN's ranking: a counter series cannot hand its counts to
// another label when a later scrape ranks names differently.
func (t *Tracker) admitName(name string) string {
	if name == "" {
		return Unknown
	}
	if _, ok := t.names[name]; ok {
		return name
	}
	if t.opts.TopTasks > 0 && len(t.names) >= t.opts.TopTasks {
		return promkit.Other
	}
	t.names[name] = struct{}{}
	return name
}

func (t *Tracker) admitQueue(q string) string {
	if _, ok := t.queues[q]; ok {
		return q
	}
	if len(t.queues) >= t.opts.MaxQueues {
		return promkit.Other
	}
	t.queues[q] = struct{}{}
	return q
}

func (t *Tracker) admitException(repr string) string {
	c := events.ExceptionClass(repr)
	if c == "" {
		return Unknown
	}
	if _, ok := t.exceptions[c]; ok {
		return c
	}
	if len(t.exceptions) >= t.opts.MaxExceptions {
		return promkit.Other
	}
	t.exceptions[c] = struct{}{}
	return c
}

func (t *Tracker) hostLabel(h string, sent bool) string {
	if sent && t.opts.GenericSentHostname {
		return "generic"
	}
	switch t.opts.HostnameMode {
	case HostnameHost:
		if i := strings.LastIndexByte(h, '@'); i >= 0 {
			return h[i+1:]
		}
		return h
	case HostnameGeneric:
		return "generic"
	}
	return h
}

func (t *Tracker) seriesFor(name, host, queue string) *series {
	k := seriesKey{name, host, queue}
	s := t.series[k]
	if s == nil {
		s = &series{}
		t.series[k] = s
	}
	return s
}

// Apply updates the state with one event received now.
func (t *Tracker) Apply(e *events.Event) {
	now := t.opts.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stats.Events[e.Type]++
	t.stats.LastEvent = now
	switch e.Type {
	case events.WorkerOnline, events.WorkerHeartbeat, events.WorkerOffline:
		t.applyWorker(e, now)
		return
	case events.Unknown:
		return
	}
	if e.UUID == "" {
		return
	}
	t.applyTask(e, now)
}

// workerLabel is the hostname label of a worker's series.
func (t *Tracker) workerLabel(h string) string {
	if t.opts.HostnameMode == HostnameFull {
		return h
	}
	if i := strings.LastIndexByte(h, '@'); i >= 0 {
		return h[i+1:]
	}
	return h
}

func (t *Tracker) applyWorker(e *events.Event, now time.Time) {
	if e.Hostname == "" {
		return
	}
	host := t.workerLabel(e.Hostname)
	w := t.workers[host]
	if w == nil {
		if len(t.workers) >= maxWorkers {
			return
		}
		w = &worker{}
		t.workers[host] = w
	}
	w.lastBeat, w.offline = now, e.Type == events.WorkerOffline
	w.freq = e.Freq
	if w.freq <= 0 {
		w.freq = 2
	}
	if e.HasActive {
		w.active = e.Active
	}
	if w.offline {
		w.active = 0
	}
	t.hostSeen[host] = now
}

func (t *Tracker) applyTask(e *events.Event, now time.Time) {
	k := keyOf(e.UUID)
	tk := t.trackTask(e, k, now)
	name, queue := t.taskLabels(tk)
	host := t.hostLabel(e.Hostname, e.Type == events.TaskSent)
	t.hostSeen[host] = now
	t.count(t.seriesFor(name, host, queue), e, tk, k)
}

// trackTask records a task-sent or task-received event in the task map
// and returns the task an event is about (nil if the map does not hold it).
func (t *Tracker) trackTask(e *events.Event, k taskKey, now time.Time) *task {
	if e.Type != events.TaskSent && e.Type != events.TaskReceived {
		tk := t.tasks.get(k)
		if tk != nil {
			tk.touched = now.UnixNano()
		} else {
			t.stats.UnknownTasks++
		}
		return tk
	}
	tk, evicted := t.tasks.touch(k, now.UnixNano())
	if evicted {
		t.stats.EvictedFull++
	}
	if e.Name != "" {
		tk.name = t.intern(t.admitName(e.Name))
	}
	if e.Type == events.TaskSent {
		t.route(tk, e)
		tk.sent = e.Timestamp
	} else {
		tk.received = true
	}
	if e.ETA != "" {
		if ts, err := time.Parse(time.RFC3339Nano, e.ETA); err == nil {
			tk.eta = float64(ts.UnixNano()) / 1e9
		}
	}
	return tk
}

// route records the queue a task-sent event names, and remembers it for
// the task's name.
func (t *Tracker) route(tk *task, e *events.Event) {
	q := e.Queue
	if q == "" {
		q = e.RoutingKey
	}
	if q == "" {
		return
	}
	q = t.admitQueue(q)
	tk.queue = t.intern(q)
	if e.Name != "" && len(t.nameQueue) < 10000 {
		t.nameQueue[t.str(tk.name)] = q
	}
}

// taskLabels are the name and queue_name of a task's series: Unknown for a
// task the map does not hold, and the queue last seen for its name, else
// the default queue, when no task-sent routed it.
func (t *Tracker) taskLabels(tk *task) (name, queue string) {
	name = Unknown
	if tk != nil {
		if tk.name != 0 {
			name = t.str(tk.name)
		}
		if tk.queue != 0 {
			queue = t.str(tk.queue)
		}
	}
	if queue == "" {
		if q, ok := t.nameQueue[name]; ok {
			queue = q
		} else {
			queue = t.opts.DefaultQueue
		}
		if tk != nil {
			tk.queue = t.intern(queue)
		}
	}
	return name, queue
}

// count adds a task event to its series and forgets a task that finished.
func (t *Tracker) count(s *series, e *events.Event, tk *task, k taskKey) {
	switch e.Type {
	case events.TaskSent:
		s.counters[cSent]++
	case events.TaskReceived:
		s.counters[cReceived]++
	case events.TaskStarted:
		s.counters[cStarted]++
		if tk != nil && tk.sent > 0 {
			wait := e.Timestamp - math.Max(tk.sent, tk.eta)
			s.wait.observe(t.opts.WaitBuckets, math.Max(wait, 0))
		}
	case events.TaskSucceeded:
		s.counters[cSucceeded]++
		s.runtime.observe(t.opts.RuntimeBuckets, math.Max(e.Runtime, 0))
		t.tasks.delete(k)
	case events.TaskFailed:
		if s.failed == nil {
			s.failed = map[string]uint64{}
		}
		s.failed[t.admitException(e.Exception)]++
		t.tasks.delete(k)
	case events.TaskRetried:
		s.counters[cRetried]++
	case events.TaskRejected:
		s.counters[cRejected]++
		if !e.Requeue {
			t.tasks.delete(k)
		}
	case events.TaskRevoked:
		s.counters[cRevoked]++
		t.tasks.delete(k)
	}
}

// sweep forgets tasks past their TTL and hostnames past the expiry; every
// scrape calls it first.
func (t *Tracker) sweep(now time.Time) {
	t.stats.EvictedTTL += uint64(t.tasks.expire(now.Add(-t.opts.TaskTTL).UnixNano()))
	if t.opts.Expiry <= 0 {
		return
	}
	cutoff := now.Add(-t.opts.Expiry)
	for h, seen := range t.hostSeen {
		if seen.After(cutoff) {
			continue
		}
		delete(t.hostSeen, h)
		delete(t.workers, h)
		for k := range t.series {
			if k.host == h {
				delete(t.series, k)
			}
		}
		t.stats.ExpiredHosts++
	}
}
