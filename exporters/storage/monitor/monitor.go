package monitor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/outrigger/outrigger/exporters/storage/config"
	"github.com/outrigger/outrigger/exporters/storage/walk"
)

// Options are the monitor's process-wide settings.
type Options struct {
	Workers            int
	WalkNice           int
	MaxConcurrentWalks int
	MaxHardlinks       int
	StatfsInterval     time.Duration
	StatfsTimeout      time.Duration
	// FS is the walker's system-call layer (nil: walk.OS); tests slow it down.
	FS walk.FS
	// Statfs reads a filesystem's figures (nil: unix.Statfs); tests make it hang.
	Statfs func(path string, st *unix.Statfs_t) error
	Logger *slog.Logger
}

// OptionsFrom takes the process-wide settings of a validated configuration.
func OptionsFrom(vc config.ValidatedConfig, logger *slog.Logger) Options {
	c := vc.Process()
	return Options{Workers: c.Workers, WalkNice: c.WalkNice, MaxConcurrentWalks: c.MaxConcurrentWalks, MaxHardlinks: c.MaxHardlinks,
		StatfsInterval: c.StatfsInterval, StatfsTimeout: c.StatfsTimeout, Logger: logger}
}

// Monitor keeps the last walk and statfs results of every watched path.
type Monitor struct {
	opts Options
	sem  chan struct{}
	raw  *walk.RawSlots

	mu     sync.Mutex
	ctx    context.Context
	cancel context.CancelFunc
	paths  []*path
	wg     sync.WaitGroup
}

// path is the state of one watched tree. Scrapes read it through atomics only.
type path struct {
	target config.Target
	cancel context.CancelFunc

	last         atomic.Pointer[outcome] // last walk that read the root (full or partial)
	attempted    atomic.Bool             // a walk has finished, successfully or not
	success      atomic.Bool             // the last walk read the root
	runningSince atomic.Int64            // unix ns of the walk in progress, 0 if none
	walks        [3]atomic.Uint64        // by result: complete, partial, failed

	fs          atomic.Pointer[unix.Statfs_t] // last statfs that answered in time
	fsOK        atomic.Bool                   // the last statfs answered in time
	fsAttempted atomic.Bool                   // a statfs answered or timed out
	statfsBusy  atomic.Bool                   // a statfs call has not returned yet

	firstWalk, firstStatfs         chan struct{} // closed once the first walk / statfs is recorded
	firstWalkOnce, firstStatfsOnce sync.Once
}

func newPath(t config.Target) *path {
	return &path{target: t, firstWalk: make(chan struct{}), firstStatfs: make(chan struct{})}
}

type outcome struct {
	res      *walk.Result
	finished time.Time
}

const (
	resultComplete = iota
	resultPartial
	resultFailed
)

// New returns a monitor; Start begins its work.
func New(opts Options) *Monitor {
	if opts.FS == nil {
		opts.FS = walk.OS{}
	}
	if opts.Statfs == nil {
		opts.Statfs = unix.Statfs
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	// Raw workers (walk.RawSlots) over all walks leave one P free, for
	// scrapes.
	return &Monitor{opts: opts, sem: make(chan struct{}, max(1, opts.MaxConcurrentWalks)),
		raw: walk.NewRawSlots(runtime.GOMAXPROCS(0) - 1)}
}

// Start begins watching targets until ctx ends or Stop is called.
func (m *Monitor) Start(ctx context.Context, targets []config.Target) {
	m.mu.Lock()
	m.ctx, m.cancel = context.WithCancel(ctx)
	m.mu.Unlock()
	m.Update(targets)
}

// Update applies a new list of targets (a reload): unchanged paths keep their
// results and schedule, changed and new ones start afresh, removed ones stop.
// It does not wait for stopped walks to end.
func (m *Monitor) Update(targets []config.Target) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ctx == nil {
		return
	}
	old := map[string]*path{}
	for _, p := range m.paths {
		old[p.target.Name] = p
	}
	var next []*path
	for _, t := range targets {
		if p, ok := old[t.Name]; ok && p.target == t {
			next = append(next, p)
			delete(old, t.Name)
			continue
		}
		p := newPath(t)
		ctx, cancel := context.WithCancel(m.ctx)
		p.cancel = cancel
		m.wg.Go(func() { m.walkLoop(ctx, p) })
		m.wg.Go(func() { m.statfsLoop(ctx, p) })
		next = append(next, p)
	}
	for _, p := range old {
		p.cancel()
	}
	m.paths = next
}

// Stop ends every walk and waits for them until ctx ends (a walk stuck in a
// hung mount cannot be interrupted).
func (m *Monitor) Stop(ctx context.Context) error {
	m.mu.Lock()
	if m.cancel != nil {
		m.cancel()
	}
	m.mu.Unlock()
	done := make(chan struct{})
	go func() {
		m.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for walks to stop: %w", ctx.Err())
	}
}

