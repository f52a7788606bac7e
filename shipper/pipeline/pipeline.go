package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/outrigger/outrigger/shipper/decode"
	"github.com/outrigger/outrigger/shipper/event"
	"github.com/outrigger/outrigger/shipper/input/file"
	"github.com/outrigger/outrigger/shipper/process"
	"github.com/outrigger/outrigger/shipper/registry"
)

// Input is one file input with its processing.
type Input struct {
	File      file.Config
	Processor *process.Processor
	Multiline *decode.MultilineConfig
	// Discovery, when set, adds files that no glob names (container logs)
	// and labels their streams.
	Discovery Discovery
	// DockerJSON decodes each line as a json-file log record first.
	DockerJSON bool
	// Container decodes each line as a container runtime's record first
	// (CRI or json-file; DockerJSON means decode.ContainerDocker).
	Container decode.ContainerFormat
}

// Discovery finds files to read beyond the globs.
type Discovery interface {
	// Refresh looks once (the pipeline calls it before the first scan).
	Refresh(ctx context.Context) error
	// Run looks again until ctx ends.
	Run(ctx context.Context)
	// Paths are the files found.
	Paths() []string
	// Labels are the stream labels of the file at path.
	Labels(path string) []event.Label
	// Err is the last error looking (nil when fine).
	Err() error
}

// Metadata is implemented by a discovery whose labels may change while a
// file is read (pod labels from the Kubernetes API) and which may ask for
// a file to be skipped (a pod's opt-out annotation).
type Metadata interface {
	// Generation changes whenever Labels or Skip may answer otherwise.
	Generation() uint64
	// Skip says the file's lines are not shipped (they are acknowledged).
	Skip(path string) bool
	// NotReady says why /ready fails (nil when it does not).
	NotReady() error
}

// Config configures a pipeline.
type Config struct {
	Inputs          []Input
	Outputs         []event.Output
	RegistryPath    string
	RegistryFlush   time.Duration
	MemoryLimit     int64
	ShutdownTimeout time.Duration
	Logger          *slog.Logger
	// Dropped is the outputs' log_shipper_dropped_lines_total: lines dropped
	// in processing count there as output "none".
	Dropped *prometheus.CounterVec
	// DecodeErrors is the processors' log_shipper_decode_errors_total:
	// container records that are not records of their file's format count there.
	DecodeErrors prometheus.Counter
}

// Pipeline runs inputs into outputs.
type Pipeline struct {
	cfg    Config
	reg    *registry.Registry
	budget *budget
	// evbufs are the events of completed Acks, for reuse.
	evbufs  sync.Pool
	tailers []*file.Tailer
	discs   []Discovery
	// tailerDisc[i] is the discovery naming tailers[i]'s files (nil: globs only).
	tailerDisc []Discovery
	m          *metrics
	log        *slog.Logger
}

// eventOverhead is what one event costs beyond its line, for the memory cap.
const eventOverhead = 160

// New opens the registry and builds the inputs; the pipeline's metrics
// (its own counters, per-file lag, the registry's age) are registered on
// reg (nil: not registered).
func New(cfg Config, reg prometheus.Registerer) (*Pipeline, error) {
	if len(cfg.Outputs) == 0 {
		return nil, errors.New("pipeline: no output")
	}
	if cfg.Dropped == nil || cfg.DecodeErrors == nil {
		return nil, errors.New("pipeline: Config.Dropped and Config.DecodeErrors are required")
	}
	if cfg.RegistryFlush == 0 {
		cfg.RegistryFlush = time.Second
	}
	if cfg.MemoryLimit == 0 {
		cfg.MemoryLimit = 32 << 20
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 10 * time.Second
	}
	offsets, err := registry.Open(cfg.RegistryPath)
	if err != nil {
		return nil, err
	}
	m := newMetrics(reg, cfg.Dropped, cfg.DecodeErrors)
	p := &Pipeline{cfg: cfg, reg: offsets, m: m, log: cfg.Logger}
	p.budget = newBudget(cfg.MemoryLimit, func(n int64) { m.buffered.Set(float64(n)) })
	m.bufferLimit.Set(float64(cfg.MemoryLimit))
	names := make([]string, len(cfg.Outputs))
	for i, o := range cfg.Outputs {
		names[i] = o.Name()
	}
	for _, in := range cfg.Inputs {
		fc := in.File
		fc.Outputs, fc.Registry, fc.Release = names, offsets, p.budget.release
		fc.Logger = cfg.Logger
		h := &handler{p: p, proc: in.Processor, multiline: in.Multiline, disc: in.Discovery, format: in.Container,
			maxLine: fc.MaxLineBytes, partialTimeout: fc.PartialLineTimeout}
		if h.partialTimeout == 0 {
			h.partialTimeout = 5 * time.Second
		}
		// Before a rotated file is let go (close_renamed_after, 5s).
		renamed := fc.CloseRenamedAfter
		if renamed == 0 {
			renamed = 5 * time.Second
		}
		h.partialTimeout = min(h.partialTimeout, renamed/2)
		if h.format == decode.ContainerNone && in.DockerJSON {
			h.format = decode.ContainerDocker
		}
		h.meta, _ = in.Discovery.(Metadata)
		fc.Open = h.open
		if in.Discovery != nil {
			fc.Paths = in.Discovery.Paths
			p.discs = append(p.discs, in.Discovery)
		}
		p.tailers = append(p.tailers, file.New(fc))
		p.tailerDisc = append(p.tailerDisc, in.Discovery)
	}
	if reg != nil {
		if err := reg.Register(&collector{p: p}); err != nil {
			return nil, fmt.Errorf("pipeline: registering its collector: %w", err)
		}
	}
	return p, nil
}

