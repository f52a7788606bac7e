// Package walk measures a directory tree the way `du` does: apparent bytes
// (`du -sb`), allocated bytes (`du -s -B1`), files, directories, the oldest
// and newest file, a per-subdirectory and a per-extension breakdown. A
// bounded pool of workers reads directories in parallel with getdents and
// fstatat relative to the open directory, never follows symlinks, counts
// hard-linked files once, and counts what it could not read instead of
// failing. It is Linux-only.
package walk
