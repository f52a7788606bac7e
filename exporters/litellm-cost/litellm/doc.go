// Package litellm reads the LiteLLM proxy's accounting tables: it detects
// which tables and columns the proxy's release created, and builds queries
// that select only what exists, so older and newer schemas both work.
// Everything here is plain data; turning it into metrics is the exporter's job.
package litellm
