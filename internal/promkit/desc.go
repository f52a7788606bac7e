package promkit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// descInfo is what an exposition needs from a Desc: client_golang keeps the
// family name, help and unit unexported, and prints them only in String.
type descInfo struct {
	name, help, unit string
	err              error
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

func (c *descCache) lookup(d *prometheus.Desc) descInfo {
	if d == nil {
		return descInfo{err: errors.New("metric without a Desc")}
	}
	c.mu.Lock()
	info, ok := c.cur[d]
	if !ok {
		if info, ok = c.old[d]; ok {
			c.store(d, info)
		}
	}
	c.mu.Unlock()
	if ok {
		return info
	}
	info = parseDesc(d)
	c.mu.Lock()
	c.store(d, info)
	c.mu.Unlock()
	return info
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

// parseDesc reads name, help and unit from Desc.String, which prints
// `Desc{fqName: %q, help: %q, unit: %q, constLabels: ..., variableLabels: ...}`
// (client_golang before 1.23 has no unit).
func parseDesc(d *prometheus.Desc) descInfo {
	if err := d.Err(); err != nil {
		return descInfo{err: fmt.Errorf("invalid Desc: %w", err)}
	}
	s := d.String()
	var info descInfo
	var err error
	rest, ok := strings.CutPrefix(s, "Desc{fqName: ")
	if ok {
		info.name, rest, err = unquotePrefix(rest)
	}
	if ok && err == nil {
		if rest, ok = strings.CutPrefix(rest, ", help: "); ok {
			info.help, rest, err = unquotePrefix(rest)
		}
	}
	if ok && err == nil {
		if after, found := strings.CutPrefix(rest, ", unit: "); found {
			info.unit, _, err = unquotePrefix(after)
		}
	}
	if !ok || err != nil || info.name == "" {
		return descInfo{err: fmt.Errorf("reading Desc %s: unexpected format", s)}
	}
	return info
}

func unquotePrefix(s string) (value, rest string, err error) {
	q, err := strconv.QuotedPrefix(s)
	if err != nil {
		return "", s, err
	}
	value, err = strconv.Unquote(q)
	return value, s[len(q):], err
}
