// Package decode turns framed lines into records: the unwrapping of
// container runtimes' log records (the CRI format of containerd and CRI-O,
// Docker's json-file, told apart per file; lines the runtime split are
// joined up to the line cap), a fast validating scanner
// of JSON objects that keeps the raw bytes of each top-level member (so a
// line that needs no change is shipped as it was read), the timestamp
// parsers (RFC 3339 / ISO 8601, epoch s/ms/us/ns) and multiline grouping for
// logs that are not JSON, such as Python tracebacks.
package decode
