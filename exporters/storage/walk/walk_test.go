package walk

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/outrigger/outrigger/internal/promkit"
)

// The generated tree holds hard links, sparse files, symlink loops, a
// symlink to /usr, a FIFO and odd names: every figure must equal du's and an
// independent serial walk's, whatever the number of workers.
func TestWalkMatchesDu(t *testing.T) {
	tree := sharedTree(t)
	apparent := du(t, tree.root, "-sb")
	allocated := du(t, tree.root, "-s", "-B1")
	want := measure(t, tree.root)
	if want.files != tree.man.Files || want.dirs != tree.man.Dirs || want.others != tree.man.Others {
		t.Fatalf("oracle disagrees with the generator: %+v vs %+v", want, tree.man)
	}
	// Each with ordinary system calls, on the raw fast path (the test tree
	// is on a local filesystem), and on the fast path left at the first
	// directory as if the cache were cold.
	modes := []struct {
		name string
		opts func(*Options)
	}{
		{"ordinary", func(*Options) {}},
		{"raw", func(o *Options) { o.RawSlots = NewRawSlots(2) }},
		{"raw-cold", func(o *Options) {
			o.RawSlots = NewRawSlots(2)
			o.rawSlow = func(int) time.Duration { return 0 }
		}},
	}
	for _, workers := range []int{1, 2, 8} {
		for _, mode := range modes {
			t.Run(strings.Repeat("w", workers)+"/"+mode.name, func(t *testing.T) {
				opts := Options{Workers: workers, SubdirDepth: 2, TopSubdirs: 5, TopExtensions: 20}
				mode.opts(&opts)
				res := mustWalk(t, tree.root, opts)
				checkRaw(t, res, opts)
				checkTree(t, tree, res, apparent, allocated, want)
			})
		}
	}
}

// checkRaw checks that a walk used as many raw workers as it could.
func checkRaw(t *testing.T, res *Result, opts Options) {
	t.Helper()
	wantRaw := 0
	if opts.RawSlots != nil {
		wantRaw = min(opts.Workers, int(opts.RawSlots.max))
	}
	if res.rawWorkers != wantRaw {
		t.Errorf("%d raw workers, want %d (is the test tree on a local filesystem?)", res.rawWorkers, wantRaw)
	}
	if cold := opts.rawSlow != nil; res.rawCold != cold {
		t.Errorf("left the fast path: %v, want %v", res.rawCold, cold)
	}
	if opts.RawSlots != nil && opts.RawSlots.used.Load() != 0 {
		t.Errorf("%d raw slots still held after the walk", opts.RawSlots.used.Load())
	}
}

func checkTree(t *testing.T, tree *shared, res *Result, apparent, allocated int64, want oracle) {
	t.Helper()
	got := res.Totals
	if got.ApparentBytes != apparent {
		t.Errorf("apparent bytes %d, du -sb says %d", got.ApparentBytes, apparent)
	}
	if got.AllocatedBytes != allocated {
		t.Errorf("allocated bytes %d, du -s -B1 says %d", got.AllocatedBytes, allocated)
	}
	if got.Files != want.files || got.Directories != want.dirs || got.Others != want.others {
		t.Errorf("files/dirs/others %d/%d/%d, want %d/%d/%d", got.Files, got.Directories, got.Others,
			want.files, want.dirs, want.others)
	}
	if !res.OldestMtime.Equal(tree.man.Oldest) || !res.NewestMtime.Equal(want.newest) {
		t.Errorf("oldest/newest %s/%s, want %s/%s", res.OldestMtime, res.NewestMtime, tree.man.Oldest, want.newest)
	}
	if res.Partial || res.UnreadableDirs+res.StatErrors+res.Vanished != 0 || res.HardlinkSetFull {
		t.Errorf("a clean walk reported trouble: %+v", res)
	}
	if s := sum(res.Subdirs); s != got {
		t.Errorf("subdirectory breakdown sums to %+v, totals are %+v", s, got)
	}
	if len(res.Subdirs) != 5+2 || res.Subdirs[5].Name != RootBucket || res.Subdirs[6].Name != promkit.Other {
		t.Errorf("subdirs: want 5 named, then . and other: %+v", res.Subdirs)
	}
	if top := res.Subdirs[0]; top.Name != "extras/sparse" {
		t.Errorf("largest subdirectory at depth 2 is %q, want extras/sparse", top.Name)
	}
	exts := map[string]int64{}
	for _, b := range res.Extensions {
		exts[b.Name] = b.Files
	}
	if n, ok := exts[promkit.Other]; !ok || n != 0 {
		t.Errorf("\"other\" extension bucket: %d files (present %v), want 0: there are fewer than 20 extensions", n, ok)
	}
	for ext, n := range want.extFiles {
		if exts[ext] != n {
			t.Errorf("extension %q: %d files, want %d", ext, exts[ext], n)
		}
	}
	if s := sum(res.Extensions); s.Files != got.Files {
		t.Errorf("extension breakdown counts %d files, totals %d", s.Files, got.Files)
	}
}

