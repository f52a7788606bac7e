// Package decode turns framed lines into records: a fast validating scanner
// of JSON objects that keeps the raw bytes of each top-level member (so a
// line that needs no change is shipped as it was read), the timestamp
// parsers (RFC 3339 / ISO 8601, epoch s/ms/us/ns) and multiline grouping for
// logs that are not JSON, such as Python tracebacks.
package decode
