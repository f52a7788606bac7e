// Package elasticsearch is the Elasticsearch (and OpenSearch) output: bulk
// NDJSON requests, gzip, the index from a pattern evaluated on each event's
// own timestamp, deterministic document ids with create so replays are
// idempotent, per-item outcomes (429/5xx items retried alone, 409 on create
// counted as done, other rejections written to a dead-letter file), 413
// splitting, and optional index template and lifecycle policy installation.
package elasticsearch
