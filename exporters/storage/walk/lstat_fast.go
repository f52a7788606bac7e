//go:build linux && (amd64 || arm64 || riscv64 || loong64)

package walk

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// rawSupported says whether this platform has the raw fast path (it has
// newfstatat).
const rawSupported = true

// lstatat calls newfstatat with the NUL-terminated name in place: unlike
// unix.Fstatat it copies nothing, which matters a million times per walk.
func lstatat(dirfd int, name []byte, st *unix.Stat_t) error {
	for {
		_, _, e := unix.Syscall6(unix.SYS_NEWFSTATAT, uintptr(dirfd), uintptr(unsafe.Pointer(&name[0])),
			uintptr(unsafe.Pointer(st)), unix.AT_SYMLINK_NOFOLLOW, 0, 0)
		switch e {
		case 0:
			return nil
		case unix.EINTR:
			continue
		default:
			return e
		}
	}
}

// rawLstatat is lstatat without telling the Go scheduler (see raw.go for
// when that is safe).
func rawLstatat(dirfd int, name []byte, st *unix.Stat_t) error {
	for {
		_, _, e := unix.RawSyscall6(unix.SYS_NEWFSTATAT, uintptr(dirfd), uintptr(unsafe.Pointer(&name[0])),
			uintptr(unsafe.Pointer(st)), unix.AT_SYMLINK_NOFOLLOW, 0, 0)
		switch e {
		case 0:
			return nil
		case unix.EINTR:
			continue
		default:
			return e
		}
	}
}

// rawGetdents is getdents64 without telling the Go scheduler.
func rawGetdents(fd int, buf []byte) (int, error) {
	for {
		n, _, e := unix.RawSyscall(unix.SYS_GETDENTS64, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
		switch e {
		case 0:
			return int(n), nil
		case unix.EINTR:
			continue
		default:
			return -1, e
		}
	}
}
