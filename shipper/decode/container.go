package decode

import (
	"errors"
	"fmt"
	"time"
)

// ContainerFormat is the record format of a container log file.
type ContainerFormat int

// Container formats; ContainerAuto decides per file from its first line.
const (
	ContainerNone ContainerFormat = iota
	ContainerAuto
	ContainerCRI
	ContainerDocker
)

// ParseContainerFormat reads auto, cri or docker.
func ParseContainerFormat(s string) (ContainerFormat, error) {
	switch s {
	case "", "auto":
		return ContainerAuto, nil
	case "cri":
		return ContainerCRI, nil
	case "docker", "json-file":
		return ContainerDocker, nil
	}
	return ContainerNone, fmt.Errorf("%q: want auto, cri or docker", s)
}

// ContainerLine is a decoded line: its text, where it was in the file (from the
// first byte of its first part to the end of its last), its stream and
// the runtime's timestamp.
type ContainerLine struct {
	Text        []byte
	Offset, End int64
	Stderr      bool
	TimeNs      int64
	// Truncated: the joined parts were longer than the line cap.
	Truncated bool
	// Stable: Text points into the framed line's data (valid as long as it).
	Stable bool
	// Undecoded: the line was not a record of the file's format and is
	// passed on as it is (never dropped).
	Undecoded bool
}

type partial struct {
	open      bool
	buf       []byte
	off, end  int64
	timeNs    int64
	truncated bool
	since     time.Time
}

// ContainerDecoder unwraps the records of one container log file, in file
// order. It is not safe for concurrent use.
type ContainerDecoder struct {
	format  ContainerFormat
	max     int
	parts   [2]partial // stdout, stderr
	lastEnd int64
	now     func() time.Time
}

// NewContainerDecoder returns a decoder for one file; maxBytes caps a joined line.
func NewContainerDecoder(f ContainerFormat, maxBytes int) *ContainerDecoder {
	if f == ContainerNone {
		f = ContainerAuto
	}
	if maxBytes <= 0 {
		maxBytes = 256 << 10
	}
	return &ContainerDecoder{format: f, max: maxBytes, now: time.Now}
}

// Format is the file's format (ContainerAuto until the first line was seen).
func (d *ContainerDecoder) Format() ContainerFormat { return d.format }

func detect(b []byte) ContainerFormat {
	if len(b) > 0 && b[0] == '{' {
		return ContainerDocker
	}
	return ContainerCRI
}

var errEmpty = errors.New("empty line")

func (d *ContainerDecoder) parse(b []byte) (ContainerRecord, error) {
	if len(b) == 0 {
		return ContainerRecord{}, errEmpty
	}
	if d.format == ContainerAuto {
		d.format = detect(b)
	}
	if d.format == ContainerDocker {
		return ParseDockerJSON(b)
	}
	return ParseCRI(b)
}

// Add appends to out what the framed line data (from offset to end in the
// file) completes: nothing while a split line waits for its last part. A
// line that is not a record is passed on as it is, flagged Undecoded.
// Call Commit after the lines of a read.
func (d *ContainerDecoder) Add(out []ContainerLine, data []byte, offset, end int64, truncated, stable bool) []ContainerLine {
	d.lastEnd = end
	rec, err := d.parse(data)
	if errors.Is(err, errEmpty) {
		return out
	}
	if err != nil {
		return append(out, ContainerLine{Text: data, Offset: offset, End: end, Truncated: truncated, Stable: stable, Undecoded: true})
	}
	stderr := rec.Stream == "stderr"
	p := &d.parts[0]
	if stderr {
		p = &d.parts[1]
	}
	if !p.open && !rec.Partial {
		return append(out, ContainerLine{Text: rec.Text, Offset: offset, End: end, Stderr: stderr, TimeNs: rec.TimeNs,
			Truncated: truncated, Stable: stable})
	}
	if !p.open {
		*p = partial{open: true, buf: p.buf[:0], off: offset, timeNs: rec.TimeNs, since: d.now()}
	}
	p.end = end
	text := rec.Text
	if room := d.max - len(p.buf); len(text) > room {
		text, p.truncated = text[:max(room, 0)], true
	}
	p.buf = append(p.buf, text...)
	p.truncated = p.truncated || truncated
	if rec.Partial {
		return out
	}
	return d.close(out, p, stderr)
}

func (d *ContainerDecoder) close(out []ContainerLine, p *partial, stderr bool) []ContainerLine {
	out = append(out, ContainerLine{Text: append([]byte(nil), p.buf...), Offset: p.off, End: p.end, Stderr: stderr,
		TimeNs: p.timeNs, Truncated: p.truncated, Stable: true})
	p.open = false
	if cap(p.buf) > 64<<10 {
		p.buf = nil // do not keep a large buffer per file
	}
	return out
}

// Commit is the offset up to which the file is done: the end of the last
// line added, or before the first part of a line whose end was not read yet.
func (d *ContainerDecoder) Commit() int64 {
	commit := d.lastEnd
	for i := range d.parts {
		if p := &d.parts[i]; p.open && p.off < commit {
			commit = p.off
		}
	}
	return commit
}

// Open says whether a line waits for its end.
func (d *ContainerDecoder) Open() bool { return d.parts[0].open || d.parts[1].open }

// Flush ends the lines whose first part was read longer than age ago and
// whose end did not come (the runtime writes the parts of a line at once:
// the rest went to the next file at a rotation, or never came), so no part
// is lost; it returns them with the new commit offset.
func (d *ContainerDecoder) Flush(age time.Duration, out []ContainerLine) ([]ContainerLine, int64) {
	now := d.now()
	for i := range d.parts {
		if p := &d.parts[i]; p.open && now.Sub(p.since) >= age {
			out = d.close(out, p, i == 1)
		}
	}
	return out, d.Commit()
}
