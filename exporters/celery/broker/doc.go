// Package broker talks to Celery's broker: it consumes the event stream
// (Redis pub/sub on the celeryev fanout, or an auto-delete AMQP queue bound
// to the celeryev exchange) with reconnects and backoff, and polls queue
// depth in the background so that scrapes only read the last result.
package broker
