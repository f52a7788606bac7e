// Package config turns the redis-exporter's flags and its YAML config file
// (the targets /scrape?target= may name, with their own credentials, key
// groups and single keys) into validated connection options. Errors carry the
// file's line numbers and never a secret.
package config