// A root that is a symlink is resolved once; symlinks below it never are.
func TestWalkResolvesASymlinkedRootOnly(t *testing.T) {
	tree := sharedTree(t)
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(tree.root, link); err != nil {
		t.Fatal(err)
	}
	res := mustWalk(t, link, Options{})
	if want := du(t, tree.root, "-sb"); res.Totals.ApparentBytes != want {
		t.Errorf("apparent bytes through a symlinked root %d, want %d", res.Totals.ApparentBytes, want)
	}
	if res.Root != link {
		t.Errorf("result root %q, want the configured %q", res.Root, link)
	}
}

// Root, which the tests run as, reads a chmod 000 directory, so the failure
// is injected: opening the directory fails with EACCES, or reading it fails
// with EIO. Either way it is counted, its own size stays in the totals, its
// content is missing, and the walk goes on. (The end-to-end test in
// cmd/storage-exporter makes a real unreadable directory by running the
// binary as nobody.)
func TestUnreadableDirectoryIsCountedNotFatal(t *testing.T) {
	tree := sharedTree(t)
	locked := tree.man.Locked
	var lockedSt unix.Stat_t
	if err := unix.Lstat(locked, &lockedSt); err != nil {
		t.Fatal(err)
	}
	insideApparent := du(t, locked, "-sb") - lockedSt.Size
	insideAllocated := du(t, locked, "-s", "-B1") - lockedSt.Blocks*512
	apparent, allocated := du(t, tree.root, "-sb"), du(t, tree.root, "-s", "-B1")

	failOpen := &hookFS{openDir: func(p string) error {
		if p == locked {
			return unix.EACCES
		}
		return nil
	}}
	failRead := &hookFS{readDirents: func(fd int) error {
		if fdPath(fd) == locked {
			return unix.EIO
		}
		return nil
	}}
	for name, fs := range map[string]FS{"open fails": failOpen, "getdents fails": failRead} {
		t.Run(name, func(t *testing.T) {
			res := mustWalk(t, tree.root, Options{FS: fs})
			if res.UnreadableDirs != 1 || res.Partial {
				t.Errorf("unreadable dirs %d partial %v, want 1 and false", res.UnreadableDirs, res.Partial)
			}
			if res.Totals.ApparentBytes != apparent-insideApparent || res.Totals.AllocatedBytes != allocated-insideAllocated {
				t.Errorf("apparent/allocated %d/%d, want du's minus the locked content: %d/%d", res.Totals.ApparentBytes,
					res.Totals.AllocatedBytes, apparent-insideApparent, allocated-insideAllocated)
			}
			if res.Totals.Files != tree.man.Files-2 || res.Totals.Directories != tree.man.Dirs-1 {
				t.Errorf("files/dirs %d/%d, want %d/%d", res.Totals.Files, res.Totals.Directories, tree.man.Files-2, tree.man.Dirs-1)
			}
		})
	}
}

