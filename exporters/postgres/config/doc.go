// Package config turns the exporter's flags and its YAML file (custom queries
// and the credentials of /probe targets) into a validated configuration. The
// file is decoded strictly; every error names its line.
package config
