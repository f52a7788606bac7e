// Package config holds the celery-exporter's settings: main fills a Config
// from flags and environment, and Validate turns it into the ValidatedConfig
// the rest of the exporter accepts (broker URL parsed, defaults applied).
package config
