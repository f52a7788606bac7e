package file

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/outrigger/outrigger/shipper/registry"
)

// Handler is what the pipeline keeps per file (its multiline buffer,
// stream states, caches), made by Config.Open when the file is first read
// and kept with its Source for as long as the file is known. Only the
// file's reading goroutine calls it.
type Handler interface {
	// Handle receives the complete lines of one read, in file order; eof
	// is true (and lines empty) when the reader found no new data, so the
	// handler can flush what waits on a timeout. It blocks for
	// backpressure and returns an error only when ctx ended.
	Handle(ctx context.Context, lines []Line, eof bool) error
}

// Config configures a Tailer.
type Config struct {
	Include []string
	Exclude []string
	// ExcludeRegexps leave out paths they match (Filebeat's exclude_files).
	ExcludeRegexps []*regexp.Regexp
	// ResolveSymlinks, when set, names a file a glob found through links
	// by its real path when ResolveSymlinks(real) says so (a kubelet's
	// /var/log/containers links into /var/log/pods): a file rotated
	// beside the real one is then found after a restart.
	ResolveSymlinks func(real string) bool
	// Paths, when set, adds exact paths to the globs at every scan (the
	// log files of the containers a Docker input follows).
	Paths func() []string
	// StartAtEnd makes files found at the first scan of the very first
	// start (an empty registry) start at their end; files appearing later,
	// or found at a restart (created while the shipper was stopped, such
	// as a re-created container's log), are read from their start.
	StartAtEnd         bool
	FingerprintBytes   int
	MaxLineBytes       int
	ReadBufferBytes    int
	MaxOpenFiles       int
	ScanInterval       time.Duration
	PollInterval       time.Duration
	PartialLineTimeout time.Duration
	CloseInactive      time.Duration
	// CloseRenamedAfter is how long a renamed or deleted file is watched
	// for more data after its end was read.
	CloseRenamedAfter time.Duration
	// EndedRetention keeps the registry entry of truncated content this
	// long, to recognise a copytruncate copy of it.
	EndedRetention time.Duration

	Outputs  []string
	Registry *registry.Registry
	Release  func(int64)
	// Open makes the Handler of a file.
	Open    func(src *Source) Handler
	Logger  *slog.Logger
	Metrics *Metrics
}

// Defaults fills zero fields.
func (c *Config) Defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	defInt := func(d *int, v int) {
		if *d == 0 {
			*d = v
		}
	}
	defInt(&c.FingerprintBytes, 1024)
	defInt(&c.MaxLineBytes, 256<<10)
	defInt(&c.ReadBufferBytes, 64<<10)
	defInt(&c.MaxOpenFiles, 1024)
	def(&c.ScanInterval, time.Second)
	def(&c.PollInterval, 100*time.Millisecond)
	def(&c.PartialLineTimeout, 5*time.Second)
	def(&c.CloseInactive, 5*time.Minute)
	def(&c.CloseRenamedAfter, 5*time.Second)
	def(&c.EndedRetention, 10*time.Minute)
}

type devIno struct{ dev, ino uint64 }

// Tailer finds and reads files.
type Tailer struct {
	cfg Config
	log *slog.Logger
	m   *Metrics

	mu      sync.Mutex
	live    map[devIno]*Source // every source not ended, by identity
	sources []*Source          // the same, in creation order
	ended   []*Source          // ended, with acks possibly pending
	seq     int
	gen     int
	running int
	first   bool
	fresh   bool // the registry was empty: the very first start
	wg      sync.WaitGroup
	// bufs are read buffers given back by the Acks that kept them.
	bufs sync.Pool
}

func (t *Tailer) readBuffer() []byte {
	if b, ok := t.bufs.Get().(*[]byte); ok && len(*b) == t.cfg.ReadBufferBytes {
		return *b
	}
	return make([]byte, t.cfg.ReadBufferBytes)
}

func (t *Tailer) recycle(b []byte) { t.bufs.Put(&b) }

// New returns a Tailer.
func New(cfg Config) *Tailer {
	cfg.Defaults()
	fresh := cfg.Registry == nil || len(cfg.Registry.Entries()) == 0
	return &Tailer{cfg: cfg, log: cfg.Logger, m: cfg.Metrics, live: map[devIno]*Source{}, first: true, fresh: fresh}
}

