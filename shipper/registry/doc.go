// Package registry keeps the delivered offset of every file the shipper
// reads, keyed by the file's identity (device, inode and a fingerprint of
// its first bytes), with one offset per output beside the committed one (the
// offset every output has). It is written atomically: a temporary file,
// fsync, rename, fsync of the directory.
package registry
