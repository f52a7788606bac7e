// Package process turns a decoded line into an event: its timestamp, its
// stream labels (static ones and a few bounded fields), structured metadata,
// field edits (add, drop, rename, under a target key), drop conditions, and
// the redaction of secrets before anything leaves the machine.
package process