func TestUnreadableRootFailsTheWalk(t *testing.T) {
	tree := sharedTree(t)
	fs := &hookFS{openDir: func(string) error { return unix.EACCES }}
	if _, err := Walk(t.Context(), tree.root, Options{FS: fs}); !errors.Is(err, unix.EACCES) {
		t.Errorf("walking an unreadable root: %v, want EACCES", err)
	}
	if _, err := Walk(t.Context(), filepath.Join(tree.root, "nope"), Options{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("walking a missing root: %v, want not-exist", err)
	}
	file := filepath.Join(t.TempDir(), "file")
	writeFile(t, file, 10)
	if _, err := Walk(t.Context(), file, Options{}); !errors.Is(err, unix.ENOTDIR) {
		t.Errorf("walking a file: %v, want ENOTDIR", err)
	}
}

// Entries deleted between getdents and lstat, a directory deleted before it
// is opened and one swapped for a symlink are counted as vanished; the walk
// neither fails nor follows the symlink.
func TestEntriesVanishingMidWalk(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"v/a.txt", "v/b.txt", "v/keep.txt", "v/sub/x.txt", "v/gone/y.txt", "v/swapped/z.txt", "w/k.txt"} {
		writeFile(t, filepath.Join(root, f), 1000)
	}
	v := filepath.Join(root, "v")
	var deleted atomic.Int32
	fs := &hookFS{
		lstatat: func(name string) error {
			if name == "a.txt" || name == "b.txt" {
				// Listed by getdents, gone by the lstat.
				deleted.Add(1)
				return os.Remove(filepath.Join(v, name))
			}
			return nil
		},
		openDir: func(p string) error {
			switch p {
			case filepath.Join(v, "gone"):
				return os.RemoveAll(p)
			case filepath.Join(v, "swapped"):
				if err := os.Rename(p, p+".old"); err != nil {
					return err
				}
				return os.Symlink("/usr", p)
			}
			return nil
		},
	}
	res := mustWalk(t, root, Options{FS: fs, Workers: 2})
	if deleted.Load() != 2 {
		t.Fatalf("the hook deleted %d files, want 2", deleted.Load())
	}
	if res.Vanished != 4 || res.UnreadableDirs != 0 || res.StatErrors != 0 || res.Partial {
		t.Errorf("vanished %d unreadable %d stat errors %d partial %v; want 4, 0, 0, false",
			res.Vanished, res.UnreadableDirs, res.StatErrors, res.Partial)
	}
	// keep.txt, sub/x.txt, w/k.txt; root, v, w, sub, gone and swapped were
	// directories when listed.
	if res.Totals.Files != 3 || res.Totals.Directories != 6 {
		t.Errorf("files %d dirs %d, want 3 and 6", res.Totals.Files, res.Totals.Directories)
	}
}

// A walk over its budget stops soon after and says its figures are partial.
func TestBudgetCutsTheWalkShortAndSaysSo(t *testing.T) {
	tree := sharedTree(t)
	slow := &hookFS{openDir: func(string) error { time.Sleep(5 * time.Millisecond); return nil }}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := Walk(ctx, tree.root, Options{FS: slow, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("walk took %s after a 100ms budget", took)
	}
	if !res.Partial {
		t.Error("a walk cut short is not marked partial")
	}
	if res.Totals.Files == 0 || res.Totals.Files >= tree.man.Files {
		t.Errorf("partial walk counted %d files of %d", res.Totals.Files, tree.man.Files)
	}
}

func TestHardlinkSetBound(t *testing.T) {
	root := t.TempDir()
	for i := range 5 {
		p := filepath.Join(root, "f"+string(rune('a'+i)))
		writeFile(t, p, 4096)
		if err := os.Link(p, p+".link"); err != nil {
			t.Fatal(err)
		}
	}
	want := du(t, root, "-sb")
	if res := mustWalk(t, root, Options{}); res.Totals.ApparentBytes != want || res.Totals.Files != 5 || res.HardlinkSetFull {
		t.Errorf("hard links: apparent %d files %d full %v, want %d, 5, false", res.Totals.ApparentBytes, res.Totals.Files,
			res.HardlinkSetFull, want)
	}
	res := mustWalk(t, root, Options{MaxHardlinks: 2})
	if !res.HardlinkSetFull || res.Totals.Files != 8 {
		t.Errorf("past the bound: full %v files %d, want true and 8 (2 remembered, 3 counted twice)", res.HardlinkSetFull, res.Totals.Files)
	}
}

func TestBreakdownLabels(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "top.txt"), 10)
	writeFile(t, filepath.Join(root, "other", "a.PNG"), 300)
	writeFile(t, filepath.Join(root, "big", "b.png"), 1000)
	writeFile(t, filepath.Join(root, "small", "c.tar.gz"), 1)
	writeFile(t, filepath.Join(root, "small", "d.md"), 2)
	res := mustWalk(t, root, Options{SubdirDepth: 1, TopSubdirs: 2, TopExtensions: 1})
	var names []string
	for _, b := range res.Subdirs {
		names = append(names, b.Name)
	}
	if got := strings.Join(names, ","); got != "big,./other,.,other" {
		t.Errorf("subdir buckets %s, want big,./other,.,other", got)
	}
	if b := res.Subdirs[3]; b.Files != 2 || b.Directories != 1 {
		t.Errorf("\"other\" holds %+v, want the 2 files and 1 directory of small/", b)
	}
	if e := res.Extensions; len(e) != 3 || e[0].Name != ".png" || e[0].Files != 2 || e[1].Name != NoExtension || e[2].Files != 3 {
		t.Errorf("extensions %+v, want .png (2 files), none, other (3 files)", e)
	}
	if res := mustWalk(t, root, Options{}); len(res.Subdirs) != 0 {
		t.Errorf("depth 0 gave a breakdown: %+v", res.Subdirs)
	}
}

