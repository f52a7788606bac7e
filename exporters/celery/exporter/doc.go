// Package exporter assembles the celery-exporter: the event state, the
// broker watcher (event consumer and depth poller) and the collectors a
// scrape runs, which only read what the background work keeps.
package exporter