// Run scans and reads until ctx ends, then waits for every reader.
func (t *Tailer) Run(ctx context.Context) {
	defer t.wg.Wait()
	tick := time.NewTicker(t.cfg.ScanInterval)
	defer tick.Stop()
	for {
		t.scan(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Sources returns the sources not ended.
func (t *Tailer) Sources() []*Source {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]*Source(nil), t.sources...)
}

func (t *Tailer) glob() []string {
	seen := map[string]bool{}
	var out []string
	include := t.cfg.Include
	if t.cfg.Paths != nil {
		include = append(append([]string(nil), include...), t.cfg.Paths()...)
	}
	for _, pat := range include {
		matches, _ := filepath.Glob(pat)
		for _, p := range matches {
			if seen[p] || t.excluded(p) {
				continue
			}
			seen[p] = true
			out = append(out, p)
		}
	}
	// Longer names first: a rotated or copied file (app.log.1) is found
	// before the file that replaced it (app.log), so its older lines go first.
	sort.SliceStable(out, func(i, j int) bool {
		if len(out[i]) != len(out[j]) {
			return len(out[i]) > len(out[j])
		}
		return out[i] < out[j]
	})
	return out
}

func (t *Tailer) excluded(p string) bool {
	base := filepath.Base(p)
	for _, re := range t.cfg.ExcludeRegexps {
		if re.MatchString(p) {
			return true
		}
	}
	for _, ex := range t.cfg.Exclude {
		if ok, _ := filepath.Match(ex, p); ok {
			return true
		}
		if ok, _ := filepath.Match(ex, base); ok {
			return true
		}
	}
	return false
}

func statIdentity(fi os.FileInfo) (devIno, uint32) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return devIno{}, 1
	}
	return devIno{uint64(st.Dev), uint64(st.Ino)}, uint32(st.Nlink)
}

func fingerprint(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:16])
}

func readHead(f *os.File, n int) ([]byte, error) {
	buf := make([]byte, n)
	got, err := f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading file head: %w", err)
	}
	return buf[:got], nil
}

// rotationSuffix is how rotation tools name the copy of app.log:
// app.log.1, app.log-20260101, app.log.2026-01-01T00:00, app.log.old.
var rotationSuffix = regexp.MustCompile(`^[.\-_]([0-9][0-9A-Za-z.\-_:]*|old|bak|prev)$`)

type found struct {
	path string
	fi   os.FileInfo
	id   devIno
}

func (t *Tailer) scan(ctx context.Context) {
	t.mu.Lock()
	t.gen++
	t.mu.Unlock()
	var files []found
	onDisk := map[devIno]bool{}
	for _, p := range t.glob() {
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if t.cfg.ResolveSymlinks != nil {
			if real, err := filepath.EvalSymlinks(p); err == nil && real != p && t.cfg.ResolveSymlinks(real) {
				p = real
			}
		}
		id, _ := statIdentity(fi)
		if onDisk[id] {
			continue
		}
		onDisk[id] = true
		files = append(files, found{p, fi, id})
	}
	if t.first {
		files = append(t.orphans(onDisk), files...)
	}
	discovered := false
	for _, f := range files {
		t.mu.Lock()
		s := t.live[f.id]
		t.mu.Unlock()
		if s != nil {
			t.refresh(s, f)
			continue
		}
		if err := t.discover(f); err != nil {
			t.log.Warn("opening file", "path", f.path, "err", err)
		}
		discovered = true
	}
	if discovered {
		// Know new files from now on, even across a crash: rotation may
		// rename one out of the globs before the next periodic save.
		if err := t.cfg.Registry.Save(); err != nil {
			t.log.Error("saving registry", "err", err)
		}
	}
	t.first = false
	t.settle(ctx)
}

// orphans finds, at start, files of registry entries that rotation renamed
// out of the globs while the shipper was stopped, so their tails are read.
func (t *Tailer) orphans(onDisk map[devIno]bool) []found {
	var out []found
	for _, e := range t.cfg.Registry.Entries() {
		id := devIno{e.Dev, e.Inode}
		if !e.Ended.IsZero() || onDisk[id] {
			continue
		}
		dir, base := filepath.Dir(e.Path), filepath.Base(e.Path)
		names, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, de := range names {
			if !strings.HasPrefix(de.Name(), base) || de.Name() == base {
				continue
			}
			p := filepath.Join(dir, de.Name())
			fi, err := os.Stat(p)
			if err != nil || !fi.Mode().IsRegular() {
				continue
			}
			if fid, _ := statIdentity(fi); fid == id {
				onDisk[id] = true
				out = append(out, found{p, fi, id})
				break
			}
		}
	}
	return out
}

