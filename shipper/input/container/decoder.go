package container

import (
	"errors"
	"fmt"
	"time"

	"github.com/outrigger/outrigger/shipper/input/docker"
	"github.com/outrigger/outrigger/shipper/input/file"
)

// Format is the record format of a container log file.
type Format int

// Formats; Auto decides per file from its first line.
const (
	None Format = iota
	Auto
	CRI
	Docker
)

// ParseFormat reads auto, cri or docker.
func ParseFormat(s string) (Format, error) {
	switch s {
	case "", "auto":
		return Auto, nil
	case "cri":
		return CRI, nil
	case "docker", "json-file":
		return Docker, nil
	}
	return None, fmt.Errorf("%q: want auto, cri or docker", s)
}

// Line is a decoded line: its text, where it was in the file (from the
// first byte of its first part to the end of its last), its stream and
// the runtime's timestamp.
type Line struct {
	Text        []byte
	Offset, End int64
	Stderr      bool
	TimeNs      int64
	// Truncated: the joined parts were longer than the line cap.
	Truncated bool
	// Stable: Text points into the file.Line's data (valid as long as it).
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

// Decoder decodes the lines of one file, in file order. It is not safe
// for concurrent use.
type Decoder struct {
	format  Format
	max     int
	parts   [2]partial // stdout, stderr
	lastEnd int64
	now     func() time.Time
}

// NewDecoder returns a decoder for one file; maxBytes caps a joined line.
func NewDecoder(f Format, maxBytes int) *Decoder {
	if f == None {
		f = Auto
	}
	if maxBytes <= 0 {
		maxBytes = 256 << 10
	}
	return &Decoder{format: f, max: maxBytes, now: time.Now}
}

// Format is the file's format (Auto until the first line was seen).
func (d *Decoder) Format() Format { return d.format }

func detect(b []byte) Format {
	if len(b) > 0 && b[0] == '{' {
		return Docker
	}
	return CRI
}

var errEmpty = errors.New("empty line")

func (d *Decoder) parse(b []byte) (Record, error) {
	if len(b) == 0 {
		return Record{}, errEmpty
	}
	if d.format == Auto {
		d.format = detect(b)
	}
	if d.format == Docker {
		return docker.ParseLine(b)
	}
	return ParseCRI(b)
}

// Decode appends the lines of a read to out and returns them with the
// offset up to which the file is done: before the first part of a line
// whose end was not read yet. A line that is not a record is passed on
// as it is, flagged Undecoded.
func (d *Decoder) Decode(lines []file.Line, out []Line) ([]Line, int64) {
	for _, l := range lines {
		rec, err := d.parse(l.Data)
		if errors.Is(err, errEmpty) {
			continue
		}
		if err != nil {
			out = append(out, Line{Text: l.Data, Offset: l.Offset, End: l.End, Truncated: l.Truncated, Stable: l.Stable, Undecoded: true})
			continue
		}
		stderr := rec.Stream == "stderr"
		p := &d.parts[0]
		if stderr {
			p = &d.parts[1]
		}
		if !p.open && !rec.Partial {
			out = append(out, Line{Text: rec.Text, Offset: l.Offset, End: l.End, Stderr: stderr, TimeNs: rec.TimeNs,
				Truncated: l.Truncated, Stable: l.Stable})
			continue
		}
		if !p.open {
			*p = partial{open: true, buf: p.buf[:0], off: l.Offset, timeNs: rec.TimeNs, since: d.now()}
		}
		p.end = l.End
		text := rec.Text
		if room := d.max - len(p.buf); len(text) > room {
			text, p.truncated = text[:max(room, 0)], true
		}
		p.buf = append(p.buf, text...)
		p.truncated = p.truncated || l.Truncated
		if rec.Partial {
			continue
		}
		out = d.close(out, p, stderr)
	}
	if len(lines) > 0 {
		d.lastEnd = lines[len(lines)-1].End
	}
	return out, d.commit()
}

func (d *Decoder) close(out []Line, p *partial, stderr bool) []Line {
	out = append(out, Line{Text: append([]byte(nil), p.buf...), Offset: p.off, End: p.end, Stderr: stderr,
		TimeNs: p.timeNs, Truncated: p.truncated, Stable: true})
	p.open = false
	if cap(p.buf) > 64<<10 {
		p.buf = nil // do not keep a large buffer per file
	}
	return out
}

func (d *Decoder) commit() int64 {
	commit := d.lastEnd
	for i := range d.parts {
		if p := &d.parts[i]; p.open && p.off < commit {
			commit = p.off
		}
	}
	return commit
}

// Open says whether a line waits for its end.
func (d *Decoder) Open() bool { return d.parts[0].open || d.parts[1].open }

// Flush ends the lines whose first part was read longer than age ago and
// whose end did not come (the runtime writes the parts of a line at once:
// the rest went to the next file at a rotation, or never came), so no part
// is lost; it returns them with the new commit offset.
func (d *Decoder) Flush(age time.Duration, out []Line) ([]Line, int64) {
	now := d.now()
	for i := range d.parts {
		if p := &d.parts[i]; p.open && now.Sub(p.since) >= age {
			out = d.close(out, p, i == 1)
		}
	}
	return out, d.commit()
}
