// Package promkit is what every Outrigger daemon shares: flags that fill a
// Config, logging, the HTTP server with /metrics, /health, /ready and a landing
// page, the scrape deadline taken from Prometheus's timeout header, coalescing
// of concurrent scrapes, and a runner that executes a daemon's collectors under
// that deadline and always reports their success and duration. A scrape's
// const metrics go straight into the exposition, without a registry per
// scrape; what cannot be exposed is left out and counted.
package promkit
