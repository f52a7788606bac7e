package decode

import (
	"regexp"
	"time"
)

// MultilineConfig groups lines the way Filebeat's multiline "pattern" mode
// does: with Negate false and Match "after", a line matching Pattern is
// appended to the line before it (continuation lines); with Negate true, a
// line NOT matching is (e.g. Pattern `^\d{4}-` for records that start with a
// date). Match "before" appends to the next line instead.
type MultilineConfig struct {
	Pattern  *regexp.Regexp
	Negate   bool
	Before   bool
	MaxLines int
	MaxBytes int
	Timeout  time.Duration
}

// Group is one multiline record.
type Group struct {
	Offset, End int64
	Data        []byte
	Lines       int
	Truncated   bool
}

// Grouper holds the record being built for one file.
type Grouper struct {
	cfg     MultilineConfig
	cur     Group
	started time.Time
	open    bool
}

// NewGrouper returns a Grouper.
func NewGrouper(cfg MultilineConfig) *Grouper {
	if cfg.MaxLines == 0 {
		cfg.MaxLines = 500
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = 10 << 20
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	return &Grouper{cfg: cfg}
}

// Pending reports whether a record is open and the offset where it starts.
func (g *Grouper) Pending() (bool, int64) { return g.open, g.cur.Offset }

// Add adds a line and calls emit for every record it completes.
func (g *Grouper) Add(data []byte, off, end int64, now time.Time, emit func(Group)) {
	cont := g.cfg.Pattern.Match(data) != g.cfg.Negate
	if g.cfg.Before {
		// The line belongs to the next one when it matches: it ends a
		// record when it does not.
		g.append(data, off, end, now)
		if !cont {
			g.flush(emit)
		}
		return
	}
	if !cont || !g.open || g.cur.Lines >= g.cfg.MaxLines {
		g.flush(emit)
	}
	g.append(data, off, end, now)
}

func (g *Grouper) append(data []byte, off, end int64, now time.Time) {
	if !g.open {
		g.open, g.started = true, now
		g.cur = Group{Offset: off, Data: g.cur.Data[:0]}
	} else {
		if len(g.cur.Data)+1+len(data) > g.cfg.MaxBytes {
			g.cur.Truncated = true
			g.cur.End = end
			g.cur.Lines++
			return
		}
		g.cur.Data = append(g.cur.Data, '\n')
	}
	g.cur.Data = append(g.cur.Data, data...)
	g.cur.End = end
	g.cur.Lines++
}

// Tick emits the open record if it waited longer than the timeout.
func (g *Grouper) Tick(now time.Time, emit func(Group)) {
	if g.open && now.Sub(g.started) >= g.cfg.Timeout {
		g.flush(emit)
	}
}

func (g *Grouper) flush(emit func(Group)) {
	if !g.open {
		return
	}
	g.open = false
	emit(g.cur)
	g.cur.Truncated = false
}
