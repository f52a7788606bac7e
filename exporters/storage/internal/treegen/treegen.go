package treegen

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Spec says what to generate.
type Spec struct {
	Files       int // regular files in the bulk of the tree
	FilesPerDir int // default 100
	Workers     int // default 2
	// Extras adds the awkward cases under extras/.
	Extras bool
}

// Manifest is what was generated.
type Manifest struct {
	Files       int64 `json:"files"`        // distinct regular files (inodes)
	Links       int64 `json:"links"`        // extra hard links to them
	Dirs        int64 `json:"dirs"`         // including the root
	Others      int64 `json:"others"`       // symlinks and FIFOs
	FileBytes   int64 `json:"file_bytes"`   // apparent bytes of the distinct regular files
	SparseFiles int64 `json:"sparse_files"` // of which sparse
	// Locked is the directory meant to be made unreadable (chmod 000) and
	// LockedInside what lies in it: apparent bytes and entries.
	Locked              string `json:"locked,omitempty"`
	LockedInsideBytes   int64  `json:"locked_inside_bytes,omitempty"`
	LockedInsideEntries int64  `json:"locked_inside_entries,omitempty"`
	// Oldest is the mtime given to extras/old.log, older than anything else.
	Oldest time.Time `json:"oldest"`
}

// FileSize is the deterministic size of bulk file i: a quarter are empty,
// the rest up to 2 KiB.
func FileSize(i int) int64 {
	if i%4 == 0 {
		return 0
	}
	return int64((i * 7919) % 2048)
}

