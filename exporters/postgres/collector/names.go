package collector

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/outrigger/outrigger/internal/promkit"
)

// stickyNames chooses which open-ended names (application, user) get their
// own label value: up to max names, the busiest first, and a name keeps its
// slot while it was seen within retention, so series do not flap between a
// name and "other" from one scrape to the next.
type stickyNames struct {
	max       int
	retention time.Duration

	mu    sync.Mutex
	slots map[string]time.Time // name -> last seen
}

func newStickyNames(max int, retention time.Duration) *stickyNames {
	return &stickyNames{max: max, retention: retention, slots: map[string]time.Time{}}
}

// update takes this scrape's counts by name and returns the label for a name.
func (s *stickyNames) update(now time.Time, counts map[string]int) func(string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, seen := range s.slots {
		if counts[name] > 0 {
			s.slots[name] = now
		} else if now.Sub(seen) > s.retention {
			delete(s.slots, name)
		}
	}
	if len(s.slots) < s.max {
		var fresh []string
		for name := range counts {
			if _, ok := s.slots[name]; !ok && name != promkit.Other {
				fresh = append(fresh, name)
			}
		}
		busiest, _ := promkit.TopN(fresh, s.max-len(s.slots), promkit.ByValue(
			func(name string) float64 { return float64(counts[name]) }, func(name string) string { return name }))
		for _, name := range busiest {
			s.slots[name] = now
		}
	}
	kept := make(map[string]bool, len(s.slots))
	for name := range s.slots {
		kept[name] = true
	}
	return func(name string) string {
		if kept[name] {
			return name
		}
		return promkit.Other
	}
}

// stickyGroups remembers label groups seen recently so that their series are
// reported as 0 rather than vanishing when the sessions go away. It holds at
// most max groups; beyond that the oldest are forgotten first.
type stickyGroups struct {
	retention time.Duration
	max       int

	mu   sync.Mutex
	seen map[group]time.Time
}

// group is one (database, user, application) combination of the pool view.
type group struct{ datname, usename, app string }

func newStickyGroups(retention time.Duration, max int) *stickyGroups {
	return &stickyGroups{retention: retention, max: max, seen: map[group]time.Time{}}
}

// update records the groups seen now and returns every group to report.
func (s *stickyGroups) update(now time.Time, current map[group]bool) []group {
	s.mu.Lock()
	defer s.mu.Unlock()
	for g := range current {
		s.seen[g] = now
	}
	for g, at := range s.seen {
		if now.Sub(at) > s.retention {
			delete(s.seen, g)
		}
	}
	all := make([]group, 0, len(s.seen))
	for g := range s.seen {
		all = append(all, g)
	}
	// The most recently seen groups are kept, the others forgotten.
	keep, forget := promkit.TopN(all, s.max, func(a, b group) int {
		return cmp.Or(s.seen[b].Compare(s.seen[a]), compareGroups(a, b))
	})
	for _, g := range forget {
		delete(s.seen, g)
	}
	slices.SortFunc(keep, compareGroups)
	return keep
}

func compareGroups(a, b group) int {
	return cmp.Or(cmp.Compare(a.datname, b.datname), cmp.Compare(a.usename, b.usename), cmp.Compare(a.app, b.app))
}
