package walk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// direntBufSize is what one getdents call fills, as fts does.
const direntBufSize = 32 << 10

// worker reads directories and sums what it finds in its own counters, which
// are merged when the walk ends: the hot path shares nothing.
type worker struct {
	w       *walker
	buf     []byte
	pathBuf []byte
	st      unix.Stat_t
	pending []task

	tot              Counts
	oldest, newest   int64 // mtimes in ns
	haveFile         bool
	subdirs          []Counts // by bucket index
	exts             map[extKey]*Counts
	extNone, extOver Counts
	extCache         [extCacheSize]extSlot // recent extensions, before the map

	unreadable, statErrs, vanished, cycles int64
	batches                                int64

	raw     bool  // on the fast path (raw.go)
	statted int64 // entries stat'ed, to time directories on the fast path
	slowRun int   // directories in a row found slow on the fast path
}

func newWorker(w *walker) *worker {
	return &worker{w: w, buf: make([]byte, direntBufSize), pathBuf: make([]byte, 0, 4096),
		exts: map[extKey]*Counts{}}
}

func (wk *worker) run() {
	if n := wk.w.opts.Nice; n > 0 {
		// The goroutine ends locked to its thread, which then exits rather
		// than serving other goroutines at the lower priority (a process
		// without CAP_SYS_NICE could not set it back). The main thread is
		// left alone: Go parks it for good instead of ending it.
		runtime.LockOSThread()
		tid := unix.Gettid()
		if tid == unix.Getpid() {
			// On the main thread: work from another goroutine instead. This
			// one stays locked to the main thread while it waits, so the
			// other cannot be scheduled there in turn (with one P it would
			// be, and spawn another, without end).
			done := make(chan struct{})
			go func() {
				defer close(done)
				wk.run()
			}()
			<-done
			runtime.UnlockOSThread()
			return
		}
		_ = unix.Setpriority(unix.PRIO_PROCESS, tid, n) // best effort: the walk runs either way
	}
	for {
		t, ok := wk.w.next()
		if !ok {
			return
		}
		if wk.raw && wk.w.cold.Load() {
			wk.raw = false
		}
		var start time.Time
		before := wk.statted
		if wk.raw {
			start = time.Now()
		}
		if t.batch != nil {
			wk.statBatch(t)
		} else {
			wk.dir(t)
		}
		if wk.raw {
			wk.timed(time.Since(start), int(wk.statted-before))
		}
		wk.w.finish(wk.pending)
		wk.pending = wk.pending[:0]
	}
}

// timed takes a task of n entries that took d on the fast path into
// account: rawSlowRun slow ones in a row mean a cold cache (a worker merely
// descheduled on a loaded machine is slow now and then, not every time).
func (wk *worker) timed(d time.Duration, n int) {
	if d <= wk.w.opts.rawSlow(n) {
		wk.slowRun = 0
		return
	}
	wk.slowRun++
	if wk.slowRun >= rawSlowRun {
		wk.w.goCold()
	}
}

// dir opens and reads one directory, checking that it is still the one its
// parent listed (so a directory swapped for a symlink mid-walk is not
// followed out of the tree).
func (wk *worker) dir(t task) {
	h := t.h
	if h == nil {
		fs := wk.w.fs
		wk.pathBuf = cString(wk.pathBuf[:0], t.path)
		fd, err := fs.OpenDir(wk.pathBuf)
		if err != nil {
			if vanishedErr(err) {
				wk.vanished++
			} else {
				wk.unreadable++
			}
			return
		}
		if err := fs.Fstat(fd, &wk.st); err != nil || wk.st.Dev != t.dev || wk.st.Ino != t.ino {
			fs.Close(fd)
			wk.vanished++
			return
		}
		h = &dirHandle{fd: fd}
		h.refs.Store(1)
	}
	err := wk.readDir(h, t)
	wk.w.release(h)
	switch {
	case err == nil || errors.Is(err, errStopped):
	case t.h != nil: // the root, opened by Walk
		wk.w.rootErr = err
	default:
		wk.unreadable++
	}
}

var errStopped = errors.New("walk stopped")

// minBatch is the least of a getdents buffer worth handing to another worker
// (a few hundred entries); smaller directories are read by one worker.
const minBatch = 8 << 10

// readDir reads the entries of the open directory h and stats each one, or,
// when another worker is idle, hands it a copy of a full buffer to stat.
func (wk *worker) readDir(h *dirHandle, t task) error {
	w := wk.w
	for {
		if w.stopped.Load() {
			w.cut.Store(true)
			return errStopped
		}
		var n int
		var err error
		if wk.raw {
			n, err = rawGetdents(h.fd, wk.buf)
		} else {
			n, err = w.fs.ReadDirents(h.fd, wk.buf)
		}
		if err != nil {
			return err
		}
		if n <= 0 {
			return nil
		}
		if n >= minBatch && (w.opts.batchAlways || w.idle.Load() > 0) {
			h.refs.Add(1)
			bt := t
			bt.h, bt.batch = nil, &batch{h: h, data: append([]byte(nil), wk.buf[:n]...)}
			w.push(bt)
			continue
		}
		if err := wk.entries(h.fd, t, wk.buf[:n]); err != nil {
			return err
		}
	}
}

// statBatch stats the entries of a buffer another worker read.
func (wk *worker) statBatch(t task) {
	b := t.batch
	defer wk.w.release(b.h)
	wk.batches++
	if wk.w.stopped.Load() {
		wk.w.cut.Store(true)
		return
	}
	if err := wk.entries(b.h.fd, t, b.data); err != nil {
		wk.unreadable++
	}
}

