package collector

import (
	"sort"
	"sync"
	"time"
)

// Other is the label value that stands for every name beyond the top N.
const Other = "other"

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
			if _, ok := s.slots[name]; !ok && name != Other {
				fresh = append(fresh, name)
			}
		}
		sort.Slice(fresh, func(i, j int) bool {
			if counts[fresh[i]] != counts[fresh[j]] {
				return counts[fresh[i]] > counts[fresh[j]]
			}
			return fresh[i] < fresh[j]
		})
		for _, name := range fresh {
			if len(s.slots) >= s.max {
				break
			}
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
		return Other
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
	out := make([]group, 0, len(s.seen))
	for g := range s.seen {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool {
		ti, tj := s.seen[out[i]], s.seen[out[j]]
		if !ti.Equal(tj) {
			return ti.After(tj)
		}
		return lessGroup(out[i], out[j])
	})
	if len(out) > s.max {
		for _, g := range out[s.max:] {
			delete(s.seen, g)
		}
		out = out[:s.max]
	}
	sort.Slice(out, func(i, j int) bool { return lessGroup(out[i], out[j]) })
	return out
}

func lessGroup(a, b group) bool {
	if a.datname != b.datname {
		return a.datname < b.datname
	}
	if a.usename != b.usename {
		return a.usename < b.usename
	}
	return a.app < b.app
}
