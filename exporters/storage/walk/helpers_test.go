package walk

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/outrigger/outrigger/exporters/storage/internal/treegen"
)

// testFiles is the size of the shared tree: enough to spread over many
// directories and workers, small enough for `go test` (bench/storage walks a
// million).
const testFiles = 20000

// shared is the tree most tests read (and never change). It is made on first
// use, not in TestMain, so that fuzz workers (which run TestMain too) do not
// each write 20,000 files.
type shared struct {
	once sync.Once
	dir  string
	root string
	man  *treegen.Manifest
	err  error
}

var tree shared // made once, read-only afterwards, removed by TestMain

// sharedTree returns the shared tree, generating it on first use.
func sharedTree(t testing.TB) *shared {
	t.Helper()
	tree.once.Do(func() {
		tree.dir, tree.err = os.MkdirTemp("", "outrigger-walk-")
		if tree.err != nil {
			return
		}
		tree.root = tree.dir
		tree.man, tree.err = treegen.Generate(context.Background(), tree.dir, treegen.Spec{Files: testFiles, Extras: true})
	})
	if tree.err != nil {
		t.Fatalf("generating the shared tree: %v", tree.err)
	}
	return &tree
}

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	code := m.Run()
	if tree.dir != "" {
		os.RemoveAll(tree.dir)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			return 1
		}
	}
	return code
}

// du runs GNU du with args on dir and returns the total it prints.
func du(t testing.TB, dir string, args ...string) int64 {
	t.Helper()
	out, err := exec.Command("du", append(args, dir)...).Output()
	if err != nil {
		t.Fatalf("du %v %s: %v", args, dir, err)
	}
	n, err := strconv.ParseInt(strings.Fields(string(out))[0], 10, 64)
	if err != nil {
		t.Fatalf("du output %q: %v", out, err)
	}
	return n
}

// oracle is an independent, serial measurement with the standard library.
type oracle struct {
	files, dirs, others int64
	newest, oldest      time.Time
	extFiles            map[string]int64
}

func measure(t testing.TB, root string) oracle {
	t.Helper()
	o := oracle{extFiles: map[string]int64{}}
	seen := map[[2]uint64]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := info.Sys().(*syscall.Stat_t)
		if !info.IsDir() && st.Nlink > 1 {
			id := [2]uint64{st.Dev, st.Ino}
			if seen[id] {
				return nil
			}
			seen[id] = true
		}
		switch {
		case info.IsDir():
			o.dirs++
		case info.Mode().IsRegular():
			o.files++
			if o.oldest.IsZero() || info.ModTime().Before(o.oldest) {
				o.oldest = info.ModTime()
			}
			if info.ModTime().After(o.newest) {
				o.newest = info.ModTime()
			}
			ext := strings.ToLower(filepath.Ext(d.Name()))
			if strings.HasPrefix(d.Name(), ".") && strings.Count(d.Name(), ".") == 1 || len(ext) < 2 || len(ext) > maxExtLen {
				ext = NoExtension
			}
			o.extFiles[strings.ToValidUTF8(ext, "\uFFFD")]++
		default:
			o.others++
		}
		return nil
	})
	if err != nil {
		t.Fatalf("measuring %s: %v", root, err)
	}
	return o
}

func mustWalk(t testing.TB, root string, opts Options) *Result {
	t.Helper()
	res, err := Walk(t.Context(), root, opts)
	if err != nil {
		t.Fatalf("walking %s: %v", root, err)
	}
	return res
}

func sum(bs []Bucket) Counts {
	var c Counts
	for _, b := range bs {
		c.add(b.Counts)
	}
	return c
}

// hookFS wraps OS and calls the hooks (when set) before the real call.
type hookFS struct {
	OS
	openDir     func(path string) error
	readDirents func(fd int) error
	lstatat     func(name string) error
}

func (h *hookFS) OpenDir(path []byte) (int, error) {
	if h.openDir != nil {
		if err := h.openDir(string(path[:len(path)-1])); err != nil {
			return -1, err
		}
	}
	return h.OS.OpenDir(path)
}

func (h *hookFS) ReadDirents(fd int, buf []byte) (int, error) {
	if h.readDirents != nil {
		if err := h.readDirents(fd); err != nil {
			return 0, err
		}
	}
	return h.OS.ReadDirents(fd, buf)
}

func (h *hookFS) Lstatat(dirfd int, name []byte, st *unix.Stat_t) error {
	if h.lstatat != nil {
		if err := h.lstatat(string(name[:len(name)-1])); err != nil {
			return err
		}
	}
	return h.OS.Lstatat(dirfd, name, st)
}

// fdPath names the directory behind an open descriptor.
func fdPath(fd int) string {
	p, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	return p
}

func writeFile(t testing.TB, p string, size int) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, make([]byte, size), 0o644); err != nil {
		t.Fatal(err)
	}
}
