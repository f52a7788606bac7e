package promkit

import (
	"errors"
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// descInfo is what an exposition needs from a Desc: its family's name and
// help, which client_golang keeps unexported. A registry tells them: the
// family it gathers from one metric of the Desc (describe).
type descInfo struct {
	name, help string
	err        error
}

const (
	// maxDescGeneration bounds one generation of the desc cache: daemons
	// hold a few hundred Descs.
	maxDescGeneration = 2048
	// descScrapesPerGeneration is how many scrapes a generation lasts, so
	// that Descs made per scrape (the runner's own, a custom query's) are let
	// go after a few scrapes instead of being held until the cache fills.
	descScrapesPerGeneration = 4
)

// descCache maps a Desc pointer to its parsed info. It keeps two generations:
// when the current one is full or has lasted its scrapes it becomes the old
// one, and a hit in the old one moves the entry back, so Descs still in use
// survive and dead ones are let go. A Desc in the cache is kept alive by it,
// which also means its address cannot be reused by another Desc while the
// entry exists.
type descCache struct {
	mu       sync.Mutex
	cur, old map[*prometheus.Desc]descInfo
	scrapes  int
}

// lookup returns the info of m's Desc d. ok is false when m, the metric at
// hand, could not tell it (a registry refuses m alone: its Write fails, it
// has no value or a bad label): nothing is cached then, and the next metric
// of d is asked again.
func (c *descCache) lookup(d *prometheus.Desc, m prometheus.Metric) (info descInfo, ok bool) {
	if d == nil {
		return descInfo{err: errors.New("metric without a Desc")}, true
	}
	c.mu.Lock()
	info, ok = c.cur[d]
	if !ok {
		if info, ok = c.old[d]; ok {
			c.store(d, info)
		}
	}
	c.mu.Unlock()
	if ok {
		return info, true
	}
	if info, ok = describe(d, m); !ok {
		return info, false
	}
	c.mu.Lock()
	c.store(d, info)
	c.mu.Unlock()
	return info, true
}

// store adds an entry; c.mu must be held.
func (c *descCache) store(d *prometheus.Desc, info descInfo) {
	if c.cur == nil || len(c.cur) >= maxDescGeneration {
		c.rotate()
	}
	c.cur[d] = info
}

// rotate starts a new generation; c.mu must be held.
func (c *descCache) rotate() {
	c.old, c.cur = c.cur, make(map[*prometheus.Desc]descInfo, len(c.cur))
	c.scrapes = 0
}

// scraped marks the end of a scrape's lookups.
func (c *descCache) scraped() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.scrapes++; c.scrapes >= descScrapesPerGeneration {
		c.rotate()
	}
}

// len returns the number of cached entries (for tests).
func (c *descCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.cur) + len(c.old)
}

// describe reads the name and help of d's family from the family a
// registry gathers from m alone. An invalid Desc is an error to cache (ok
// true); a metric the registry refuses alone says nothing of d (ok false,
// with the registry's error).
func describe(d *prometheus.Desc, m prometheus.Metric) (info descInfo, ok bool) {
	if err := d.Err(); err != nil {
		return descInfo{err: fmt.Errorf("invalid Desc: %w", err)}, true
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(Metrics{m}) // unchecked: no Desc to collide with
	mfs, err := reg.Gather()
	switch {
	case err != nil:
		return descInfo{err: err}, false
	case len(mfs) != 1:
		return descInfo{err: fmt.Errorf("a registry made %d families of one metric", len(mfs))}, false
	}
	return descInfo{name: mfs[0].GetName(), help: mfs[0].GetHelp()}, true
}
