// Package testkit starts real, throwaway services for tests (PostgreSQL,
// Redis, RabbitMQ, Prometheus, a Celery worker), each in its own temporary
// directory on a free 127.0.0.1 port and stopped at test cleanup, and holds
// helpers to scrape handlers, lint expositions with promtool and compare
// golden files. A missing service binary fails the test with the command that
// installs it; nothing skips.
package testkit