// Generate writes the tree under root (which must exist and be empty).
func Generate(ctx context.Context, root string, s Spec) (*Manifest, error) {
	if s.FilesPerDir <= 0 {
		s.FilesPerDir = 100
	}
	if s.Workers <= 0 {
		s.Workers = 2
	}
	m := &Manifest{Dirs: 1}
	// Extensions of the bulk files, cycled through by index.
	bulkExts := [...]string{".png", ".jpg", ".json", ".log", ".txt", ".PNG", "", ".gz"}
	leaves := (s.Files + s.FilesPerDir - 1) / s.FilesPerDir
	top := int(math.Ceil(math.Sqrt(float64(leaves))))
	type leaf struct {
		dir   string
		first int
	}
	var jobs []leaf
	for l := range leaves {
		t := l % max(top, 1)
		topDir := filepath.Join(root, fmt.Sprintf("d%04d", t))
		if l < top {
			if err := os.Mkdir(topDir, 0o755); err != nil {
				return nil, fmt.Errorf("making directory: %w", err)
			}
			m.Dirs++
		}
		dir := filepath.Join(topDir, fmt.Sprintf("s%05d", l))
		if err := os.Mkdir(dir, 0o755); err != nil {
			return nil, fmt.Errorf("making directory: %w", err)
		}
		m.Dirs++
		jobs = append(jobs, leaf{dir: dir, first: l * s.FilesPerDir})
	}
	work := make(chan leaf)
	errs := make(chan error, s.Workers)
	var mu sync.Mutex
	var total int64
	var wg sync.WaitGroup
	for range s.Workers {
		wg.Go(func() {
			var sum int64
			buf := make([]byte, 2048)
			for j := range work {
				for i := j.first; i < min(j.first+s.FilesPerDir, s.Files); i++ {
					name := filepath.Join(j.dir, fmt.Sprintf("f%07d%s", i, bulkExts[i%len(bulkExts)]))
					size := FileSize(i)
					if err := os.WriteFile(name, buf[:size], 0o644); err != nil {
						errs <- fmt.Errorf("writing file: %w", err)
						return
					}
					sum += size
				}
			}
			mu.Lock()
			total += sum
			mu.Unlock()
		})
	}
feed:
	for _, j := range jobs {
		select {
		case work <- j:
		case err := <-errs:
			errs <- err
			break feed
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("generating tree: %w", err)
	}
	m.Files = int64(s.Files)
	m.FileBytes = total
	if s.Extras {
		if err := extras(root, m); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// extras adds the awkward cases under root/extras.
func extras(root string, m *Manifest) error {
	x := filepath.Join(root, "extras")
	var err error
	mkdir := func(p string) {
		if err == nil {
			err = os.Mkdir(p, 0o755)
			m.Dirs++
		}
	}
	file := func(p string, size int64) {
		if err == nil {
			err = os.WriteFile(p, make([]byte, size), 0o644)
			m.Files++
			m.FileBytes += size
		}
	}
	symlink := func(target, p string) {
		if err == nil {
			err = os.Symlink(target, p)
			m.Others++
		}
	}
	link := func(old, p string) {
		if err == nil {
			err = os.Link(old, p)
			m.Links++
		}
	}
	mkdir(x)
	for _, d := range []string{"links", "sparse", "loop", "names", "locked", "other", "deep"} {
		mkdir(filepath.Join(x, d))
	}
	// Hard links: one file with three names in three directories, one with two.
	file(filepath.Join(x, "links", "three.bin"), 10000)
	link(filepath.Join(x, "links", "three.bin"), filepath.Join(x, "names", "three-again.bin"))
	link(filepath.Join(x, "links", "three.bin"), filepath.Join(x, "loop", "three-once-more.bin"))
	file(filepath.Join(x, "links", "two.dat"), 5000)
	link(filepath.Join(x, "links", "two.dat"), filepath.Join(x, "links", "two-b.dat"))
	// Sparse files: 64 MiB apparent, a few KiB allocated.
	for i := range 3 {
		p := filepath.Join(x, "sparse", fmt.Sprintf("sparse%d.img", i))
		if err == nil {
			err = sparse(p, 64<<20, int64(i+1)<<20)
			m.Files++
			m.FileBytes += 64 << 20
			m.SparseFiles++
		}
	}
	// Symlinks: a loop to the parent, a pair pointing at each other, one out
	// of the tree to a big directory, one dangling.
	symlink("..", filepath.Join(x, "loop", "up"))
	symlink(".", filepath.Join(x, "loop", "self"))
	symlink("b", filepath.Join(x, "loop", "a"))
	symlink("a", filepath.Join(x, "loop", "b"))
	symlink("/usr", filepath.Join(x, "loop", "usr"))
	symlink("/nonexistent/target", filepath.Join(x, "loop", "dangling"))
	// A FIFO counts as an "other" entry and is never opened.
	if err == nil {
		err = syscall.Mkfifo(filepath.Join(x, "other", "fifo"), 0o644)
		m.Others++
	}
	// Odd names: upper-case extension, dotfile, no extension, spaces, bytes
	// that are not UTF-8, an extension too long to be one.
	for _, n := range []string{"UPPER.PNG", ".hidden", "README", "with space.txt", "bad\xffname.d\xffat", "x.averyveryverylongsuffix", "trailingdot."} {
		file(filepath.Join(x, "names", n), 123)
	}
	// A deep chain.
	deep := filepath.Join(x, "deep")
	for i := range 30 {
		deep = filepath.Join(deep, fmt.Sprintf("l%02d", i))
		mkdir(deep)
	}
	file(filepath.Join(deep, "bottom.txt"), 42)
	// The directory to lock, with content of its own.
	locked := filepath.Join(x, "locked")
	mkdir(filepath.Join(locked, "inner"))
	file(filepath.Join(locked, "secret.txt"), 7777)
	file(filepath.Join(locked, "inner", "deeper.txt"), 3333)
	m.Locked, m.LockedInsideBytes, m.LockedInsideEntries = locked, 7777+3333, 3
	// The oldest file.
	old := filepath.Join(x, "old.log")
	file(old, 1)
	m.Oldest = time.Date(2001, 9, 9, 1, 46, 40, 0, time.UTC)
	if err == nil {
		err = os.Chtimes(old, m.Oldest, m.Oldest)
	}
	if err != nil {
		return fmt.Errorf("generating extras: %w", err)
	}
	return nil
}

// sparse makes a file of size bytes with one 4 KiB block written at off.
func sparse(p string, size, off int64) error {
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(make([]byte, 4096), off); err != nil {
		f.Close()
		return err
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
