// Package collector scrapes Redis targets over one connection each: INFO ALL
// under the incumbent's metric names, CONFIG (or its INFO fallback), clients
// folded into top groups, slowlog, latency, single-key lengths, and key groups
// counted by a background SCAN worker on a time budget.
package collector
