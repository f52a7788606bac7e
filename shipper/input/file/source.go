package file

import (
	"sync"

	"github.com/outrigger/outrigger/shipper/event"
	"github.com/outrigger/outrigger/shipper/registry"
)

// Source is one file identity being read. It owns the acknowledgements of
// the events made from it and commits offsets to the registry in file order.
type Source struct {
	id    string
	key   string // stable content identity (registry Entry.Key)
	path  string // where it was found first: names its stream
	dev   uint64
	inode uint64
	outs  []string
	reg   *registry.Registry
	// release is called with the bytes of every completed Ack (memory cap).
	release func(int64)
	// recycle takes back a read buffer an Ack kept, once the Ack completed.
	recycle func([]byte)
	// readBuf is the buffer of the read being handled (reading goroutine only).
	readBuf []byte

	// handler is the pipeline's per-file state (Config.Open). Only the
	// reading goroutine touches it.
	handler Handler

	mu        sync.Mutex
	curPath   string
	fpLen     int
	fp        string
	readOff   int64 // next byte to read; lines before it were handed out
	committed int64
	outStart  []int64 // per-output offsets loaded at start
	pending   []*pendingAck
	ended     bool // truncated, deleted or released: commits are ignored
	renamed   bool // its path no longer leads to it
	drained   bool // at EOF after being renamed
	running   bool // a goroutine reads it
	started   bool // a goroutine read it once
	seen      int  // scan generation that last saw it
	size      int64
}

type pendingAck struct {
	ack     *event.Ack
	done    bool
	outDone []bool
	buf     []byte // the read buffer the Ack's events point into, if it kept it
	onDone  func() // called once the Ack completed
}

// Key is a stable identity of the file's content for document ids: the
// registry id, or the original's for a copytruncate copy.
func (s *Source) Key() string {
	if s.key != "" {
		return s.key
	}
	return s.id
}

// Path is the path the file was first found at; it names the file's stream
// even after rotation renamed it.
func (s *Source) Path() string { return s.path }

// CurrentPath is where the file is now.
func (s *Source) CurrentPath() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.curPath
}

// OutputOffset is the offset output i had acknowledged when the source was
// resumed: lines ending at or before it need not be sent to i again.
func (s *Source) OutputOffset(i int) int64 {
	if i < len(s.outStart) {
		return s.outStart[i]
	}
	return 0
}

// ReadBuffer is the buffer of the read being handled: the Stable lines
// handed to the handler point into it. It is nil outside a handler call
// with lines, and once an Ack kept it.
func (s *Source) ReadBuffer() []byte { return s.readBuf }

// NewAck makes and tracks an Ack for events of this source ending at
// offset; call Arm on it after handing the events out. Acks complete in any
// order; offsets are committed in file order. Only the reading goroutine
// calls NewAck, so the queue is in file order. With keep, the Ack keeps the
// read buffer (ReadBuffer), so events may point into it without a copy: the
// reader takes a fresh one, and the buffer is reused only once the Ack
// completed; bytes should then count its whole capacity. onDone, when
// set, is called once the Ack completed (to reuse the events' memory).
func (s *Source) NewAck(offset, bytes int64, counts []int, keep bool, onDone func()) *event.Ack {
	a := event.NewAck(s, offset, bytes, counts)
	p := &pendingAck{ack: a, outDone: make([]bool, len(s.outs)), onDone: onDone}
	if keep && s.readBuf != nil {
		p.buf, s.readBuf = s.readBuf, nil
	}
	s.mu.Lock()
	s.pending = append(s.pending, p)
	s.mu.Unlock()
	return a
}

func (s *Source) find(a *event.Ack) *pendingAck {
	for _, p := range s.pending {
		if p.ack == a {
			return p
		}
	}
	return nil
}

// OutputDone implements event.AckOwner. With several outputs, the
// output's own offset (the end of its contiguous acknowledged prefix) is
// recorded at once, so that while another output lags, a restart resends
// to this one only what it lacks.
func (s *Source) OutputDone(a *event.Ack, output int) {
	s.mu.Lock()
	p := s.find(a)
	if p == nil {
		s.mu.Unlock()
		return
	}
	p.outDone[output] = true
	if len(s.outs) < 2 {
		s.mu.Unlock()
		return
	}
	off := s.committed
	for _, q := range s.pending {
		if !q.outDone[output] {
			break
		}
		off = q.ack.Offset
	}
	id, ended, name := s.id, s.ended, s.outs[output]
	s.mu.Unlock()
	if !ended {
		s.reg.CommitOutput(id, name, off)
	}
}

// AllDone implements event.AckOwner: it advances the committed offset over
// every completed Ack at the head of the queue.
func (s *Source) AllDone(a *event.Ack) {
	s.mu.Lock()
	var buf []byte
	var onDone func()
	if p := s.find(a); p != nil {
		p.done = true
		buf, p.buf = p.buf, nil
		onDone, p.onDone = p.onDone, nil
	}
	advanced := false
	for len(s.pending) > 0 && s.pending[0].done {
		s.committed = s.pending[0].ack.Offset
		s.pending[0] = nil
		s.pending = s.pending[1:]
		advanced = true
	}
	var outs map[string]int64
	if advanced && len(s.outs) > 1 {
		outs = make(map[string]int64, len(s.outs))
		for i, name := range s.outs {
			off := s.committed
			for _, p := range s.pending {
				if !p.outDone[i] {
					break
				}
				off = p.ack.Offset
			}
			outs[name] = off
		}
	}
	committed, ended := s.committed, s.ended
	s.mu.Unlock()
	if onDone != nil {
		onDone()
	}
	if buf != nil && s.recycle != nil {
		s.recycle(buf)
	}
	if s.release != nil {
		s.release(a.Bytes)
	}
	if advanced && !ended {
		s.reg.Commit(s.id, committed, outs)
	}
}

// Lag is the file's size minus the committed offset, as of the last look.
func (s *Source) Lag() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.size < s.committed {
		return 0
	}
	return s.size - s.committed
}