// Run runs until ctx ends, then drains the outputs within the shutdown
// timeout and saves the registry.
func (p *Pipeline) Run(ctx context.Context) error {
	for i, o := range p.cfg.Outputs {
		if err := o.Start(ctx); err != nil {
			for _, started := range p.cfg.Outputs[:i] {
				started.Shutdown(ctx)
			}
			return fmt.Errorf("starting output %s: %w", o.Name(), err)
		}
	}
	var wg sync.WaitGroup
	for i, t := range p.tailers {
		d := p.tailerDisc[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			if d != nil {
				// This input's files come from its discovery: the first
				// listing (bounded per call) runs here, beside the other
				// inputs, which never wait for an engine that does not answer.
				if err := d.Refresh(ctx); err != nil && ctx.Err() == nil {
					p.log.Warn("discovering containers", "err", err)
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					d.Run(ctx)
				}()
			}
			t.Run(ctx)
		}()
	}
	flushDone := make(chan struct{})
	go func() {
		defer close(flushDone)
		tick := time.NewTicker(p.cfg.RegistryFlush)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if err := p.reg.Save(); err != nil {
					p.log.Error("saving registry", "err", err)
				}
			}
		}
	}()
	<-ctx.Done()
	wg.Wait()
	<-flushDone
	drain, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.ShutdownTimeout)
	defer cancel()
	var owg sync.WaitGroup
	for _, o := range p.cfg.Outputs {
		owg.Add(1)
		go func() {
			defer owg.Done()
			o.Shutdown(drain)
		}()
	}
	owg.Wait()
	if err := p.reg.Save(); err != nil {
		return fmt.Errorf("saving registry at shutdown: %w", err)
	}
	return nil
}

