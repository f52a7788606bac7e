package file

import (
	"bytes"
	"unicode/utf8"
)

// Line is one line of a file.
type Line struct {
	// Offset is the file offset of the line's first byte; End the offset
	// just after its newline.
	Offset, End int64
	// Data is the line without its line ending. It is only valid until the
	// handler that received it returns.
	Data []byte
	// Truncated says the line was longer than the maximum and was cut.
	Truncated bool
	// Repaired says invalid UTF-8 was replaced.
	Repaired bool
	// Partial says the line had no newline and was emitted after the
	// partial-line timeout.
	Partial bool
	// Stable says Data points into the bytes given to Feed (not into the
	// framer's own buffers, which the next call reuses).
	Stable bool
}

// Framer splits a byte stream into lines of at most Max bytes. A longer line
// is cut to Max bytes and flagged; the rest of it up to its newline is
// skipped, so the file is never abandoned.
type Framer struct {
	Max int

	carry      []byte // the start of an unfinished line
	carryStart int64  // its file offset
	discarding bool   // past Max in the current line: skipping to its newline
	truncated  bool
	lines      []Line
	repair     []byte
}

// Reset forgets any unfinished line; the next byte fed is at offset.
func (f *Framer) Reset() {
	f.carry = f.carry[:0]
	f.discarding, f.truncated = false, false
}

// Pending is the number of bytes of an unfinished line held, and its offset.
func (f *Framer) Pending() (int, int64) { return len(f.carry), f.carryStart }

// Feed frames data, whose first byte is at file offset off, and returns the
// complete lines. The lines' Data may point into data or into the framer
// and are valid until the next call.
func (f *Framer) Feed(data []byte, off int64) []Line {
	f.lines = f.lines[:0]
	f.repair = f.repair[:0]
	pos := 0
	for pos < len(data) {
		nl := bytes.IndexByte(data[pos:], '\n')
		if nl < 0 {
			f.hold(data[pos:], off+int64(pos))
			break
		}
		end := pos + nl
		lineEnd := off + int64(end) + 1
		if len(f.carry) == 0 && !f.discarding {
			f.emit(data[pos:end], off+int64(pos), lineEnd, false, false)
		} else {
			f.hold(data[pos:end], off+int64(pos))
			f.emit(f.carry, f.carryStart, lineEnd, f.truncated, false)
			f.carry = f.carry[:0]
			f.discarding, f.truncated = false, false
		}
		pos = end + 1
	}
	return f.lines
}

// Flush emits the unfinished line as a partial line (after a timeout);
// end is the offset after the last byte fed.
func (f *Framer) Flush(end int64) []Line {
	f.lines = f.lines[:0]
	f.repair = f.repair[:0]
	if len(f.carry) > 0 || f.discarding {
		f.emit(f.carry, f.carryStart, end, f.truncated, true)
	}
	f.carry = f.carry[:0]
	f.discarding, f.truncated = false, false
	return f.lines
}

func (f *Framer) hold(b []byte, off int64) {
	if len(f.carry) == 0 && !f.discarding {
		f.carryStart = off
	}
	if f.discarding {
		return
	}
	room := f.Max - len(f.carry)
	if f.Max > 0 && len(b) > room {
		f.carry = append(f.carry, b[:room]...)
		f.discarding, f.truncated = true, true
		return
	}
	f.carry = append(f.carry, b...)
}

func (f *Framer) emit(b []byte, off, end int64, truncated, partial bool) {
	if f.Max > 0 && len(b) > f.Max {
		b, truncated = b[:f.Max], true
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	repaired, stable := false, false
	if !utf8.Valid(b) {
		// Copy, since carry and data are reused; the repaired bytes live
		// in f.repair until the next call.
		start := len(f.repair)
		f.repair = append(f.repair, bytes.ToValidUTF8(b, []byte("\uFFFD"))...)
		b, repaired = f.repair[start:len(f.repair):len(f.repair)], true
	} else if truncated || partial || len(f.carry) > 0 {
		// b may point into carry, which the caller resets and reuses.
		start := len(f.repair)
		f.repair = append(f.repair, b...)
		b = f.repair[start:len(f.repair):len(f.repair)]
	} else {
		stable = true
	}
	f.lines = append(f.lines, Line{Offset: off, End: end, Data: b, Truncated: truncated, Repaired: repaired, Partial: partial, Stable: stable})
}
