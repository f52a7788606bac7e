// Package file tails log files: it finds them by glob, identifies each by
// device, inode and a fingerprint of its first bytes (so rotation by rename,
// copytruncate, truncation, inode reuse and small files are told apart),
// frames lines, and resumes each file from the offset its outputs
// acknowledged. It keeps the registry of those offsets.
package file