// refresh updates a known source from what the scan saw.
func (t *Tailer) refresh(s *Source, f found) {
	s.mu.Lock()
	s.seen = t.gen
	s.size = f.fi.Size()
	if s.curPath != f.path {
		s.curPath = f.path
	}
	if f.path != s.path && !s.renamed {
		s.renamed = true
		t.m.FileEvents.WithLabelValues("rotated").Inc()
	}
	s.mu.Unlock()
}

// discover identifies a file not seen before and makes a source for it.
func (t *Tailer) discover(f found) error {
	fh, err := os.Open(f.path)
	if err != nil {
		return fmt.Errorf("opening: %w", err)
	}
	head, err := readHead(fh, t.cfg.FingerprintBytes)
	fh.Close()
	if err != nil {
		return err
	}
	size := f.fi.Size()
	s := &Source{dev: f.id.dev, inode: f.id.ino, outs: t.cfg.Outputs, reg: t.cfg.Registry, release: t.cfg.Release, recycle: t.recycle,
		curPath: f.path, path: f.path, fpLen: len(head), fp: fingerprint(head), size: size, seen: t.gen,
		outStart: make([]int64, len(t.cfg.Outputs))}
	resumed := false
	entries := t.cfg.Registry.Entries()
	for _, e := range entries {
		if !e.Ended.IsZero() || e.Dev != f.id.dev || e.Inode != f.id.ino || t.byID(e.ID) {
			continue
		}
		if e.FingerprintLen <= len(head) && fingerprint(head[:e.FingerprintLen]) == e.Fingerprint && e.Offset <= size {
			s.id, s.key, s.path, s.committed, s.readOff = e.ID, e.Key, e.Path, e.Offset, e.Offset
			for i, name := range t.cfg.Outputs {
				s.outStart[i] = max(e.Offset, e.Outputs[name])
			}
			s.renamed = f.path != e.Path
			resumed = true
			t.m.FileEvents.WithLabelValues("resumed").Inc()
			break
		}
		// Same inode, other content: the inode was reused, or the file was
		// truncated while the shipper was stopped.
		t.cfg.Registry.MarkEnded(e.ID)
		t.m.FileEvents.WithLabelValues("inode_reused").Inc()
	}
	if !resumed {
		if e := t.copyOf(entries, f.path, head); e != nil {
			// A copytruncate copy: what the original committed is in the
			// copy too. Resending from there is safe (identical entries
			// with the record's own timestamps are dropped by Loki).
			s.path, s.committed, s.readOff = e.Path, e.Offset, e.Offset
			s.key = e.Key
			if s.key == "" {
				s.key = e.ID
			}
			s.renamed = true
			t.m.FileEvents.WithLabelValues("copied").Inc()
		} else if t.first && t.fresh && t.cfg.StartAtEnd {
			s.committed, s.readOff = size, size
		}
		t.mu.Lock()
		t.seq++
		s.id = fmt.Sprintf("%d-%d-%d-%d", f.id.dev, f.id.ino, time.Now().UnixNano(), t.seq)
		t.mu.Unlock()
		t.cfg.Registry.Put(registry.Entry{ID: s.id, Key: s.key, Path: s.path, Dev: s.dev, Inode: s.inode,
			FingerprintLen: s.fpLen, Fingerprint: s.fp, Offset: s.committed})
		t.m.FileEvents.WithLabelValues("found").Inc()
	}
	t.mu.Lock()
	t.live[f.id] = s
	t.sources = append(t.sources, s)
	t.mu.Unlock()
	return nil
}

func (t *Tailer) byID(id string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range t.sources {
		if s.id == id {
			return true
		}
	}
	return false
}

// copyOf returns the entry a new file at path is a copy of: same first
// bytes, and a name made from the original's by a suffix (app.log.1,
// app.log-20260101), as copytruncate rotation names it.
func (t *Tailer) copyOf(entries []registry.Entry, path string, head []byte) *registry.Entry {
	for i := range entries {
		e := &entries[i]
		if e.FingerprintLen == 0 || e.FingerprintLen > len(head) || !strings.HasPrefix(path, e.Path) ||
			!rotationSuffix.MatchString(path[len(e.Path):]) {
			continue
		}
		if fingerprint(head[:e.FingerprintLen]) == e.Fingerprint {
			return e
		}
	}
	return nil
}

