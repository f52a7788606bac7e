// Package container reads the log files of container runtimes: the CRI
// format of containerd and CRI-O (the files under /var/log/pods) and
// Docker's json-file records, told apart per file. Records become lines
// with their stream and the runtime's timestamp; lines the runtime split
// are joined up to the line cap.
package container
