// Package promkit is what every Outrigger daemon shares: flags that fill a
// Config, logging, the HTTP server with /metrics, /health, /ready and a landing
// page, the scrape deadline taken from Prometheus's timeout header, coalescing
// of concurrent scrapes, and a runner that executes a daemon's collectors under
// that deadline and always reports their success and duration. A scrape's
// const metrics go straight into the exposition, without a registry per
// scrape; what cannot be exposed is left out and counted. Each Desc's family
// name and help are read once from a registry gathering one of its metrics
// (desc.go), not from Desc.String. This engine (exposition.go, encode.go,
// textenc.go, desc.go, process.go) stays because it saves about a third of a
// daemon's CPU per scrape against client_golang's path (a registry per
// scrape, prometheus.Gatherers, promhttp and client_golang's process
// collector), measured side by side: BASELINE=<commit of that path> with
// bench/postgres/run.sh and bench/redis/run.sh.
package promkit
