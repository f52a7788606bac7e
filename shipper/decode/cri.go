package decode

import (
	"bytes"
	"errors"
	"time"
)

var errNotCRI = errors.New("not a CRI log record")

// ParseCRI decodes one CRI log line, "<RFC 3339 time> <stdout|stderr>
// <tags> <content>", where the first letter of the first ':'-separated
// tag is P for a partial line and F for a full one. Text points into b.
func ParseCRI(b []byte) (ContainerRecord, error) {
	ts, rest, ok := bytes.Cut(b, []byte{' '})
	if !ok {
		return ContainerRecord{}, errNotCRI
	}
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	if err != nil {
		return ContainerRecord{}, errNotCRI
	}
	stream, rest, ok := bytes.Cut(rest, []byte{' '})
	if !ok {
		return ContainerRecord{}, errNotCRI
	}
	var r ContainerRecord
	switch string(stream) {
	case "stdout", "stderr":
		r.Stream = string(stream)
	default:
		return ContainerRecord{}, errNotCRI
	}
	tags, content, _ := bytes.Cut(rest, []byte{' '})
	if len(tags) == 0 {
		return ContainerRecord{}, errNotCRI
	}
	switch tags[0] {
	case 'P':
		r.Partial = true
	case 'F':
	default:
		return ContainerRecord{}, errNotCRI
	}
	r.Text, r.TimeNs = content, t.UnixNano()
	return r, nil
}
