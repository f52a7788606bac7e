package walk

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/outrigger/outrigger/internal/promkit"
)

// Bucket names that are not real subdirectories or extensions, beside
// promkit.Other, which holds everything outside the top N (and what came
// after the tracking bound was reached).
const (
	// RootBucket holds what lies above the breakdown depth: the root's own
	// files and directories, and those of subdirectories shallower than it.
	RootBucket = "."
	// NoExtension holds files whose names have no extension.
	NoExtension = "none"
)

// Options tune a walk. The zero value walks with the defaults.
type Options struct {
	// Workers read directories in parallel (default: 2 x GOMAXPROCS, at least 4).
	Workers int
	// SubdirDepth is the depth of the per-subdirectory breakdown: 1 for the
	// root's children, 2 for their children... 0 disables it.
	SubdirDepth int
	// TopSubdirs and TopExtensions bound the breakdowns (default 10); the
	// rest is summed in "other".
	TopSubdirs    int
	TopExtensions int
	// MaxSubdirs and MaxExtensions bound what is tracked during the walk
	// (default 10000 and 1000); later ones go to "other".
	MaxSubdirs    int
	MaxExtensions int
	// MaxHardlinks bounds the set of (device, inode) pairs kept to count
	// hard-linked files once (default 1,000,000). Past it, further links of
	// new inodes are counted each time and Result.HardlinkSetFull is set.
	MaxHardlinks int
	// FS is the system-call layer (default OS).
	FS FS
	// RawSlots, when set, lets up to that many workers of the walks sharing
	// it call fstatat and getdents64 without the Go scheduler's bookkeeping,
	// where that is safe (see raw.go). Workers beyond the slots wait, and
	// join only if the walk turns out to read a cold cache.
	RawSlots *RawSlots
	// Nice, when above 0, is set on each worker's thread for the walk (the
	// thread is dropped afterwards, so no other goroutine inherits it): a
	// background walk then yields CPU to scrapes and to the application.
	Nice int

	// batchAlways hands every full getdents buffer to another worker, idle or
	// not (tests use it to exercise the hand-off on small trees).
	batchAlways bool
	// rawSlow overrides rawSlowDir (tests make every directory slow).
	rawSlow func(entries int) time.Duration
}

func (o Options) withDefaults() Options {
	if o.Workers <= 0 {
		o.Workers = max(4, 2*runtime.GOMAXPROCS(0))
	}
	if o.TopSubdirs <= 0 {
		o.TopSubdirs = 10
	}
	if o.TopExtensions <= 0 {
		o.TopExtensions = 10
	}
	if o.MaxSubdirs <= 0 {
		o.MaxSubdirs = 10000
	}
	if o.MaxExtensions <= 0 {
		o.MaxExtensions = 1000
	}
	if o.MaxHardlinks <= 0 {
		o.MaxHardlinks = 1_000_000
	}
	if o.FS == nil {
		o.FS = OS{}
	}
	if o.rawSlow == nil {
		o.rawSlow = rawSlowDir
	}
	return o
}

// Counts are the sizes and entry counts of a tree or a part of it. Hard-linked
// files count once, in the part where the walk met them first.
type Counts struct {
	ApparentBytes  int64 // sum of st_size, as `du -sb`
	AllocatedBytes int64 // sum of st_blocks*512, as `du -s -B1`
	Files          int64 // regular files
	Directories    int64
	Others         int64 // symlinks, sockets, FIFOs, devices
}

func (c *Counts) add(o Counts) {
	c.ApparentBytes += o.ApparentBytes
	c.AllocatedBytes += o.AllocatedBytes
	c.Files += o.Files
	c.Directories += o.Directories
	c.Others += o.Others
}

// Bucket is one line of a breakdown.
type Bucket struct {
	Name string
	Counts
}

// Result is what a walk found.
type Result struct {
	Root     string
	Started  time.Time
	Duration time.Duration
	// Partial is set when the walk ran out of time (its context ended)
	// before it had read every directory.
	Partial bool
	Totals  Counts
	// OldestMtime and NewestMtime are the modification times of the oldest
	// and newest regular files; zero when there are none.
	OldestMtime, NewestMtime time.Time
	// Subdirs is the breakdown at Options.SubdirDepth: the top subdirectories
	// by apparent bytes, then "." and "other". Empty when the depth is 0.
	Subdirs []Bucket
	// Extensions is the breakdown of regular files by lower-cased extension
	// (".png"): the top ones by apparent bytes, then "none" and "other".
	Extensions []Bucket
	// UnreadableDirs counts directories that could not be opened or read:
	// their own size is counted, their content is not.
	UnreadableDirs int64
	// StatErrors counts entries that could not be stat'ed for another reason
	// than having vanished.
	StatErrors int64
	// Vanished counts entries that disappeared between being listed and
	// being stat'ed or opened (deleted or replaced mid-walk).
	Vanished int64
	// Cycles counts directories met again below themselves (bind mounts):
	// like du, they are skipped and not counted.
	Cycles          int64
	HardlinkSetFull bool

	batches    int64 // getdents buffers handed to another worker (for tests)
	rawWorkers int   // workers that started on the fast path (for tests)
	rawCold    bool  // the fast path was left for a slow directory (for tests)
}

