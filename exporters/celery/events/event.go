package events

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Type is the kind of an event.
type Type uint8

// Event types the exporter acts on; everything else is Unknown.
const (
	Unknown Type = iota
	TaskSent
	TaskReceived
	TaskStarted
	TaskSucceeded
	TaskFailed
	TaskRejected
	TaskRevoked
	TaskRetried
	WorkerOnline
	WorkerHeartbeat
	WorkerOffline
	NumTypes
)

var typeNames = [NumTypes]string{"other", "task-sent", "task-received", "task-started", "task-succeeded",
	"task-failed", "task-rejected", "task-revoked", "task-retried", "worker-online", "worker-heartbeat", "worker-offline"}

func (t Type) String() string {
	if t < NumTypes {
		return typeNames[t]
	}
	return "other"
}

// ParseType maps Celery's type string ("task-succeeded") to a Type.
func ParseType(s string) Type {
	for i, n := range typeNames {
		if i > 0 && n == s {
			return Type(i)
		}
	}
	return Unknown
}

// Event holds the fields of a Celery event the exporter uses.
type Event struct {
	Type       Type
	Hostname   string  // sender, "name@host"
	Timestamp  float64 // sender's clock, Unix seconds
	UUID       string
	Name       string // task name: task-sent and task-received only
	Queue      string // task-sent only
	RoutingKey string
	Exception  string  // task-failed, task-retried: the repr, e.g. "ValueError('x')"
	Runtime    float64 // task-succeeded, seconds
	ETA        string  // ISO 8601 or ""
	Requeue    bool    // task-rejected
	Freq       float64 // worker-*: heartbeat interval, seconds
	Active     int     // worker-*: tasks running, valid when HasActive
	HasActive  bool
}

// Decode errors, by what was wrong; wrapped with detail.
var (
	// ErrContentType marks a message in a serialization other than JSON
	// (pickle, msgpack, yaml): it cannot be read here.
	ErrContentType = errors.New("unsupported content type")
	// ErrEnvelope marks a Redis message that is not kombu's envelope.
	ErrEnvelope = errors.New("malformed envelope")
	// ErrBody marks a body that is neither an event object nor an array of them.
	ErrBody = errors.New("malformed event body")
)

// Reason names the class of a decode error for a metric label.
func Reason(err error) string {
	switch {
	case errors.Is(err, ErrContentType):
		return "content_type"
	case errors.Is(err, ErrEnvelope):
		return "envelope"
	default:
		return "body"
	}
}

type wireEvent struct {
	Type       string   `json:"type"`
	Hostname   string   `json:"hostname"`
	Timestamp  float64  `json:"timestamp"`
	UUID       string   `json:"uuid"`
	Name       string   `json:"name"`
	Queue      string   `json:"queue"`
	RoutingKey string   `json:"routing_key"`
	Exception  string   `json:"exception"`
	Runtime    float64  `json:"runtime"`
	ETA        *string  `json:"eta"`
	Requeue    bool     `json:"requeue"`
	Freq       float64  `json:"freq"`
	Active     *float64 `json:"active"`
}

func (w *wireEvent) to(e *Event) {
	*e = Event{Type: ParseType(w.Type), Hostname: w.Hostname, Timestamp: w.Timestamp, UUID: w.UUID, Name: w.Name,
		Queue: w.Queue, RoutingKey: w.RoutingKey, Exception: w.Exception, Runtime: w.Runtime, Requeue: w.Requeue,
		Freq: w.Freq}
	if w.ETA != nil {
		e.ETA = *w.ETA
	}
	if w.Active != nil {
		e.Active, e.HasActive = int(*w.Active), true
	}
}

// Decoder decodes messages, reusing its buffers; one per goroutine.
type Decoder struct {
	buf   []byte
	batch []wireEvent
	one   wireEvent
	ev    Event
}

// Body decodes a JSON event body, an object or a task.multi array, calling
// fn for every event (the *Event is reused: copy what you keep). It returns
// how many events it passed to fn.
func (d *Decoder) Body(body []byte, fn func(*Event)) (int, error) {
	i := 0
	for i < len(body) && (body[i] == ' ' || body[i] == '\n' || body[i] == '\r' || body[i] == '\t') {
		i++
	}
	if i == len(body) {
		return 0, fmt.Errorf("%w: empty", ErrBody)
	}
	switch body[i] {
	case '{':
		d.one = wireEvent{}
		if err := json.Unmarshal(body, &d.one); err != nil {
			return 0, fmt.Errorf("%w: %w", ErrBody, err)
		}
		d.one.to(&d.ev)
		fn(&d.ev)
		return 1, nil
	case '[':
		clear(d.batch)
		d.batch = d.batch[:0]
		if err := json.Unmarshal(body, &d.batch); err != nil {
			return 0, fmt.Errorf("%w: %w", ErrBody, err)
		}
		for k := range d.batch {
			d.batch[k].to(&d.ev)
			fn(&d.ev)
		}
		n := len(d.batch)
		if cap(d.batch) > 1024 {
			d.batch = nil // do not keep one huge batch's memory
		}
		return n, nil
	}
	return 0, fmt.Errorf("%w: starts with %q", ErrBody, body[i])
}

type envelope struct {
	Body            *string `json:"body"`
	ContentType     string  `json:"content-type"`
	ContentEncoding string  `json:"content-encoding"`
	Properties      struct {
		BodyEncoding string `json:"body_encoding"`
	} `json:"properties"`
}

// Redis decodes a message published by kombu's Redis transport (the JSON
// envelope with a base64 body).
func (d *Decoder) Redis(msg []byte, fn func(*Event)) (int, error) {
	var env envelope
	if err := json.Unmarshal(msg, &env); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrEnvelope, err)
	}
	if env.Body == nil {
		return 0, fmt.Errorf("%w: no body", ErrEnvelope)
	}
	if !isJSON(env.ContentType) {
		return 0, fmt.Errorf("%w: %q", ErrContentType, env.ContentType)
	}
	body := []byte(*env.Body)
	switch env.Properties.BodyEncoding {
	case "base64":
		n := base64.StdEncoding.DecodedLen(len(*env.Body))
		if cap(d.buf) < n {
			d.buf = make([]byte, n)
		}
		m, err := base64.StdEncoding.Decode(d.buf[:n], body)
		if err != nil {
			return 0, fmt.Errorf("%w: body: %w", ErrEnvelope, err)
		}
		body = d.buf[:m]
	case "", "utf-8":
	default:
		return 0, fmt.Errorf("%w: body encoding %q", ErrEnvelope, env.Properties.BodyEncoding)
	}
	n, err := d.Body(body, fn)
	if cap(d.buf) > 1<<20 {
		d.buf = nil
	}
	return n, err
}

// AMQP decodes the body of an event message from RabbitMQ.
func (d *Decoder) AMQP(contentType string, body []byte, fn func(*Event)) (int, error) {
	if !isJSON(contentType) {
		return 0, fmt.Errorf("%w: %q", ErrContentType, contentType)
	}
	return d.Body(body, fn)
}

func isJSON(ct string) bool {
	return ct == "application/json" || ct == "" || strings.HasPrefix(ct, "application/json;")
}

// ExceptionClass turns an exception repr such as "ValueError('kaboom')" or
// "celery.exceptions.Retry: ..." into its class name, or "" when the text
// does not look like one (so that no message text becomes a label).
func ExceptionClass(repr string) string {
	s := repr
	if i := strings.IndexAny(s, "(:"); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 100 {
		return ""
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return ""
		}
	}
	return s
}
