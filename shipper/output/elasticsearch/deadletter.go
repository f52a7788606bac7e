package elasticsearch

import (
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

	mu   sync.Mutex
	f    *os.File
	size int64
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
	f, err := os.OpenFile(d.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("opening dead-letter file: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("opening dead-letter file: %w", err)
	}
	d.f, d.size = f, fi.Size()
	return nil
}

// write appends letters and syncs the file before the events are
// acknowledged; it returns how many were kept (the rest: file full or absent).
func (d *deadLetters) write(output string, ls []letter) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
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
		buf = decode.AppendString(buf, output)
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
		return 0, fmt.Errorf("writing dead-letter file: %w", err)
	}
	if err := d.f.Sync(); err != nil {
		return 0, fmt.Errorf("syncing dead-letter file: %w", err)
	}
	d.size += int64(len(buf))
	return kept, nil
}

func (d *deadLetters) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f != nil {
		d.f.Close()
		d.f = nil
	}
}