type task struct {
	path     string
	dev, ino uint64
	depth    int32
	bucket   int32
	anc      *ancestor // this directory and those above it
	// h is set for a directory opened already (the root).
	h *dirHandle
	// batch is set for a task that stats entries of a directory being read
	// by another worker, instead of reading a directory.
	batch *batch
}

// dirHandle is an open directory shared by its reader and the batches it
// handed out; the last one done closes it.
type dirHandle struct {
	fd   int
	refs atomic.Int32
}

// batch is one getdents buffer of a large directory, handed to an idle worker
// so that a directory of a million files is stat'ed in parallel too.
type batch struct {
	h    *dirHandle
	data []byte // linux_dirent64 records
}

// ancestor is a link of the chain from a directory up to the root, to spot
// a directory that contains itself (a bind mount of an ancestor).
type ancestor struct {
	dev, ino uint64
	up       *ancestor
}

func (a *ancestor) contains(dev, ino uint64) bool {
	for ; a != nil; a = a.up {
		if a.dev == dev && a.ino == ino {
			return true
		}
	}
	return false
}

type fileID struct{ dev, ino uint64 }

type walker struct {
	opts Options
	fs   FS
	root string

	mu      sync.Mutex
	cond    *sync.Cond
	stack   []task
	active  int
	stopped atomic.Bool
	cut     atomic.Bool  // some work was abandoned because of the stop
	idle    atomic.Int32 // workers waiting for work
	rootErr error        // reading the root failed (set by its one reader)

	// cold is set, and coldCh closed, when a raw worker met a slow
	// directory: every worker then uses ordinary system calls, and those
	// that waited for a slot join.
	cold     atomic.Bool
	coldOnce sync.Once
	coldCh   chan struct{}

	linksMu  sync.Mutex
	links    map[fileID]struct{}
	linkFull bool

	bucketsMu sync.Mutex
	buckets   []string // index 0 is ".", 1 is "other"
}

// Walk measures the tree at root. The root may be a symlink to a directory
// (it is resolved once); nothing below it is followed. Walk returns early with
// a Partial result when ctx ends. It fails only when the root itself cannot be
// resolved, stat'ed or read.
func Walk(ctx context.Context, root string, opts Options) (*Result, error) {
	started := time.Now()
	opts = opts.withDefaults()
	resolved, err := resolveRoot(root)
	if err != nil {
		return nil, err
	}
	w := &walker{opts: opts, fs: opts.FS, root: resolved, links: map[fileID]struct{}{},
		buckets: []string{RootBucket, promkit.Other}, coldCh: make(chan struct{})}
	w.cond = sync.NewCond(&w.mu)
	workers := []*worker{newWorker(w)}
	if err := w.openRoot(workers[0]); err != nil {
		return nil, err
	}
	for range opts.Workers - 1 {
		workers = append(workers, newWorker(w))
	}
	stopWatch := w.stopOnDone(ctx)
	nRaw := w.run(ctx, workers)
	stopWatch()
	w.closeQueued()
	if w.rootErr != nil {
		return nil, fmt.Errorf("reading walk root: %w", w.rootErr)
	}

	res := w.merge(workers)
	res.Root, res.Started, res.Duration = root, started, time.Since(started)
	res.Partial = w.cut.Load() || len(w.stack) > 0
	res.rawWorkers, res.rawCold = nRaw, w.cold.Load()
	return res, nil
}

// resolveRoot is the absolute path of root with its symlinks resolved.
func resolveRoot(root string) (string, error) {
	resolved, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", fmt.Errorf("resolving walk root: %w", err)
	}
	resolved, err = filepath.Abs(resolved)
	if err != nil {
		return "", fmt.Errorf("resolving walk root: %w", err)
	}
	return resolved, nil
}

// openRoot opens and counts the root, and queues it as the first task.
func (w *walker) openRoot(first *worker) error {
	fd, err := w.fs.OpenDir(cString(first.pathBuf[:0], w.root))
	if err != nil {
		return fmt.Errorf("opening walk root: %w", err)
	}
	var st unix.Stat_t
	if err := w.fs.Fstat(fd, &st); err != nil {
		w.fs.Close(fd)
		return fmt.Errorf("stat of walk root: %w", err)
	}
	first.account(&st, 0, nil)
	first.tot.Directories++
	first.bucket(0).Directories++
	rootHandle := &dirHandle{fd: fd}
	rootHandle.refs.Store(1)
	w.stack = append(w.stack, task{path: w.root, dev: st.Dev, ino: st.Ino, h: rootHandle,
		anc: &ancestor{dev: st.Dev, ino: st.Ino}})
	return nil
}

