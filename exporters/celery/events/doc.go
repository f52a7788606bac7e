// Package events decodes Celery's event messages as they arrive from the
// broker (kombu's Redis pub/sub envelope, or a raw AMQP body), including the
// task.multi batches a prefork worker sends, into a compact Event. It also
// encodes the Redis envelope, for tests and benchmarks that play a worker.
package events
