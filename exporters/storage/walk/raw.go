package walk

import (
	"bytes"
	"context"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// The raw fast path.
//
// Go wraps every system call in entersyscall/exitsyscall so that the
// scheduler can hand the P of a goroutine blocked in the kernel to another
// one. For a million fstatat calls that each take a microsecond or two on a
// warm cache, that bookkeeping, and the P hand-offs sysmon makes when a call
// is caught in the kernel, cost about 8 % of the walk's CPU (and most of its
// context switches). Workers on the fast path call fstatat and getdents64
// with RawSyscall instead, which the scheduler does not see: to it, the
// goroutine is running. That is only safe under three conditions, all
// checked:
//
//   - A call cannot block for long. A raw call stuck in the kernel keeps its
//     P, and a stop-the-world (every GC) waits for it: a hung NFS server
//     would hang the whole process, scrapes included. So the fast path is
//     used only when the tree and every mount below it are on local disk or
//     memory filesystems (isRawFilesystem, read from /proc/self/mountinfo
//     when the walk starts), and a worker that finds directories slow (a
//     cold cache reading the disk: rawSlowDir) switches the whole walk back
//     to ordinary system calls for the rest of it. A local disk that hangs
//     outright (a dead drive) can still stall a GC, and with it a scrape,
//     while one raw call waits on it.
//   - A P stays free. Raw workers never yield their P, so if they held every
//     P the network poller would be checked only by sysmon every 10 ms and a
//     scrape would wait that long. RawSlots hands out at most GOMAXPROCS-1
//     raw workers over all walks at once; storage-exporter raises GOMAXPROCS
//     by one so that a walk still uses every CPU.
//   - The FS is the real one (OS): tests that wrap it go through it.
//
// openat, fstat and close stay ordinary calls.

// rawSlowDir is how long a directory of n entries may take on the fast path
// before it counts as slow: a warm stat takes 1 to 3 µs, one that reads a
// spinning disk milliseconds. The fixed part absorbs the worker being
// descheduled on a loaded machine; rawSlowRun slow directories in a row take
// the walk for cold and off the fast path.
const rawSlowRun = 4

func rawSlowDir(n int) time.Duration {
	return 20*time.Millisecond + time.Duration(n)*50*time.Microsecond
}

// RawSlots bounds the workers, over every walk sharing it, that use raw
// system calls. The zero value and nil hand out none.
type RawSlots struct {
	max  int32
	used atomic.Int32
}

// NewRawSlots returns slots for n raw workers at once; pass
// runtime.GOMAXPROCS(0)-1 so that one P always stays free.
func NewRawSlots(n int) *RawSlots { return &RawSlots{max: int32(max(0, n))} }

// acquire takes up to want slots and returns how many it got.
func (s *RawSlots) acquire(want int) int {
	if s == nil || want <= 0 {
		return 0
	}
	for {
		used := s.used.Load()
		got := min(int32(want), s.max-used)
		if got <= 0 {
			return 0
		}
		if s.used.CompareAndSwap(used, used+got) {
			return int(got)
		}
	}
}

func (s *RawSlots) release(n int) {
	if s != nil && n > 0 {
		s.used.Add(-int32(n))
	}
}

// rawAllowed reports whether a walk of root may use the fast path: the FS is
// the real one and root, and every mount below it, are on local filesystems (isRawFilesystem).
func rawAllowed(ctx context.Context, fs FS, root string) bool {
	if _, real := fs.(OS); !real || !rawSupported || ctx.Err() != nil {
		return false
	}
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	return mountsAllowRaw(parseMountinfo(data), root)
}

// mount is one line of /proc/self/mountinfo.
type mount struct {
	point  string // where it is mounted, unescaped
	fstype string
}

// parseMountinfo reads the mount point and filesystem type of each line of
// /proc/self/mountinfo (proc(5)); malformed lines are returned with an empty
// type, which no check accepts.
func parseMountinfo(data []byte) []mount {
	var out []mount
	for line := range bytes.Lines(data) {
		line = bytes.TrimRight(line, "\n")
		if len(line) == 0 {
			continue
		}
		fields := strings.Fields(string(line))
		m := mount{}
		if len(fields) >= 5 {
			m.point = unescapeMount(fields[4])
		}
		for i := 5; i+1 < len(fields); i++ {
			if fields[i] == "-" {
				m.fstype = fields[i+1]
				break
			}
		}
		out = append(out, m)
	}
	return out
}

// unescapeMount undoes the octal escapes (\040 for a space...) of a
// mountinfo path.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return '0' <= c && c <= '7' }

// mountsAllowRaw reports whether the mount holding root (the deepest mount
// point above it, and any mounted over it at the same place) and every mount
// below root have a local type (isRawFilesystem). Any malformed line refuses.
func mountsAllowRaw(mounts []mount, root string) bool {
	holder := ""
	found := false
	for _, m := range mounts {
		if m.point == "" {
			return false
		}
		if under(m.point, root) && (!found || len(m.point) >= len(holder)) {
			holder, found = m.point, true
		}
	}
	if !found {
		return false
	}
	for _, m := range mounts {
		if (m.point == holder || under(root, m.point)) && !isRawFilesystem(m.fstype) {
			return false
		}
	}
	return true
}

// under reports whether path is dir or lies below it.
func under(dir, path string) bool {
	if dir == "/" {
		return strings.HasPrefix(path, "/")
	}
	return path == dir || strings.HasPrefix(path, dir+"/")
}

// isRawFilesystem reports whether stat and getdents on a filesystem of type
// t never wait on a network or a user-space daemon: local disk and memory
// filesystems.
func isRawFilesystem(t string) bool {
	switch t {
	case "ext2", "ext3", "ext4", "xfs", "btrfs", "f2fs", "tmpfs", "ramfs":
		return true
	}
	return false
}
