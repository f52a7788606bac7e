package elasticsearch

import (
	"bytes"
	"os"
	"strconv"
	"time"

	"github.com/outrigger/outrigger/shipper/decode"
	"github.com/outrigger/outrigger/shipper/event"
)

// DocBuilder makes the document an event becomes, as Filebeat would index
// it: the line's own object with @timestamp (and, with Meta, log.file.path,
// log.offset, input.type, host.name, agent, ecs.version) where it lacks them.
type DocBuilder struct {
	Meta        bool
	InputType   string
	LabelsField string
	// Kubernetes writes a container log's stream labels as Filebeat's
	// add_kubernetes_metadata and container input do: kubernetes.namespace,
	// kubernetes.pod.name, kubernetes.container.name, kubernetes.node.name,
	// the pod labels chosen under kubernetes.labels, and stream.
	Kubernetes bool
	host       string
	agent      []byte
	constMeta  []byte // input, host, agent and ecs, the same for every event

	// Caches: a DocBuilder is used by one goroutine at a time.
	lastSource string
	logPrefix  []byte
	lastSec    int64
	secText    []byte // "2006-01-02T15:04:05." of lastSec
}

// appendTime appends ns as 2006-01-02T15:04:05.000Z (UTC, milliseconds, as
// Filebeat writes @timestamp), formatting the date once per second.
func (o *DocBuilder) appendTime(dst []byte, ns int64) []byte {
	sec, rem := ns/1e9, ns%1e9
	if rem < 0 {
		sec--
		rem += 1e9
	}
	if sec != o.lastSec || o.secText == nil {
		o.lastSec = sec
		o.secText = time.Unix(sec, 0).UTC().AppendFormat(o.secText[:0], "2006-01-02T15:04:05.")
	}
	dst = append(dst, o.secText...)
	ms := rem / 1e6
	return append(dst, byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
}

// NewDocBuilder returns a DocBuilder for this host.
func NewDocBuilder(meta bool, inputType, labelsField string) *DocBuilder {
	host, _ := os.Hostname()
	if inputType == "" {
		inputType = "log"
	}
	b := &DocBuilder{Meta: meta, InputType: inputType, LabelsField: labelsField, host: host,
		agent: append(decode.AppendString([]byte(`{"type":"log-shipper","name":`), host), '}')}
	m := decode.AppendString([]byte(`"input":{"type":`), inputType)
	m = decode.AppendString(append(m, `},"host":{"name":`...), host)
	m = append(append(append(m, `},"agent":`...), b.agent...), `,"ecs":{"version":"8.0.0"}`...)
	b.constMeta = m
	return b
}

// AppendLine appends the document of ev, parsing its line unless the
// processor said what it is.
func (o *DocBuilder) AppendLine(dst []byte, ev *event.Event, scratch []decode.Member) ([]byte, []decode.Member) {
	if ev.Doc&event.DocObject != 0 {
		return o.Append(dst, ev, ev.Doc), scratch
	}
	members, err := decode.ParseObject(ev.Line, scratch[:0])
	if err != nil {
		return o.Append(dst, ev, 0), members[:0]
	}
	return o.Append(dst, ev, Flags(members)), members
}

// Flags are the event.Doc flags of an object with these members.
func Flags(members []decode.Member) uint16 { return FlagsFor(members, "labels") }

// FlagsFor is Flags with the labels field named labelsField.
func FlagsFor(members []decode.Member, labelsField string) uint16 {
	f := event.DocObject
	if len(members) == 0 {
		f |= event.DocEmpty
	}
	for _, m := range members {
		f |= event.KeyFlag(m.Key)
		if labelsField != "" && labelsField != "labels" && m.KeyIs(labelsField) {
			f |= event.DocLabels
		}
	}
	return f
}

// Append appends the document of ev: the line's object with the
// Filebeat fields it lacks put first, or {"message": line} for a line that
// is not a JSON object. members are the line's top-level members (nil when
// it is not an object).
func (o *DocBuilder) Append(dst []byte, ev *event.Event, flags uint16) []byte {
	isObj := flags&event.DocObject != 0
	hasTS, hasLog, hasInput := flags&event.DocTimestamp != 0, flags&event.DocLog != 0, flags&event.DocInput != 0
	hasHost, hasAgent, hasECS := flags&event.DocHost != 0, flags&event.DocAgent != 0, flags&event.DocECS != 0
	hasLabels := flags&event.DocLabels != 0
	dst = append(dst, '{')
	n := 0
	sep := func() {
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
	}
	if !hasTS {
		sep()
		dst = append(dst, `"@timestamp":"`...)
		dst = o.appendTime(dst, ev.TimeNs)
		dst = append(dst, '"')
	}
	if o.Meta {
		if !hasLog && ev.Source != "" {
			sep()
			if ev.Source != o.lastSource {
				o.lastSource = ev.Source
				o.logPrefix = decode.AppendString(append(o.logPrefix[:0], `"log":{"file":{"path":`...), ev.Source)
				o.logPrefix = append(o.logPrefix, `},"offset":`...)
			}
			dst = append(dst, o.logPrefix...)
			dst = strconv.AppendInt(dst, ev.Offset, 10)
			dst = append(dst, '}')
		}
		if !hasInput && !hasHost && !hasAgent && !hasECS {
			sep()
			dst = append(dst, o.constMeta...)
		} else {
			if !hasInput {
				sep()
				dst = append(dst, `"input":{"type":`...)
				dst = decode.AppendString(dst, o.InputType)
				dst = append(dst, '}')
			}
			if !hasHost {
				sep()
				dst = append(dst, `"host":{"name":`...)
				dst = decode.AppendString(dst, o.host)
				dst = append(dst, '}')
			}
			if !hasAgent {
				sep()
				dst = append(dst, `"agent":`...)
				dst = append(dst, o.agent...)
			}
			if !hasECS {
				sep()
				dst = append(dst, `"ecs":{"version":"8.0.0"}`...)
			}
		}
	}
	if o.LabelsField != "" && ev.Stream != nil && len(ev.Stream.Pairs) > 0 && !hasLabels {
		sep()
		dst = decode.AppendString(dst, o.LabelsField)
		dst = append(dst, ":{"...)
		for i, l := range ev.Stream.Pairs {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = decode.AppendString(dst, l.Name)
			dst = append(dst, ':')
			dst = decode.AppendString(dst, l.Value)
		}
		dst = append(dst, '}')
	}
	if o.Kubernetes && ev.Stream != nil && !hasLabels {
		if k := appendKubernetes(dst, ev.Stream.Pairs, n > 0); len(k) > len(dst) {
			dst, n = k, n+1
		}
	}
	if !isObj {
		sep()
		dst = append(dst, `"message":`...)
		dst = decode.AppendString(dst, string(ev.Line))
		return append(dst, '}')
	}
	if flags&event.DocEmpty != 0 {
		return append(dst, '}')
	}
	if n > 0 {
		dst = append(dst, ',')
	}
	// The line is a validated object: everything after its '{' follows.
	// Raw newlines can only be whitespace between tokens there; NDJSON
	// needs the document on one line.
	body := bytes.TrimLeft(ev.Line, " \t\r\n")
	start := len(dst)
	dst = append(dst, body[1:]...)
	for i := start; i < len(dst); i++ {
		if dst[i] == '\n' || dst[i] == '\r' {
			dst[i] = ' '
		}
	}
	return dst
}

// appendKubernetes appends the kubernetes object (and stream) of a
// container log's labels; nothing when they name no pod.
func appendKubernetes(dst []byte, pairs []event.Label, comma bool) []byte {
	var ns, pod, ctr, node, stream string
	var other []event.Label
	for _, l := range pairs {
		switch l.Name {
		case "namespace":
			ns = l.Value
		case "pod":
			pod = l.Value
		case "container":
			ctr = l.Value
		case "node":
			node = l.Value
		case "stream":
			stream = l.Value
		default:
			other = append(other, l)
		}
	}
	if pod == "" {
		return dst
	}
	if comma {
		dst = append(dst, ',')
	}
	dst = decode.AppendString(append(dst, `"kubernetes":{"namespace":`...), ns)
	dst = decode.AppendString(append(dst, `,"pod":{"name":`...), pod)
	dst = decode.AppendString(append(dst, `},"container":{"name":`...), ctr)
	dst = append(dst, '}')
	if node != "" {
		dst = decode.AppendString(append(dst, `,"node":{"name":`...), node)
		dst = append(dst, '}')
	}
	if len(other) > 0 {
		dst = append(dst, `,"labels":{`...)
		for i, l := range other {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = decode.AppendString(dst, l.Name)
			dst = decode.AppendString(append(dst, ':'), l.Value)
		}
		dst = append(dst, '}')
	}
	dst = append(dst, '}')
	if stream != "" {
		dst = decode.AppendString(append(dst, `,"stream":`...), stream)
	}
	return dst
}
