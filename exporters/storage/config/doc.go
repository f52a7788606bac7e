// Package config turns the storage-exporter's flags and optional YAML file
// into the list of directory trees to watch, each with its walk interval,
// time budget and breakdown settings. Validate is the only way to a
// ValidatedConfig, which is what the monitor accepts.
package config
