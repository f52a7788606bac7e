// Package treegen generates directory trees with known content for the
// walker's tests and benchmark: many small files of deterministic sizes over
// two levels of directories, and on request the awkward cases (hard links,
// sparse files, symlink loops, a symlink out of the tree, a FIFO, odd names
// and a directory to be made unreadable).
package treegen