// stopOnDone stops the walk when ctx ends; the returned function ends the
// watch and waits for it.
func (w *walker) stopOnDone(ctx context.Context) func() {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-ctx.Done():
			w.stopped.Store(true)
			w.mu.Lock()
			w.cond.Broadcast()
			w.mu.Unlock()
		case <-stop:
		}
	}()
	return func() {
		close(stop)
		<-done
	}
}

// run runs the workers until the walk is over and returns how many used
// raw system calls.
func (w *walker) run(ctx context.Context, workers []*worker) int {
	opts := w.opts
	nRaw := 0
	if opts.RawSlots != nil && rawAllowed(ctx, w.fs, w.root) {
		nRaw = opts.RawSlots.acquire(opts.Workers)
	}
	// With raw workers, the others wait: they would take a P from them (and
	// the ordinary calls' hand-offs are what the fast path saves). They join
	// if the cache turns out cold, when more calls in flight help.
	var running, waiting sync.WaitGroup
	done := make(chan struct{})
	for i, wk := range workers {
		wk.raw = i < nRaw
		if nRaw == 0 || wk.raw {
			running.Go(wk.run)
			continue
		}
		waiting.Go(func() {
			select {
			case <-w.coldCh:
				wk.run()
			case <-done:
			}
		})
	}
	// The walk is over when the first workers are: they leave only once
	// nothing is queued or in progress (or it was stopped).
	running.Wait()
	close(done)
	waiting.Wait()
	opts.RawSlots.release(nRaw)
	return nRaw
}

// closeQueued closes the directories held by the tasks a stopped walk left
// queued.
func (w *walker) closeQueued() {
	for _, t := range w.stack {
		if t.batch != nil {
			w.release(t.batch.h)
		}
		if t.h != nil {
			w.release(t.h)
		}
	}
}

func (w *walker) next() (task, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(w.stack) == 0 && w.active > 0 && !w.stopped.Load() {
		w.idle.Add(1)
		w.cond.Wait()
		w.idle.Add(-1)
	}
	if len(w.stack) == 0 || w.stopped.Load() {
		return task{}, false
	}
	t := w.stack[len(w.stack)-1]
	w.stack = w.stack[:len(w.stack)-1]
	w.active++
	return t, true
}

func (w *walker) finish(pending []task) {
	w.mu.Lock()
	w.stack = append(w.stack, pending...)
	w.active--
	if len(pending) > 1 || (w.active == 0 && len(w.stack) == 0) {
		w.cond.Broadcast()
	} else if len(pending) == 1 {
		w.cond.Signal()
	}
	w.mu.Unlock()
}

// push adds a task while its pusher is still active.
func (w *walker) push(t task) {
	w.mu.Lock()
	w.stack = append(w.stack, t)
	w.cond.Signal()
	w.mu.Unlock()
}

// goCold takes the walk off the fast path.
func (w *walker) goCold() {
	w.coldOnce.Do(func() {
		w.cold.Store(true)
		close(w.coldCh)
	})
}

// release drops a reference to an open directory, closing it after the last.
func (w *walker) release(h *dirHandle) {
	if h.refs.Add(-1) == 0 {
		w.fs.Close(h.fd)
	}
}

// firstLink reports whether a hard-linked inode is met for the first time.
func (w *walker) firstLink(dev, ino uint64) bool {
	id := fileID{dev, ino}
	w.linksMu.Lock()
	defer w.linksMu.Unlock()
	if _, seen := w.links[id]; seen {
		return false
	}
	if len(w.links) >= w.opts.MaxHardlinks {
		w.linkFull = true
		return true
	}
	w.links[id] = struct{}{}
	return true
}

// newBucket registers the subdirectory at path (at the breakdown depth).
func (w *walker) newBucket(path string) int32 {
	w.bucketsMu.Lock()
	defer w.bucketsMu.Unlock()
	if len(w.buckets) >= w.opts.MaxSubdirs+2 {
		return 1
	}
	w.buckets = append(w.buckets, strings.TrimPrefix(path[len(w.root):], "/"))
	return int32(len(w.buckets) - 1)
}

// cString appends s and a NUL to buf.
func cString(buf []byte, s string) []byte {
	return append(append(buf, s...), 0)
}

func joinPath(dir string, name []byte) string {
	if dir == "/" {
		return "/" + string(name)
	}
	return dir + "/" + string(name)
}

func isDots(name []byte) bool {
	return bytes.Equal(name, []byte(".")) || bytes.Equal(name, []byte(".."))
}
