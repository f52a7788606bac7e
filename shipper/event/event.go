package event

import (
	"context"
	"sync/atomic"
)

// Label is one name/value pair: a stream label or a structured metadata entry.
type Label struct {
	Name  string
	Value string
}

// Stream identifies a Loki stream. Processors intern streams, so events of
// one stream share one *Stream and outputs may key maps by the pointer.
type Stream struct {
	// Labels is the rendered selector, sorted by name: {a="1", b="2"}.
	Labels string
	// Hash is a hash of Labels, used to pin a stream to one sender so its
	// entries stay in order.
	Hash uint64
	// Pairs are the labels as pairs, sorted by name.
	Pairs []Label
}

// Event is one log record on its way to the outputs.
type Event struct {
	// TimeNs is the record's time in Unix nanoseconds.
	TimeNs int64
	// Line is what is shipped: the (possibly rewritten) JSON document or raw line.
	Line []byte
	// Stream is the event's stream.
	Stream *Stream
	// Metadata is Loki structured metadata.
	Metadata []Label
	// Source is the path of the file the event came from (for metrics and
	// outputs that need it, such as a deterministic document id).
	Source string
	// SourceKey is a stable identity of the source (the file's registry
	// key): with Offset it names the record across restarts and replays.
	SourceKey string
	// Offset is the byte offset of the record's first byte in its file.
	Offset int64
	// Ack is acknowledged by every output once per event.
	Ack *Ack
	// Doc is what the processor knows of Line (Doc* flags), so that an
	// output building documents need not parse the line again; 0 = unknown.
	Doc uint16
}

// Doc flags.
const (
	// DocObject: Line is a validated JSON object.
	DocObject uint16 = 1 << iota
	// DocEmpty: ... with no member.
	DocEmpty
	// DocTimestamp and the following: the object has this top-level key
	// (@timestamp, log, input, host, agent, ecs, labels: the keys a
	// document builder adds when absent).
	DocTimestamp
	DocLog
	DocInput
	DocHost
	DocAgent
	DocECS
	DocLabels
)

// KeyFlag returns the Doc flag of a top-level key (as written between its
// quotes), 0 for other keys.
func KeyFlag(key []byte) uint16 {
	switch string(key) {
	case "@timestamp":
		return DocTimestamp
	case "log":
		return DocLog
	case "input":
		return DocInput
	case "host":
		return DocHost
	case "agent":
		return DocAgent
	case "ecs":
		return DocECS
	case "labels":
		return DocLabels
	}
	return 0
}

// AckOwner is told when an Ack completes for one output and for all of them.
type AckOwner interface {
	// OutputDone is called once per output when that output acknowledged
	// every event of the Ack.
	OutputDone(a *Ack, output int)
	// AllDone is called once when every output acknowledged every event.
	AllDone(a *Ack)
}

// Ack tracks the delivery of the events made from one read of a file: one
// counter per output, set before the events are handed out.
type Ack struct {
	// Offset is the file offset just after the last byte these events came from.
	Offset int64
	// Bytes is what these events hold against the pipeline's memory cap.
	Bytes int64

	owner AckOwner
	outs  []atomic.Int32
	left  atomic.Int32
}

// NewAck returns an Ack for owner with counts[i] events going to output i.
// The owner learns nothing until Arm is called: track the Ack first.
func NewAck(owner AckOwner, offset, bytes int64, counts []int) *Ack {
	a := &Ack{Offset: offset, Bytes: bytes, owner: owner, outs: make([]atomic.Int32, len(counts))}
	left := 0
	for i, n := range counts {
		a.outs[i].Store(int32(n))
		if n > 0 {
			left++
		}
	}
	a.left.Store(int32(left) + 1) // +1 until Arm
	return a
}

// Arm reports the outputs that get no event of this Ack as done (and the
// whole Ack when no output gets any). Call it once, before or after the
// events are handed out.
func (a *Ack) Arm() {
	for i := range a.outs {
		if a.outs[i].Load() == 0 {
			a.owner.OutputDone(a, i)
		}
	}
	if a.left.Add(-1) == 0 {
		a.owner.AllDone(a)
	}
}

// Done acknowledges one event for output. Calling it more often than there
// were events for that output is a bug the Ack ignores.
func (a *Ack) Done(output int) {
	if a == nil {
		return
	}
	if a.outs[output].Add(-1) != 0 {
		return
	}
	a.owner.OutputDone(a, output)
	if a.left.Add(-1) == 0 {
		a.owner.AllDone(a)
	}
}

// Output is where processed events go. The output acknowledges each event
// with ev.Ack.Done(index) once it is delivered or dropped for good (a
// permanent rejection, counted); it never acknowledges what it failed to deliver.
type Output interface {
	Name() string
	// Start starts the output's goroutines; ctx carries values only, the
	// output stops on Shutdown.
	Start(ctx context.Context) error
	// Send queues events; it blocks while the output is full (backpressure)
	// and returns false only when ctx ends first.
	Send(ctx context.Context, events []*Event) bool
	// Ready reports whether the output can deliver now.
	Ready(ctx context.Context) error
	// Shutdown stops accepting, delivers what it holds until ctx ends, then
	// stops every goroutine. Undelivered events stay unacknowledged, so
	// their offsets are not committed and they are read again at the next start.
	Shutdown(ctx context.Context)
}
