// Package state turns the stream of Celery events into the exporter's task
// and worker state: counters and histograms by task name, hostname and queue,
// worker liveness by heartbeat, and a bounded LRU (with TTL) of tasks in
// flight that labels the events which carry only a task id. Scrapes read it
// under a lock; nothing on the scrape path talks to the broker.
package state
