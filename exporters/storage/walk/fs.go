package walk

import (
	"errors"
	"unsafe"

	"golang.org/x/sys/unix"
)

// FS is the handful of system calls a walk makes. OS is the real one; tests
// wrap it to slow a walk down, make a directory fail or delete entries
// mid-walk. Names and paths are NUL-terminated byte slices so that the hot
// path allocates nothing.
type FS interface {
	// OpenDir opens the directory at path for reading, not following a
	// symlink in its last component.
	OpenDir(path []byte) (fd int, err error)
	// Fstat stats an open file.
	Fstat(fd int, st *unix.Stat_t) error
	// ReadDirents reads linux_dirent64 records into buf; 0 means the end.
	ReadDirents(fd int, buf []byte) (n int, err error)
	// Lstatat stats name in the directory dirfd without following symlinks.
	Lstatat(dirfd int, name []byte, st *unix.Stat_t) error
	Close(fd int) error
}

// OS is the FS of the running kernel.
type OS struct{}

const openFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC | unix.O_NONBLOCK

// OpenDir implements FS.
func (OS) OpenDir(path []byte) (int, error) {
	cwd := unix.AT_FDCWD // a variable: the negative constant does not convert to uintptr
	for {
		fd, _, e := unix.Syscall6(unix.SYS_OPENAT, uintptr(cwd), uintptr(unsafe.Pointer(&path[0])),
			openFlags, 0, 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return -1, e
		}
		return int(fd), nil
	}
}

// Fstat implements FS.
func (OS) Fstat(fd int, st *unix.Stat_t) error {
	return retry(func() error { return unix.Fstat(fd, st) })
}

// ReadDirents implements FS.
func (OS) ReadDirents(fd int, buf []byte) (int, error) {
	for {
		n, err := unix.Getdents(fd, buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return n, err
	}
}

// Lstatat implements FS.
func (OS) Lstatat(dirfd int, name []byte, st *unix.Stat_t) error { return lstatat(dirfd, name, st) }

// Close implements FS.
func (OS) Close(fd int) error { return unix.Close(fd) }

func retry(f func() error) error {
	for {
		if err := f(); !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}
