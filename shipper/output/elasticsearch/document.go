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
	host        string
	agent       []byte
}

// NewDocBuilder returns a DocBuilder for this host.
func NewDocBuilder(meta bool, inputType, labelsField string) *DocBuilder {
	host, _ := os.Hostname()
	if inputType == "" {
		inputType = "log"
	}
	return &DocBuilder{Meta: meta, InputType: inputType, LabelsField: labelsField, host: host,
		agent: append(decode.AppendString([]byte(`{"type":"log-shipper","name":`), host), '}')}
}

// AppendLine appends the document of ev, parsing its line.
func (o *DocBuilder) AppendLine(dst []byte, ev *event.Event, scratch []decode.Member) ([]byte, []decode.Member) {
	members, err := decode.ParseObject(ev.Line, scratch[:0])
	if err != nil {
		members = members[:0]
	}
	return o.Append(dst, ev, members, err == nil), members
}

// Append appends the document of ev: the line's object with the
// Filebeat fields it lacks put first, or {"message": line} for a line that
// is not a JSON object. members are the line's top-level members (nil when
// it is not an object).
func (o *DocBuilder) Append(dst []byte, ev *event.Event, members []decode.Member, isObj bool) []byte {
	has := func(k string) bool {
		for _, m := range members {
			if m.KeyIs(k) {
				return true
			}
		}
		return false
	}
	dst = append(dst, '{')
	n := 0
	sep := func() {
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
	}
	if !has("@timestamp") {
		sep()
		dst = append(dst, `"@timestamp":"`...)
		dst = time.Unix(0, ev.TimeNs).UTC().AppendFormat(dst, "2006-01-02T15:04:05.000Z")
		dst = append(dst, '"')
	}
	if o.Meta {
		if !has("log") && ev.Source != "" {
			sep()
			dst = append(dst, `"log":{"file":{"path":`...)
			dst = decode.AppendString(dst, ev.Source)
			dst = append(dst, `},"offset":`...)
			dst = strconv.AppendInt(dst, ev.Offset, 10)
			dst = append(dst, '}')
		}
		if !has("input") {
			sep()
			dst = append(dst, `"input":{"type":`...)
			dst = decode.AppendString(dst, o.InputType)
			dst = append(dst, '}')
		}
		if !has("host") {
			sep()
			dst = append(dst, `"host":{"name":`...)
			dst = decode.AppendString(dst, o.host)
			dst = append(dst, '}')
		}
		if !has("agent") {
			sep()
			dst = append(dst, `"agent":`...)
			dst = append(dst, o.agent...)
		}
		if !has("ecs") {
			sep()
			dst = append(dst, `"ecs":{"version":"8.0.0"}`...)
		}
	}
	if o.LabelsField != "" && ev.Stream != nil && len(ev.Stream.Pairs) > 0 && !has(o.LabelsField) {
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
	if !isObj {
		sep()
		dst = append(dst, `"message":`...)
		dst = decode.AppendString(dst, string(ev.Line))
		return append(dst, '}')
	}
	if len(members) == 0 {
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