// Ready reports whether every path has finished its first walk.
func (m *Monitor) Ready(context.Context) error {
	var errs []error
	for _, p := range m.snapshot() {
		if p.attempted.Load() {
			continue
		}
		if since := p.runningSince.Load(); since != 0 {
			errs = append(errs, fmt.Errorf("first walk of path %q still running (for %s)", p.target.Name,
				time.Since(time.Unix(0, since)).Round(time.Millisecond)))
		} else {
			errs = append(errs, fmt.Errorf("first walk of path %q waiting for its turn", p.target.Name))
		}
	}
	return errors.Join(errs...)
}

// WaitFirst waits until every path has had its first walk and statfs, or
// ctx ends.
func (m *Monitor) WaitFirst(ctx context.Context) error {
	for _, p := range m.snapshot() {
		for _, ch := range []chan struct{}{p.firstWalk, p.firstStatfs} {
			select {
			case <-ch:
			case <-ctx.Done():
				return fmt.Errorf("waiting for the first walk of %q: %w", p.target.Name, ctx.Err())
			}
		}
	}
	return nil
}

func (m *Monitor) snapshot() []*path {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.paths
}

// walkLoop walks p every interval (start to start; a walk longer than the
// interval is followed by the next one at once) until ctx ends.
func (m *Monitor) walkLoop(ctx context.Context, p *path) {
	t := p.target
	log := m.opts.Logger.With("path", t.Name)
	for {
		select {
		case m.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		started := time.Now()
		p.runningSince.Store(started.UnixNano())
		wctx, cancel := context.WithTimeout(ctx, t.Budget)
		res, err := walk.Walk(wctx, t.Dir, walk.Options{Workers: m.opts.Workers, SubdirDepth: t.SubdirDepth,
			TopSubdirs: t.TopSubdirs, TopExtensions: t.TopExtensions, MaxHardlinks: m.opts.MaxHardlinks, FS: m.opts.FS,
			RawSlots: m.raw, Nice: m.opts.WalkNice})
		cancel()
		<-m.sem
		p.runningSince.Store(0)
		if ctx.Err() != nil {
			return // stopped or reloaded away: a cut result is not the budget's doing
		}
		m.record(p, res, err, log)
		if !sleep(ctx, time.Until(started.Add(t.Interval))) {
			return
		}
	}
}

func (m *Monitor) record(p *path, res *walk.Result, err error, log *slog.Logger) {
	switch {
	case err != nil:
		p.walks[resultFailed].Add(1)
		p.success.Store(false)
		log.Warn("walk failed", "dir", p.target.Dir, "err", err)
	default:
		kind := resultComplete
		if res.Partial {
			kind = resultPartial
			log.Warn("walk ran out of its time budget; its figures are partial", "budget", p.target.Budget)
		}
		p.walks[kind].Add(1)
		p.success.Store(true)
		p.last.Store(&outcome{res: res, finished: time.Now()})
		log.Debug("walk finished", "duration", res.Duration, "files", res.Totals.Files,
			"apparent_bytes", res.Totals.ApparentBytes, "unreadable_dirs", res.UnreadableDirs)
	}
	p.attempted.Store(true)
	p.firstWalkOnce.Do(func() { close(p.firstWalk) })
}

// statfsLoop reads p's filesystem figures every StatfsInterval.
func (m *Monitor) statfsLoop(ctx context.Context, p *path) {
	for {
		m.statfs(ctx, p)
		if !sleep(ctx, m.opts.StatfsInterval) {
			return
		}
	}
}

// statfs runs one statfs call in its own goroutine and waits at most
// StatfsTimeout for it. A call that hangs (a dead NFS server) is left to
// return in its own time, and no other is started until it has.
func (m *Monitor) statfs(ctx context.Context, p *path) {
	if !p.statfsBusy.CompareAndSwap(false, true) {
		p.fsAttempted.Store(true)
		p.fsOK.Store(false)
		m.opts.Logger.Warn("statfs still hung since an earlier attempt", "path", p.target.Name, "dir", p.target.Dir)
		return
	}
	done := make(chan error, 1)
	st := new(unix.Statfs_t)
	m.wg.Go(func() {
		err := m.opts.Statfs(p.target.Dir, st)
		p.statfsBusy.Store(false)
		done <- err
	})
	timer := time.NewTimer(m.opts.StatfsTimeout)
	defer timer.Stop()
	defer p.firstStatfsOnce.Do(func() { close(p.firstStatfs) })
	select {
	case err := <-done:
		p.fsAttempted.Store(true)
		if err != nil {
			p.fsOK.Store(false)
			m.opts.Logger.Debug("statfs failed", "path", p.target.Name, "err", err)
			return
		}
		p.fs.Store(st)
		p.fsOK.Store(true)
	case <-timer.C:
		p.fsAttempted.Store(true)
		p.fsOK.Store(false)
		m.opts.Logger.Warn("statfs did not answer in time; is the mount hung?", "path", p.target.Name,
			"dir", p.target.Dir, "timeout", m.opts.StatfsTimeout)
	case <-ctx.Done():
	}
}

// sleep waits d or until ctx ends, and reports whether ctx is still alive.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