// entries stats every entry of the linux_dirent64 records in data, which
// were read from the directory fd of task t.
func (wk *worker) entries(fd int, t task, data []byte) error {
	for off := 0; off+19 <= len(data); {
		reclen := int(binary.NativeEndian.Uint16(data[off+16:]))
		if reclen < 19 || off+reclen > len(data) {
			return errBadDirent
		}
		name := data[off+19 : off+reclen]
		off += reclen
		end := bytes.IndexByte(name, 0)
		if end < 0 {
			return errBadDirent
		}
		name = name[:end+1]
		if isDots(name[:end]) {
			continue
		}
		wk.entry(fd, t, name)
	}
	return nil
}

var errBadDirent = errors.New("malformed directory entry")

// entry stats name (NUL-terminated) in the directory fd of task t.
func (wk *worker) entry(fd int, t task, name []byte) {
	st := &wk.st
	wk.statted++
	var err error
	if wk.raw {
		err = rawLstatat(fd, name, st)
	} else {
		err = wk.w.fs.Lstatat(fd, name, st)
	}
	if err != nil {
		if vanishedErr(err) {
			wk.vanished++
		} else {
			wk.statErrs++
		}
		return
	}
	mode := st.Mode & unix.S_IFMT
	if mode != unix.S_IFDIR && st.Nlink > 1 && !wk.w.firstLink(st.Dev, st.Ino) {
		return
	}
	if mode == unix.S_IFDIR && t.anc.contains(st.Dev, st.Ino) {
		wk.cycles++
		return
	}
	bucket := t.bucket
	switch mode {
	case unix.S_IFDIR:
		depth := t.depth + 1
		path := joinPath(t.path, name[:len(name)-1])
		if int(depth) == wk.w.opts.SubdirDepth {
			bucket = wk.w.newBucket(path)
		}
		wk.pending = append(wk.pending, task{path: path, dev: st.Dev, ino: st.Ino, depth: depth, bucket: bucket,
			anc: &ancestor{dev: st.Dev, ino: st.Ino, up: t.anc}})
		wk.tot.Directories++
		wk.bucket(bucket).Directories++
		wk.account(st, bucket, nil)
	case unix.S_IFREG:
		wk.tot.Files++
		wk.bucket(bucket).Files++
		wk.account(st, bucket, name[:len(name)-1])
	default:
		wk.tot.Others++
		wk.bucket(bucket).Others++
		wk.account(st, bucket, nil)
	}
}

// account adds the sizes of st; file is the name of a regular file.
func (wk *worker) account(st *unix.Stat_t, bucket int32, file []byte) {
	apparent, allocated := st.Size, st.Blocks*512
	wk.tot.ApparentBytes += apparent
	wk.tot.AllocatedBytes += allocated
	b := wk.bucket(bucket)
	b.ApparentBytes += apparent
	b.AllocatedBytes += allocated
	if file == nil {
		return
	}
	mtime := st.Mtim.Nano()
	if !wk.haveFile || mtime < wk.oldest {
		wk.oldest = mtime
	}
	if !wk.haveFile || mtime > wk.newest {
		wk.newest = mtime
	}
	wk.haveFile = true
	e := wk.ext(file)
	e.Files++
	e.ApparentBytes += apparent
	e.AllocatedBytes += allocated
}

func (wk *worker) bucket(i int32) *Counts {
	for int(i) >= len(wk.subdirs) {
		wk.subdirs = append(wk.subdirs, Counts{})
	}
	return &wk.subdirs[i]
}

// maxExtLen is the longest extension (with its dot) taken as one; longer
// suffixes are parts of names, not types.
const maxExtLen = 16

// extKey is a lower-cased extension, dot included, zero-padded to
// maxExtLen bytes: names hold no NUL, so padding and extension cannot mix.
type extKey [2]uint64

func (k extKey) String() string {
	var b [maxExtLen]byte
	binary.LittleEndian.PutUint64(b[:8], k[0])
	binary.LittleEndian.PutUint64(b[8:], k[1])
	n := bytes.IndexByte(b[:], 0)
	if n < 0 {
		n = maxExtLen
	}
	return string(b[:n])
}

// extCacheSize slots of a direct-mapped cache answer for the few extensions
// of a tree without hashing a map key per file.
const (
	extCacheBits = 6
	extCacheSize = 1 << extCacheBits
)

type extSlot struct {
	key extKey
	c   *Counts
}

// ext returns the counters of the extension of a file name.
func (wk *worker) ext(name []byte) *Counts {
	dot := bytes.LastIndexByte(name, '.')
	if dot <= 0 || len(name)-dot < 2 || len(name)-dot > maxExtLen {
		return &wk.extNone
	}
	var b [maxExtLen]byte
	n := copy(b[:], name[dot:])
	for i := range n {
		if c := b[i]; 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	k := extKey{binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint64(b[8:])}
	slot := &wk.extCache[(k[0]*0x9E3779B97F4A7C15+k[1])>>(64-extCacheBits)]
	if slot.c != nil && slot.key == k {
		return slot.c
	}
	c, ok := wk.exts[k]
	if !ok {
		if len(wk.exts) >= wk.w.opts.MaxExtensions {
			return &wk.extOver
		}
		c = &Counts{}
		wk.exts[k] = c
	}
	*slot = extSlot{key: k, c: c}
	return c
}

func vanishedErr(err error) bool {
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP)
}