// settle starts what may start, marks what vanished, and forgets what ended.
func (t *Tailer) settle(ctx context.Context) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var keep []*Source
	for _, s := range t.sources {
		s.mu.Lock()
		if s.seen != t.gen && !s.renamed {
			s.renamed = true // renamed out of the globs, or deleted
			t.m.FileEvents.WithLabelValues("rotated").Inc()
		}
		dormantGone := !s.running && s.seen != t.gen
		s.mu.Unlock()
		if dormantGone {
			t.endLocked(s, false)
			continue
		}
		keep = append(keep, s)
	}
	t.sources = keep
	for _, s := range t.sources {
		s.mu.Lock()
		// New files start at once, even empty, so their first lines are not
		// held until the next scan; idle ones restart when they change.
		want := !s.running && !s.ended && (!s.started || s.size != s.readOff)
		s.mu.Unlock()
		if !want || t.running >= t.cfg.MaxOpenFiles || t.blockedLocked(s) {
			continue
		}
		t.startLocked(ctx, s)
	}
	// Forget ended sources once their acks are in.
	var still []*Source
	for _, s := range t.ended {
		s.mu.Lock()
		pending := len(s.pending)
		s.mu.Unlock()
		if pending > 0 {
			still = append(still, s)
			continue
		}
		t.cfg.Registry.Delete(s.id)
	}
	t.ended = still
	for _, e := range t.cfg.Registry.Entries() {
		if !e.Ended.IsZero() && time.Since(e.Ended) > t.cfg.EndedRetention {
			t.cfg.Registry.Delete(e.ID)
		}
	}
	t.m.FilesOpen.Set(float64(t.running))
	t.m.FilesWatched.Set(float64(len(t.sources)))
}

// blockedLocked: a file that replaced a rotated one waits until the rotated
// one was read to its end, so a stream's lines stay in order.
func (t *Tailer) blockedLocked(s *Source) bool {
	for _, o := range t.sources {
		if o == s {
			return false // only older sources block
		}
		o.mu.Lock()
		blocks := o.path == s.path && o.renamed && !o.drained && !o.ended
		o.mu.Unlock()
		if blocks {
			return true
		}
	}
	return false
}

func (t *Tailer) startLocked(ctx context.Context, s *Source) {
	s.mu.Lock()
	path, off := s.curPath, s.readOff
	s.mu.Unlock()
	f, err := os.Open(path)
	if err != nil {
		return
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return
	}
	if id, _ := statIdentity(fi); id != (devIno{s.dev, s.inode}) {
		f.Close()
		return
	}
	head, err := readHead(f, s.fpLen)
	if fi.Size() < off || err != nil || len(head) < s.fpLen || fingerprint(head) != s.fp {
		// Truncated (and maybe written again) while idle.
		f.Close()
		t.truncatedLocked(s)
		return
	}
	s.mu.Lock()
	s.running, s.started = true, true
	s.mu.Unlock()
	t.running++
	t.wg.Add(1)
	go t.read(ctx, s, f)
}

// endLocked ends a source: its registry entry goes once its acks are in
// (truncated content is flagged ended at once).
func (t *Tailer) endLocked(s *Source, truncated bool) {
	s.mu.Lock()
	s.ended = true
	s.mu.Unlock()
	delete(t.live, devIno{s.dev, s.inode})
	if truncated {
		t.cfg.Registry.MarkEnded(s.id)
		return
	}
	t.ended = append(t.ended, s)
}

func (t *Tailer) truncatedLocked(s *Source) {
	t.m.FileEvents.WithLabelValues("truncated").Inc()
	t.endLocked(s, true)
	var keep []*Source
	for _, o := range t.sources {
		if o != s {
			keep = append(keep, o)
		}
	}
	t.sources = keep
}

type endReason int

const (
	keepOpen endReason = iota
	endTruncated
	endReleased
	endDormant
)

