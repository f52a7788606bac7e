package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/outrigger/outrigger/exporters/redis/config"
	"github.com/outrigger/outrigger/internal/promkit"
)

// Targets is the set of targets the exporter serves, replaced as a whole on
// reload: unchanged targets keep their connection and key-group results.
type Targets struct {
	ctx    context.Context // owns the key-group workers
	opts   config.Scrape
	logger *slog.Logger

	mu      sync.Mutex
	byName  map[string]*running
	byAddr  map[string]*running
	running sync.WaitGroup
}

type running struct {
	t    *Target
	stop context.CancelFunc
	done chan struct{}
}

// NewTargets starts the targets of cfg, each with cfg's scrape options;
// their workers run until ctx ends. Close stops them. A nil logger discards.
func NewTargets(ctx context.Context, cfg config.ValidatedConfig, logger *slog.Logger) *Targets {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ts := &Targets{ctx: ctx, opts: cfg.Scrape(), logger: logger, byName: map[string]*running{}, byAddr: map[string]*running{}}
	ts.Apply(cfg)
	return ts
}

// Apply makes cfg's targets the served ones (the scrape options stay those
// NewTargets was given: they come from flags, which a reload does not read).
func (ts *Targets) Apply(cfg config.ValidatedConfig) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	next := map[string]*running{}
	for _, r := range cfg.Targets() {
		if old, ok := ts.byName[r.Name()]; ok && old.t.Fingerprint() == r.Fingerprint() {
			next[r.Name()] = old
			delete(ts.byName, r.Name())
			continue
		}
		next[r.Name()] = ts.start(r)
	}
	for _, old := range ts.byName {
		ts.stopOne(old)
	}
	ts.byName, ts.byAddr = next, map[string]*running{}
	for _, r := range next {
		ts.byAddr[r.t.Addr()] = r
	}
}

func (ts *Targets) start(r config.Resolved) *running {
	t := NewTarget(r, ts.opts, ts.logger)
	ctx, stop := context.WithCancel(ts.ctx)
	run := &running{t: t, stop: stop, done: make(chan struct{})}
	ts.running.Add(1)
	go func() {
		defer ts.running.Done()
		defer close(run.done)
		t.RunBackground(ctx)
	}()
	return run
}

func (ts *Targets) stopOne(r *running) {
	r.stop()
	<-r.done
	_ = r.t.Close()
}

// Close stops every worker and closes every connection.
func (ts *Targets) Close() {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for _, r := range ts.byName {
		ts.stopOne(r)
	}
	ts.byName, ts.byAddr = map[string]*running{}, map[string]*running{}
	ts.running.Wait()
}

// Get finds a target by name, or by its address as shown without credentials.
func (ts *Targets) Get(nameOrAddr string) (*Target, bool) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if r, ok := ts.byName[nameOrAddr]; ok {
		return r.t, true
	}
	if r, ok := ts.byAddr[nameOrAddr]; ok {
		return r.t, true
	}
	return nil, false
}

// Default is the target of /metrics.
func (ts *Targets) Default() *Target {
	t, _ := ts.Get(config.DefaultTarget)
	return t
}

// DefaultScrape is the TargetFunc of /metrics.
func (ts *Targets) DefaultScrape(*http.Request) (string, promkit.StartFunc, error) {
	t := ts.Default()
	if t == nil {
		return "", nil, errors.New("no default target")
	}
	return config.DefaultTarget, t.Start, nil
}

// Scrape is the TargetFunc of /scrape?target=NAME: only targets of the
// config file (or --redis.addr) can be scraped, each with its own credentials.
func (ts *Targets) Scrape(r *http.Request) (string, promkit.StartFunc, error) {
	name := r.URL.Query().Get("target")
	if name == "" {
		return "", nil, errors.New("missing ?target= (a target name or address from the config file)")
	}
	t, ok := ts.Get(name)
	if !ok {
		return "", nil, fmt.Errorf("unknown target %q: only targets named in --config.file can be scraped", name)
	}
	return "target:" + t.Name, t.Start, nil
}

// Ready reports whether the default target answers.
func (ts *Targets) Ready(ctx context.Context) error {
	t := ts.Default()
	if t == nil {
		return errors.New("no default target")
	}
	return t.Ready(ctx)
}
