// Package stdout is the debugging output: it writes each event as one text
// line (time, stream labels, line) to standard output or a file, and is used
// when no other output is configured.
package stdout

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/outrigger/outrigger/shipper/decode"
	"github.com/outrigger/outrigger/shipper/event"
	"github.com/outrigger/outrigger/shipper/output"
	"github.com/outrigger/outrigger/shipper/output/elasticsearch"
)

// Config configures the output.
type Config struct {
	Name string
	// Path is a file to append to; "" or "-" is standard output.
	Path string
	// Writer overrides Path (tests).
	Writer io.Writer
	// Docs, when set, writes each event as the JSON document an
	// Elasticsearch output would index (Filebeat's console and file outputs).
	Docs *elasticsearch.DocBuilder
}

// Output writes events as text.
type Output struct {
	cfg   Config
	index int
	m     *output.Metrics

	mu  sync.Mutex
	w   *bufio.Writer
	f   *os.File
	err error
}

// New returns the output.
func New(cfg Config, index int, m *output.Metrics) *Output {
	if cfg.Name == "" {
		cfg.Name = "stdout"
	}
	return &Output{cfg: cfg, index: index, m: m}
}

// Name implements event.Output.
func (o *Output) Name() string { return o.cfg.Name }

// Start implements event.Output.
func (o *Output) Start(context.Context) error {
	var w io.Writer = os.Stdout
	switch {
	case o.cfg.Writer != nil:
		w = o.cfg.Writer
	case o.cfg.Path != "" && o.cfg.Path != "-":
		if err := os.MkdirAll(filepath.Dir(o.cfg.Path), 0o750); err != nil {
			return fmt.Errorf("creating output directory: %w", err)
		}
		f, err := os.OpenFile(o.cfg.Path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
		if err != nil {
			return fmt.Errorf("opening output file: %w", err)
		}
		o.f, w = f, f
	}
	o.w = bufio.NewWriterSize(w, 64<<10)
	o.m.Up.WithLabelValues(o.cfg.Name).Set(1)
	return nil
}

// Send implements event.Output: written and flushed before acknowledging.
func (o *Output) Send(_ context.Context, events []*event.Event) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	var buf []byte
	var members []decode.Member
	n := 0
	for _, ev := range events {
		if o.cfg.Docs != nil {
			buf, members = o.cfg.Docs.AppendLine(buf[:0], ev, members)
			buf = append(buf, '\n')
			_, _ = o.w.Write(buf)
			n += len(ev.Line)
			continue
		}
		buf = time.Unix(0, ev.TimeNs).UTC().AppendFormat(buf[:0], time.RFC3339Nano)
		buf = append(buf, ' ')
		buf = append(buf, ev.Stream.Labels...)
		buf = append(buf, ' ')
		buf = append(buf, ev.Line...)
		buf = append(buf, '\n')
		_, _ = o.w.Write(buf)
		n += len(ev.Line)
	}
	if err := o.w.Flush(); err != nil {
		// Not acknowledged: the lines are read again at the next start.
		o.err = fmt.Errorf("writing output %s: %w", o.cfg.Name, err)
		o.m.Up.WithLabelValues(o.cfg.Name).Set(0)
		return true
	}
	o.m.ShippedLines.WithLabelValues(o.cfg.Name).Add(float64(len(events)))
	o.m.ShippedBytes.WithLabelValues(o.cfg.Name).Add(float64(n))
	for _, ev := range events {
		ev.Ack.Done(o.index)
	}
	return true
}

// Ready implements event.Output.
func (o *Output) Ready(context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err
}

// Shutdown implements event.Output.
func (o *Output) Shutdown(context.Context) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.w != nil {
		_ = o.w.Flush()
	}
	if o.f != nil {
		_ = o.f.Close()
		o.f = nil
	}
}
