// Package exporter keeps one connection to the LiteLLM proxy's database (or,
// in HTTP mode, to the proxy's management API), refreshes budgets, daily
// usage and spend-log detail in the background on an interval, and serves
// scrapes from that cache (with its age), so a scrape never waits for a
// query and Prometheus never makes the database or the proxy busier.
package exporter
