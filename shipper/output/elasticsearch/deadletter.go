package elasticsearch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/outrigger/outrigger/shipper/decode"
)

// deadLetters is the file that keeps documents Elasticsearch rejected for
// good (mapping conflicts, bad documents), one JSON object per line with the
// document and the reason, so nothing is dropped silently.
type deadLetters struct {
	path     string
	maxBytes int64
	// openFile opens the file for appending (os.OpenFile; tests inject
	// a file that fails mid-write).
	openFile func(path string) (deadLetterFile, error)

	mu   sync.Mutex
	f    deadLetterFile
	size int64
	// broken: the file could not be cut back after a failed write; every
	// later write fails (the letters stay unacknowledged).
	broken error
}

// deadLetterFile is what the writer needs of its file.
type deadLetterFile interface {
	Write(b []byte) (int, error)
	ReadAt(b []byte, off int64) (int, error)
	Stat() (os.FileInfo, error)
	Truncate(size int64) error
	Sync() error
	Close() error
}

func openAppend(path string) (deadLetterFile, error) {
	return os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_RDWR, 0o640)
}

// letter is one rejected document.
type letter struct {
	item              int
	index, id, source string
	offset            int64
	status            int
	typ, reason       string
	doc               []byte
}

func (d *deadLetters) open() error {
	if d.path == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(d.path), 0o750); err != nil {
		return fmt.Errorf("creating dead-letter directory: %w", err)
	}
	if d.openFile == nil {
		d.openFile = openAppend
	}
	f, err := d.openFile(d.path)
	if err != nil {
		return fmt.Errorf("opening dead-letter file: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("opening dead-letter file: %w", err)
	}
	size, err := completeLines(f, fi.Size())
	if err != nil {
		f.Close()
		return fmt.Errorf("repairing dead-letter file: %w", err)
	}
	d.f, d.size = f, size
	return nil
}

// completeLines truncates a file of size bytes after its last newline (a
// line cut by a crash mid-write), so that appends start a line of their own.
func completeLines(f deadLetterFile, size int64) (int64, error) {
	buf := make([]byte, 64<<10)
	for end := size; end > 0; {
		start := max(end-int64(len(buf)), 0)
		n, err := f.ReadAt(buf[:end-start], start)
		if int64(n) != end-start {
			return size, fmt.Errorf("reading the end of the file: %w", err)
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			keep := start + int64(i) + 1
			if keep == size {
				return size, nil
			}
			return keep, f.Truncate(keep)
		}
		end = start
	}
	if size == 0 {
		return 0, nil
	}
	return 0, f.Truncate(0)
}

// write appends letters and syncs the file before the events are
// acknowledged; it returns how many were kept (the rest: file full or absent).
func (d *deadLetters) write(name string, ls []letter) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.broken != nil {
		return 0, d.broken
	}
	if d.f == nil {
		return len(ls), nil // no file configured: counted and logged only
	}
	var buf []byte
	kept := 0
	now := time.Now().UTC().Format(time.RFC3339Nano)
	for _, l := range ls {
		start := len(buf)
		buf = append(buf, `{"@timestamp":"`...)
		buf = append(buf, now...)
		buf = append(buf, `","output":`...)
		buf = decode.AppendString(buf, name)
		buf = append(buf, `,"index":`...)
		buf = decode.AppendString(buf, l.index)
		buf = append(buf, `,"_id":`...)
		buf = decode.AppendString(buf, l.id)
		buf = append(buf, `,"status":`...)
		buf = strconv.AppendInt(buf, int64(l.status), 10)
		errObj, _ := json.Marshal(map[string]string{"type": l.typ, "reason": l.reason})
		buf = append(buf, `,"error":`...)
		buf = append(buf, errObj...)
		buf = append(buf, `,"log":{"file":{"path":`...)
		src, _ := json.Marshal(l.source)
		buf = append(buf, src...)
		buf = append(buf, `},"offset":`...)
		buf = strconv.AppendInt(buf, l.offset, 10)
		buf = append(buf, `},"document":`...)
		buf = append(buf, l.doc...)
		buf = append(buf, "}\n"...)
		if d.maxBytes > 0 && d.size+int64(len(buf)) > d.maxBytes {
			buf = buf[:start]
			break
		}
		kept++
	}
	if len(buf) == 0 {
		return 0, nil
	}
	if _, err := d.f.Write(buf); err != nil {
		return 0, d.truncateBack(fmt.Errorf("writing dead-letter file: %w", err))
	}
	if err := d.f.Sync(); err != nil {
		return 0, d.truncateBack(fmt.Errorf("syncing dead-letter file: %w", err))
	}
	d.size += int64(len(buf))
	return kept, nil
}

// truncateBack cuts what a failed write left (part of a line, with no
// newline) so that the next append starts at a line boundary; the letters
// are not acknowledged and are written again. If the file cannot be cut it
// is closed: later letters are kept nowhere rather than after a broken line.
func (d *deadLetters) truncateBack(err error) error {
	if terr := d.f.Truncate(d.size); terr != nil {
		d.f.Close()
		d.f = nil
		d.broken = fmt.Errorf("dead-letter file left with a partial line (truncating it back failed: %w)", terr)
		return fmt.Errorf("%w; %w", err, d.broken)
	}
	return err
}

func (d *deadLetters) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f != nil {
		d.f.Close()
		d.f = nil
	}
}
