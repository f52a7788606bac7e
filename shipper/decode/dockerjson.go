package decode

import (
	"errors"
	"time"
)

// ContainerRecord is one record of a container runtime's log file: the same
// shape for CRI and Docker's json-file.
type ContainerRecord struct {
	// Text is the line without its newline.
	Text []byte
	// Stream is stdout or stderr.
	Stream string
	// TimeNs is when the engine received it.
	TimeNs int64
	// Partial: the engine split a long line (16 KiB) and more follows.
	Partial bool
}

var errNotRecord = errors.New("not a json-file log record")

// ParseDockerJSON decodes one line of a Docker json-file log:
// {"log":"text\n","stream":"stdout","time":"2026-11-22T10:00:00.123456789Z"}.
func ParseDockerJSON(b []byte) (ContainerRecord, error) {
	members, err := ParseObject(b, nil)
	if err != nil {
		return ContainerRecord{}, err
	}
	var l ContainerRecord
	found := false
	for _, m := range members {
		switch {
		case m.KeyIs("log"):
			s, ok := StringValue(m.Value)
			if !ok || m.Value[0] != '"' {
				return ContainerRecord{}, errNotRecord
			}
			found = true
			if n := len(s); n > 0 && s[n-1] == '\n' {
				s = s[:n-1]
				if n := len(s); n > 0 && s[n-1] == '\r' {
					s = s[:n-1]
				}
			} else {
				l.Partial = true
			}
			l.Text = []byte(s)
		case m.KeyIs("stream"):
			l.Stream, _ = StringValue(m.Value)
		case m.KeyIs("time"):
			if s, ok := StringValue(m.Value); ok {
				if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
					l.TimeNs = t.UnixNano()
				}
			}
		}
	}
	if !found {
		return ContainerRecord{}, errNotRecord
	}
	if l.Stream != "stderr" {
		l.Stream = "stdout"
	}
	return l, nil
}
