//go:build linux && !(amd64 || arm64 || riscv64 || loong64)

package walk

import "golang.org/x/sys/unix"

const rawSupported = false

func lstatat(dirfd int, name []byte, st *unix.Stat_t) error {
	return retry(func() error {
		return unix.Fstatat(dirfd, string(name[:len(name)-1]), st, unix.AT_SYMLINK_NOFOLLOW)
	})
}

// rawLstatat and rawGetdents are never called here (rawSupported is false).
func rawLstatat(dirfd int, name []byte, st *unix.Stat_t) error { return lstatat(dirfd, name, st) }

func rawGetdents(fd int, buf []byte) (int, error) { return OS{}.ReadDirents(fd, buf) }
