// Package docker finds the containers a Docker input follows (through the
// engine's API: list with label filters, inspect for the json-file log
// path, events for prompt changes); package decode unwraps the json-file
// records.
// The files themselves are read by the file input, with its registry, so
// positions survive shipper restarts and container restarts; streams are
// named by container name, compose project and service, not by id, so a
// re-created container continues its stream.
package docker