// The dirent parser must survive whatever a filesystem (or FUSE server)
// returns from getdents.
func FuzzReadDirents(f *testing.F) {
	dir := f.TempDir()
	for _, n := range []string{"a", "bb.png", "long-name-" + strings.Repeat("x", 200)} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			f.Fatal(err)
		}
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		f.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, err := unix.Getdents(fd, buf)
	unix.Close(fd)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(buf[:n])
	f.Add(buf[:n/2])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		w := &walker{opts: Options{}.withDefaults(), links: map[fileID]struct{}{}, buckets: []string{RootBucket, promkit.Other}}
		w.fs = &fakeDirents{data: data}
		wk := newWorker(w)
		h := &dirHandle{fd: 3}
		h.refs.Store(2) // never closed: fd 3 is not ours
		_ = wk.readDir(h, task{path: "/x"})
	})
}

// fakeDirents returns data from one getdents call; every lstat fails.
type fakeDirents struct {
	OS
	data []byte
	done bool
}

func (f *fakeDirents) ReadDirents(_ int, buf []byte) (int, error) {
	if f.done {
		return 0, nil
	}
	f.done = true
	return copy(buf, f.data), nil
}

func (f *fakeDirents) Lstatat(int, []byte, *unix.Stat_t) error { return unix.ENOENT }

// A directory that contains itself (a bind mount of an ancestor, faked here
// by the FS layer; root could mount one, CI containers may not) is skipped and
// not counted, as du does, instead of being walked again.
func TestDirectoryCycleIsSkippedLikeDu(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "b", "f"), 10000)
	writeFile(t, filepath.Join(root, "loop", "inner", "g"), 5000)
	var rootSt unix.Stat_t
	if err := unix.Stat(root, &rootSt); err != nil {
		t.Fatal(err)
	}
	fs := &cycleFS{name: "loop", as: rootSt}
	res := mustWalk(t, root, Options{FS: fs})
	want := du(t, root, "-sb") - du(t, filepath.Join(root, "loop"), "-sb")
	if res.Totals.ApparentBytes != want || res.Cycles != 1 || res.Totals.Files != 1 || res.Totals.Directories != 2 {
		t.Errorf("apparent %d cycles %d files %d dirs %d; want %d, 1, 1, 2", res.Totals.ApparentBytes, res.Cycles,
			res.Totals.Files, res.Totals.Directories, want)
	}
}

// cycleFS makes the entry name stat as the directory as.
type cycleFS struct {
	OS
	name string
	as   unix.Stat_t
}

func (c *cycleFS) Lstatat(dirfd int, name []byte, st *unix.Stat_t) error {
	if string(name[:len(name)-1]) == c.name {
		*st = c.as
		return nil
	}
	return c.OS.Lstatat(dirfd, name, st)
}

