// Package config reads the shipper's YAML configuration strictly (unknown
// keys are errors, every error carries its line number), merges the flags
// of the simple case (paths and a Loki URL), validates everything at start,
// and builds the pipeline's configuration from the result.
package config