// read is the goroutine reading one file.
func (t *Tailer) read(ctx context.Context, s *Source, f *os.File) {
	reason := keepOpen
	defer func() {
		f.Close()
		t.mu.Lock()
		t.running--
		s.mu.Lock()
		s.running = false
		s.mu.Unlock()
		switch reason {
		case endTruncated:
			t.truncatedLocked(s)
		case endReleased:
			t.m.FileEvents.WithLabelValues("released").Inc()
			t.endLocked(s, false)
			var keep []*Source
			for _, o := range t.sources {
				if o != s {
					keep = append(keep, o)
				}
			}
			t.sources = keep
		}
		t.mu.Unlock()
		t.wg.Done()
	}()
	fr := Framer{Max: t.cfg.MaxLineBytes}
	buf := t.readBuffer()
	s.mu.Lock()
	off := s.readOff
	s.mu.Unlock()
	lastData := time.Now()
	lastCheck := time.Now()
	poll := 5 * time.Millisecond
	atEOF := false
	for ctx.Err() == nil {
		n, err := f.ReadAt(buf, off)
		if n > 0 && atEOF {
			// New data after a pause: make sure it is the same file and not
			// one truncated and written again past our offset.
			if head, herr := readHead(f, s.fpLen); herr == nil && (len(head) < s.fpLen || fingerprint(head) != s.fp) {
				reason = endTruncated
				return
			}
		}
		atEOF = n == 0
		if n > 0 {
			lines := fr.Feed(buf[:n], off)
			off += int64(n)
			t.m.ReadBytes.Add(float64(n))
			s.mu.Lock()
			s.readOff = off
			if off > s.size {
				s.size = off
			}
			s.mu.Unlock()
			if len(lines) > 0 {
				s.readBuf = buf
				err := t.handle(ctx, s, lines, false)
				if s.readBuf == nil {
					buf = t.readBuffer() // an Ack kept it
				}
				s.readBuf = nil
				if err != nil {
					return
				}
			}
			if s.fpLen < t.cfg.FingerprintBytes {
				t.growFingerprint(s, f)
			}
			lastData, poll = time.Now(), 5*time.Millisecond
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			t.log.Warn("reading file", "path", s.CurrentPath(), "err", err)
		}
		if t.handle(ctx, s, nil, true) != nil {
			return
		}
		if pend, _ := fr.Pending(); pend > 0 && time.Since(lastData) > t.cfg.PartialLineTimeout {
			if lines := fr.Flush(off); len(lines) > 0 && t.handle(ctx, s, lines, false) != nil {
				return
			}
		}
		if reason = t.check(s, f, off, &fr, lastData, &lastCheck); reason != keepOpen {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(poll):
		}
		poll = min(poll*2, t.cfg.PollInterval)
	}
}

// handle hands a read of s to its Handler, made on the first.
func (t *Tailer) handle(ctx context.Context, s *Source, lines []Line, eof bool) error {
	if s.handler == nil {
		s.handler = t.cfg.Open(s)
	}
	return s.handler.Handle(ctx, lines, eof)
}

// check looks at a file at its end: truncated, deleted, renamed, idle?
func (t *Tailer) check(s *Source, f *os.File, off int64, fr *Framer, lastData time.Time, lastCheck *time.Time) endReason {
	fi, err := f.Stat()
	if err != nil {
		return keepOpen
	}
	if fi.Size() < off {
		return endTruncated
	}
	if time.Since(*lastCheck) >= t.cfg.ScanInterval {
		*lastCheck = time.Now()
		if head, err := readHead(f, s.fpLen); err == nil && (len(head) < s.fpLen || fingerprint(head) != s.fp) {
			return endTruncated // truncated and written again past our offset
		}
	}
	_, nlink := statIdentity(fi)
	idle := time.Since(lastData)
	pend, _ := fr.Pending()
	gen := t.scanGen() // before s.mu: the scan locks t.mu, then s.mu
	s.mu.Lock()
	renamed, gone := s.renamed, s.seen != gen
	if renamed {
		s.drained = true
	}
	s.mu.Unlock()
	switch {
	case nlink == 0 && idle > t.cfg.CloseRenamedAfter:
		t.m.FileEvents.WithLabelValues("deleted").Inc()
		return endReleased
	case renamed && gone && idle > t.cfg.CloseRenamedAfter:
		return endReleased
	case pend == 0 && idle > t.cfg.CloseInactive:
		return endDormant
	}
	return keepOpen
}

func (t *Tailer) scanGen() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.gen
}

func (t *Tailer) growFingerprint(s *Source, f *os.File) {
	head, err := readHead(f, t.cfg.FingerprintBytes)
	if err != nil || len(head) <= s.fpLen {
		return
	}
	fp := fingerprint(head)
	s.mu.Lock()
	s.fpLen, s.fp = len(head), fp
	s.mu.Unlock()
	t.cfg.Registry.UpdateFingerprint(s.id, len(head), fp)
}