// Ready reports whether every output can deliver.
func (p *Pipeline) Ready(ctx context.Context) error {
	var errs []error
	for _, d := range p.discs {
		if md, ok := d.(Metadata); ok {
			if err := md.NotReady(); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if err := d.Err(); err != nil {
			errs = append(errs, errors.New("container discovery: the Docker engine does not answer"))
		}
	}
	for _, o := range p.cfg.Outputs {
		if err := o.Ready(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// eventBuf is the memory of the events of one dispatch; it is reused once
// their Ack completed (every output is then done with them).
type eventBuf struct {
	events []event.Event
	ptrs   []*event.Event
}

func (p *Pipeline) eventBuf(n int) *eventBuf {
	eb, _ := p.evbufs.Get().(*eventBuf)
	if eb == nil || cap(eb.events) < n {
		eb = &eventBuf{events: make([]event.Event, n), ptrs: make([]*event.Event, 0, n)}
	}
	eb.events = eb.events[:n]
	return eb
}

func (p *Pipeline) putEventBuf(eb *eventBuf) {
	clear(eb.events)
	clear(eb.ptrs)
	eb.ptrs = eb.ptrs[:0]
	p.evbufs.Put(eb)
}

// sourceState is the pipeline's state of one file: its file.Handler.
type sourceState struct {
	h   *handler
	src *file.Source
	// recs and ends are scratch space of handle and dispatch.
	recs    []pending
	ends    []int64
	proc    *process.State
	stderr  *process.State // container logs: stderr's own stream
	grouper *decode.Grouper
	// container unwraps runtime records (nil for plain files).
	container *decode.ContainerDecoder
	lines     []decode.ContainerLine
	// gen is the Metadata generation the labels and skip were taken at.
	gen  uint64
	skip bool
}

type handler struct {
	p         *Pipeline
	proc      *process.Processor
	multiline *decode.MultilineConfig
	disc      Discovery
	meta      Metadata
	format    decode.ContainerFormat
	maxLine   int
	// partialTimeout: a container line still waiting for its last part
	// this long after its first is shipped as it is.
	partialTimeout time.Duration
}

type pending struct {
	data        []byte
	offset, end int64
	truncated   bool
	stderr      bool
	timeNs      int64 // the runtime's stamp (container logs), 0 otherwise
	// stable: data stays valid without a copy, either in the read buffer
	// (file.Line.Stable) or in memory of its own.
	stable bool
}

// open makes the state of a file when it is first read.
func (h *handler) open(src *file.Source) file.Handler {
	st := &sourceState{h: h, src: src}
	if h.format != decode.ContainerNone {
		st.container = decode.NewContainerDecoder(h.format, h.maxLine)
	}
	if h.multiline != nil {
		st.grouper = decode.NewGrouper(*h.multiline)
	}
	h.label(src, st)
	return st
}

// Handle processes one read of the file; it runs on the file's goroutine.
func (st *sourceState) Handle(ctx context.Context, lines []file.Line, eof bool) error {
	h, src := st.h, st.src
	if h.meta != nil && h.meta.Generation() != st.gen {
		h.label(src, st)
	}
	if eof {
		return h.idle(ctx, src, st)
	}
	m := h.p.m
	m.readLines.Add(float64(len(lines)))
	if st.skip {
		m.dropped.WithLabelValues("none", "opted_out").Add(float64(len(lines)))
		return h.dispatch(ctx, src, st, nil, lines[len(lines)-1].End)
	}
	if st.container != nil {
		recs, commit := h.unwrap(st, lines)
		return h.dispatch(ctx, src, st, recs, commit)
	}
	recs := st.recs[:0]
	defer func() { clear(recs); st.recs = recs[:0] }()
	recs, commit := h.frame(st, lines, recs)
	return h.dispatch(ctx, src, st, recs, commit)
}

// idle ships what waited on a timeout when a read found no new data: a
// container line whose last part did not come, a multiline group.
func (h *handler) idle(ctx context.Context, src *file.Source, st *sourceState) error {
	if st.container != nil && st.container.Open() {
		return h.flushContainer(ctx, src, st)
	}
	if st.grouper == nil {
		return nil
	}
	var recs []pending
	st.grouper.Tick(time.Now(), func(g decode.Group) {
		recs = append(recs, pending{data: append([]byte(nil), g.Data...), offset: g.Offset, end: g.End, truncated: g.Truncated, stable: true})
	})
	if len(recs) == 0 {
		return nil
	}
	return h.dispatch(ctx, src, st, recs, recs[len(recs)-1].end)
}

// frame makes records of the lines of a plain file, grouped when
// multiline is set; the commit offset stays before an open group.
func (h *handler) frame(st *sourceState, lines []file.Line, recs []pending) ([]pending, int64) {
	m := h.p.m
	now := time.Now()
	for _, l := range lines {
		if l.Truncated {
			m.truncated.Inc()
		}
		if l.Repaired {
			m.repairedUTF8.Inc()
		}
		if st.grouper != nil {
			st.grouper.Add(l.Data, l.Offset, l.End, now, func(g decode.Group) {
				recs = append(recs, pending{data: append([]byte(nil), g.Data...), offset: g.Offset, end: g.End, truncated: g.Truncated, stable: true})
			})
			continue
		}
		recs = append(recs, pending{data: l.Data, offset: l.Offset, end: l.End, truncated: l.Truncated, stable: l.Stable})
	}
	commit := lines[len(lines)-1].End
	if st.grouper != nil {
		if open, start := st.grouper.Pending(); open {
			commit = start
		}
	}
	return recs, commit
}

// dispatch makes events of records, hands them to the outputs and tracks
// their acknowledgement up to commit. When the read buffer is nearly all
// lines, the Ack keeps the buffer and events point into it; otherwise the
// lines are copied into memory of their own (the reader reuses its buffer).
func (h *handler) dispatch(ctx context.Context, src *file.Source, st *sourceState, recs []pending, commit int64) error {
	p := h.p
	m := p.m
	var lineBytes, stableBytes int64
	for _, r := range recs {
		lineBytes += int64(len(r.data))
		if r.stable {
			stableBytes += int64(len(r.data))
		}
	}
	// Keep the read buffer only when it is nearly all lines: the memory
	// cap then counts its whole capacity, at most an eighth more than the
	// lines (a small read, as when tailing, is copied instead).
	readBuf := src.ReadBuffer()
	keep := readBuf != nil && stableBytes >= int64(cap(readBuf))-int64(cap(readBuf))/8
	copyBytes, size := lineBytes, lineBytes
	if keep {
		copyBytes -= stableBytes
		size = copyBytes + int64(cap(readBuf))
	}
	size += eventOverhead * int64(len(recs))
	if err := p.budget.acquire(ctx, size); err != nil {
		return err
	}
	eb := p.eventBuf(len(recs))
	events, ptrs, ends := eb.events, eb.ptrs[:0], st.ends[:0]
	var buf []byte
	if copyBytes > 0 {
		buf = make([]byte, 0, copyBytes)
	}
	path := src.Path()
	for i, r := range recs {
		ev := &events[i]
		if len(r.data) == 0 {
			m.dropped.WithLabelValues("none", "empty").Inc()
			continue
		}
		ps := st.proc
		if r.stderr {
			ps = st.stderr
		}
		if h.proc.ProcessAt(ps, r.data, r.timeNs, ev) == process.Drop {
			m.dropped.WithLabelValues("none", "condition").Inc()
			continue
		}
		if r.truncated {
			ev.Metadata = append(ev.Metadata, event.Label{Name: "truncated", Value: "true"})
		}
		if !keep || !r.stable {
			start := len(buf)
			buf = append(buf, ev.Line...)
			ev.Line = buf[start:len(buf):len(buf)]
		}
		ev.Source, ev.SourceKey, ev.Offset = path, src.Key(), r.offset
		ptrs = append(ptrs, ev)
		ends = append(ends, r.end)
	}
	outs := p.cfg.Outputs
	counts := make([]int, len(outs))
	perOut := make([][]*event.Event, len(outs))
	for i := range outs {
		skip := src.OutputOffset(i)
		if len(ends) == 0 || ends[0] > skip {
			perOut[i], counts[i] = ptrs, len(ptrs)
			continue
		}
		for j, ev := range ptrs {
			if ends[j] > skip {
				perOut[i] = append(perOut[i], ev)
			}
		}
		counts[i] = len(perOut[i])
	}
	eb.ptrs, st.ends = ptrs, ends
	ack := src.NewAck(commit, size, counts, keep, func() { p.putEventBuf(eb) })
	for _, ev := range ptrs {
		ev.Ack = ack
	}
	for i, o := range outs {
		if counts[i] > 0 && !o.Send(ctx, perOut[i]) {
			return ctx.Err()
		}
	}
	ack.Arm()
	return nil
}

// flushContainer ships a line whose last part did not come within the
// partial line timeout.
func (h *handler) flushContainer(ctx context.Context, src *file.Source, st *sourceState) error {
	decoded, commit := st.container.Flush(h.partialTimeout, st.lines[:0])
	if len(decoded) == 0 {
		return nil
	}
	recs := make([]pending, 0, len(decoded))
	for _, l := range decoded {
		recs = append(recs, pending{data: l.Text, offset: l.Offset, end: l.End, stderr: l.Stderr, timeNs: l.TimeNs,
			truncated: l.Truncated, stable: l.Stable})
	}
	clear(decoded)
	st.lines = decoded[:0]
	return h.dispatch(ctx, src, st, recs, commit)
}

// label (re)makes the stream states of a file from its discovery's labels.
func (h *handler) label(src *file.Source, st *sourceState) {
	var labels []event.Label
	if h.meta != nil {
		st.gen = h.meta.Generation()
		st.skip = h.meta.Skip(src.Path())
	}
	if h.disc != nil {
		labels = h.disc.Labels(src.Path())
	}
	st.proc = h.proc.NewState(src.Path(), labels...)
	st.stderr = nil
	if st.container != nil {
		st.proc = h.proc.NewState(src.Path(), append(labels, event.Label{Name: "stream", Value: "stdout"})...)
		st.stderr = h.proc.NewState(src.Path(), append(labels, event.Label{Name: "stream", Value: "stderr"})...)
	}
}

// unwrap decodes container runtime records (CRI or json-file): a line the
// runtime split in parts is joined (up to the line cap) and the commit
// offset stays before its first part until its end is read.
func (h *handler) unwrap(st *sourceState, lines []file.Line) ([]pending, int64) {
	decoded := st.lines[:0]
	for _, l := range lines {
		decoded = st.container.Add(decoded, l.Data, l.Offset, l.End, l.Truncated, l.Stable)
	}
	commit := st.container.Commit()
	recs := make([]pending, 0, len(decoded))
	for _, l := range decoded {
		if l.Undecoded {
			h.p.m.decodeErrors.Inc()
		}
		recs = append(recs, pending{data: l.Text, offset: l.Offset, end: l.End, stderr: l.Stderr, timeNs: l.TimeNs,
			truncated: l.Truncated, stable: l.Stable})
	}
	clear(decoded)
	st.lines = decoded[:0]
	return recs, commit
}
