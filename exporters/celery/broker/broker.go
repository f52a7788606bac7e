package broker

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/outrigger/outrigger/internal/promkit"

	"github.com/outrigger/outrigger/exporters/celery/events"
)

// Depth is one queue's state at the last poll. -1 means not known.
type Depth struct {
	Queue     string
	Ready     int64   // waiting messages: every priority list on Redis, ready on RabbitMQ
	Unacked   int64   // reserved, prefetched and ETA messages (Redis unacked hash, RabbitMQ unacked)
	ETA       int64   // of those, messages with an ETA/countdown (Redis only)
	Consumers int64   // RabbitMQ consumers
	OldestAge float64 // seconds the oldest waiting message has waited
}

// Snapshot is the result of one depth poll.
type Snapshot struct {
	Time     time.Time
	Duration time.Duration
	Queues   []Depth
}

// Sink receives decoded events (the *Event is reused after it returns).
type Sink func(*events.Event)

// SentTimes looks up when a task was sent, from the event state.
type SentTimes interface {
	SentTime(id string) (float64, bool)
	OldestWaiting() map[string]float64
}

// health holds the connection counters every broker reports.
type health struct {
	up            atomic.Bool // last depth poll or ping succeeded
	streamUp      atomic.Bool // event subscription established
	messages      atomic.Uint64
	decodeErrors  [3]atomic.Uint64 // content_type, envelope, body
	reconnError   atomic.Uint64
	reconnSilent  atomic.Uint64
	pollErrors    atomic.Uint64
	lastPollNanos atomic.Int64

	mu   sync.Mutex
	snap *Snapshot
}

var (
	brokerUp         = promkit.Gauge("celery_exporter_broker_up", "Whether the last queue poll reached the broker.")
	eventStreamUp    = promkit.Gauge("celery_exporter_event_stream_up", "Whether the event subscription is established.")
	eventMessages    = promkit.Counter("celery_exporter_event_messages_total", "Event messages received from the broker (a task.multi message holds several events).")
	eventDecodeErrs  = promkit.Counter("celery_exporter_event_decode_errors_total", "Event messages that could not be decoded, by reason.", "reason")
	streamReconnects = promkit.Counter("celery_exporter_event_stream_reconnects_total", "Times the event stream was reopened: after an error, or after it went silent and did not answer a ping.", "reason")
	pollErrorsTotal  = promkit.Counter("celery_exporter_queue_poll_errors_total", "Queue depth polls that failed.")
	pollTimestamp    = promkit.Gauge("celery_exporter_queue_poll_timestamp_seconds", "When the last successful queue depth poll finished.")
	pollDuration     = promkit.Gauge("celery_exporter_queue_poll_duration_seconds", "How long the last successful queue depth poll took.")

	queueLength    = promkit.Gauge("celery_queue_length", "Messages waiting in the queue (Redis: every priority list; RabbitMQ: ready).", "queue_name")
	queueUnacked   = promkit.Gauge("celery_queue_unacked_messages", "Messages taken from the queue but not acknowledged: reserved, prefetched and ETA/countdown tasks.", "queue_name")
	queueETA       = promkit.Gauge("celery_queue_eta_messages", "Unacknowledged messages that carry an ETA or countdown (Redis).", "queue_name")
	queueConsumers = promkit.Gauge("celery_active_consumer_count", "Consumers of the queue (RabbitMQ).", "queue_name")
	queueOldestAge = promkit.Gauge("celery_queue_oldest_message_age_seconds", "How long the oldest waiting message has waited (Redis: the list tails; RabbitMQ: task-sent events of tasks not yet received).", "queue_name")
)

func (h *health) decodeError(err error) {
	switch events.Reason(err) {
	case "content_type":
		h.decodeErrors[0].Add(1)
	case "envelope":
		h.decodeErrors[1].Add(1)
	default:
		h.decodeErrors[2].Add(1)
	}
}

func (h *health) setSnapshot(s *Snapshot) {
	h.mu.Lock()
	h.snap = s
	h.mu.Unlock()
	h.lastPollNanos.Store(s.Time.UnixNano())
}

// Snapshot returns the last depth poll, or nil before the first.
func (h *health) Snapshot() *Snapshot {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.snap
}

// CollectHealth sends the connection metrics.
func (h *health) CollectHealth(ch chan<- prometheus.Metric) {
	brokerUp.Send(ch, promkit.Bool(h.up.Load()))
	eventStreamUp.Send(ch, promkit.Bool(h.streamUp.Load()))
	eventMessages.Send(ch, float64(h.messages.Load()))
	for i, r := range []string{"content_type", "envelope", "body"} {
		eventDecodeErrs.Send(ch, float64(h.decodeErrors[i].Load()), r)
	}
	streamReconnects.Send(ch, float64(h.reconnError.Load()), "error")
	streamReconnects.Send(ch, float64(h.reconnSilent.Load()), "silent")
	pollErrorsTotal.Send(ch, float64(h.pollErrors.Load()))
	if s := h.Snapshot(); s != nil {
		pollTimestamp.Send(ch, float64(s.Time.UnixNano())/1e9)
		pollDuration.Send(ch, s.Duration.Seconds())
	}
}

// CollectQueues sends the queue depth series of the last poll.
func (h *health) CollectQueues(ch chan<- prometheus.Metric) {
	s := h.Snapshot()
	if s == nil {
		return
	}
	for _, q := range s.Queues {
		queueLength.Send(ch, float64(q.Ready), q.Queue)
		if q.Unacked >= 0 {
			queueUnacked.Send(ch, float64(q.Unacked), q.Queue)
		}
		if q.ETA >= 0 {
			queueETA.Send(ch, float64(q.ETA), q.Queue)
		}
		if q.Consumers >= 0 {
			queueConsumers.Send(ch, float64(q.Consumers), q.Queue)
		}
		if q.OldestAge >= 0 {
			queueOldestAge.Send(ch, q.OldestAge, q.Queue)
		}
	}
}

// minBackoff is the first wait before a reconnect.
const minBackoff = 100 * time.Millisecond

// skipQueue reports kombu's internal queues, which are not task queues.
func skipQueue(q string) bool {
	return q == "" || q == "celeryev" || q == "celery.pidbox" || q == "reply.celery.pidbox" ||
		len(q) > 7 && q[len(q)-7:] == ".pidbox" || len(q) >= 9 && q[:9] == "celeryev."
}
