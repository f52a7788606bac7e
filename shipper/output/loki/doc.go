// Package loki ships events to Loki's push API as snappy-compressed
// protobuf. Streams are pinned to senders so each stream's entries stay in
// order while several requests are in flight; 429, 5xx, network errors and
// unexpected 2xx answers are retried with backoff and jitter for as long as
// it takes (the files are the buffer); a 400 is counted by reason and never
// resent (Loki stored the valid entries); a 413 is split.
package loki