// A flat directory (a screenshot store without subdirectories) is read by one
// worker but stat'ed by all: full getdents buffers go to idle workers. The
// figures stay exact, hard links inside included, and a budget still stops it.
func TestFlatDirectoryIsSharedBetweenWorkers(t *testing.T) {
	root := t.TempDir()
	for i := range 5000 {
		writeFile(t, filepath.Join(root, fmt.Sprintf("shot-%06d.png", i)), i%3000)
	}
	for i := range 50 {
		if err := os.Link(filepath.Join(root, fmt.Sprintf("shot-%06d.png", i)), filepath.Join(root, fmt.Sprintf("link-%06d.png", i))); err != nil {
			t.Fatal(err)
		}
	}
	apparent, allocated := du(t, root, "-sb"), du(t, root, "-s", "-B1")
	res := mustWalk(t, root, Options{Workers: 4, batchAlways: true, RawSlots: NewRawSlots(2)})
	if res.rawWorkers != 2 {
		t.Errorf("%d raw workers, want 2", res.rawWorkers)
	}
	if res.batches == 0 {
		t.Error("no buffer of a 5000-entry directory was handed to another worker")
	}
	if res.Totals.ApparentBytes != apparent || res.Totals.AllocatedBytes != allocated || res.Totals.Files != 5000 {
		t.Errorf("apparent/allocated/files %d/%d/%d, want %d/%d/5000", res.Totals.ApparentBytes,
			res.Totals.AllocatedBytes, res.Totals.Files, apparent, allocated)
	}
	if e := res.Extensions; e[0].Name != ".png" || e[0].Files != 5000 {
		t.Errorf("extensions %+v, want 5000 .png files", e)
	}

	slow := &hookFS{lstatat: func(string) error { time.Sleep(100 * time.Microsecond); return nil }}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	fds := openFDs(t)
	res, err := Walk(ctx, root, Options{Workers: 4, batchAlways: true, FS: slow})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Partial || res.Totals.Files >= 5000 {
		t.Errorf("over budget: partial %v with %d files, want partial and fewer than 5000", res.Partial, res.Totals.Files)
	}
	// Buffers still queued when the budget ran out held the directory open.
	if after := openFDs(t); after != fds {
		t.Errorf("%d descriptors open after a stopped walk, %d before", after, fds)
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// Workers read at the nice value asked for, on threads of their own: after the
// walk no thread of the process is left at it.
func TestWorkersRunAtTheirNiceValue(t *testing.T) {
	tree := sharedTree(t)
	var mu sync.Mutex
	seen := map[int]int{} // thread -> nice
	fs := &hookFS{readDirents: func(int) error {
		tid := unix.Gettid()
		prio, err := unix.Getpriority(unix.PRIO_PROCESS, tid)
		if err != nil {
			return err
		}
		mu.Lock()
		seen[tid] = 20 - prio // the raw system call answers 20 - nice
		mu.Unlock()
		return nil
	}}
	res := mustWalk(t, tree.root, Options{FS: fs, Workers: 3, Nice: 7})
	if res.Totals.Files != tree.man.Files {
		t.Fatalf("files %d, want %d", res.Totals.Files, tree.man.Files)
	}
	if len(seen) == 0 {
		t.Fatal("no directory was read")
	}
	for tid, nice := range seen {
		if tid == unix.Getpid() {
			if nice != 0 {
				t.Errorf("the main thread read at nice %d: Go never ends it, it must stay at 0", nice)
			}
			continue
		}
		if nice != 7 {
			t.Errorf("thread %d read at nice %d, want 7", tid, nice)
		}
	}
	// The walkers' threads ended with their goroutines: none is left at 7.
	left := func() []int {
		var tids []int
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range tasks {
			tid, _ := strconv.Atoi(task.Name())
			if prio, err := unix.Getpriority(unix.PRIO_PROCESS, tid); err == nil && 20-prio == 7 {
				tids = append(tids, tid)
			}
		}
		return tids
	}
	deadline := time.Now().Add(5 * time.Second)
	for tids := left(); len(tids) > 0; tids = left() {
		if time.Now().After(deadline) {
			t.Fatalf("threads %v still at nice 7 after the walk; workers were %v", tids, seen)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// With one P, a walker that starts on the main thread hands its work to
// another goroutine; that one must not land on the main thread in turn
// (which, before, spawned goroutines without end and ate gigabytes).
func TestNiceWalkWithOneP(t *testing.T) {
	tree := sharedTree(t)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	base := runtime.NumGoroutine()
	for i := range 5 {
		done := make(chan *Result, 1)
		go func() {
			res, err := Walk(context.Background(), tree.root, Options{Workers: 4, Nice: 3})
			if err != nil {
				t.Error(err)
			}
			done <- res
		}()
		deadline := time.Now().Add(time.Minute)
	wait:
		for {
			select {
			case res := <-done:
				if res != nil && res.Totals.Files != tree.man.Files {
					t.Fatalf("walk %d: files %d, want %d", i, res.Totals.Files, tree.man.Files)
				}
				break wait
			case <-time.After(5 * time.Millisecond):
			}
			// A runaway would exhaust the machine's memory before a timeout:
			// end the whole test binary at once.
			if n := runtime.NumGoroutine(); n > base+100 || time.Now().After(deadline) {
				panic(fmt.Sprintf("walk %d with GOMAXPROCS=1 has %d goroutines after %v (started with %d)",
					i, n, time.Since(deadline.Add(-time.Minute)), base))
			}
		}
	}
}
