// Package promkit is what every Outrigger daemon shares: flags that fill a
// Config, logging, the HTTP server with /metrics, /health, /ready and a landing
// page, the scrape deadline taken from Prometheus's timeout header, coalescing
// of concurrent scrapes, and a runner that executes a daemon's collectors under
// that deadline and always reports their success and duration. A scrape's
// metrics are exposed through client_golang (a registry per scrape merged
// with the daemon's own by prometheus.Gatherers, served by promhttp); what
// cannot be exposed is left out and counted in
// <ns>_exporter_scrape_errors_total.
package promkit
