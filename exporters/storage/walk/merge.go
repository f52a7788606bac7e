package walk

import (
	"cmp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/outrigger/outrigger/internal/promkit"
)

// merge sums the workers' counters into a Result with bounded breakdowns.
func (w *walker) merge(workers []*worker) *Result {
	res := &Result{HardlinkSetFull: w.linkFull}
	subdirs := make([]Counts, len(w.buckets))
	exts := map[string]*Counts{}
	var extNone, extOver Counts
	haveFile := false
	var oldest, newest int64
	for _, wk := range workers {
		res.Totals.add(wk.tot)
		res.UnreadableDirs += wk.unreadable
		res.StatErrors += wk.statErrs
		res.Vanished += wk.vanished
		res.Cycles += wk.cycles
		res.batches += wk.batches
		for i, c := range wk.subdirs {
			subdirs[i].add(c)
		}
		for key, c := range wk.exts {
			name := key.String()
			if sum, ok := exts[name]; ok {
				sum.add(*c)
			} else if len(exts) < w.opts.MaxExtensions {
				cc := *c
				exts[name] = &cc
			} else {
				extOver.add(*c)
			}
		}
		extNone.add(wk.extNone)
		extOver.add(wk.extOver)
		if wk.haveFile {
			if !haveFile || wk.oldest < oldest {
				oldest = wk.oldest
			}
			if !haveFile || wk.newest > newest {
				newest = wk.newest
			}
			haveFile = true
		}
	}
	if haveFile {
		res.OldestMtime, res.NewestMtime = time.Unix(0, oldest), time.Unix(0, newest)
	}
	if w.opts.SubdirDepth > 0 {
		var named []Bucket
		for i := 2; i < len(w.buckets); i++ {
			named = append(named, Bucket{Name: subdirLabel(w.buckets[i]), Counts: subdirs[i]})
		}
		res.Subdirs = topN(named, w.opts.TopSubdirs, Bucket{Name: RootBucket, Counts: subdirs[0]},
			Bucket{Name: promkit.Other, Counts: subdirs[1]})
	}
	var named []Bucket
	for name, c := range exts {
		named = append(named, Bucket{Name: strings.ToValidUTF8(name, "\uFFFD"), Counts: *c})
	}
	res.Extensions = topN(named, w.opts.TopExtensions, Bucket{Name: NoExtension, Counts: extNone},
		Bucket{Name: promkit.Other, Counts: extOver})
	return res
}

// topN keeps the n largest buckets by apparent bytes (promkit.TopN), adds
// the rest to other and returns them followed by fixed and other.
func topN(named []Bucket, n int, fixed, other Bucket) []Bucket {
	keep, rest := promkit.TopN(mergeSameNames(named), n, byApparentBytes)
	for _, b := range rest {
		other.add(b.Counts)
	}
	return append(keep, fixed, other)
}

// byApparentBytes is the order of a breakdown: larger apparent size first,
// then the smaller name.
func byApparentBytes(a, b Bucket) int {
	if c := cmp.Compare(b.ApparentBytes, a.ApparentBytes); c != 0 {
		return c
	}
	return strings.Compare(a.Name, b.Name)
}

// mergeSameNames sums buckets whose names became equal when made valid
// UTF-8: they are one series, ranked by their sum. The result is sorted by
// name.
func mergeSameNames(bs []Bucket) []Bucket {
	slices.SortFunc(bs, func(a, b Bucket) int { return strings.Compare(a.Name, b.Name) })
	out := bs[:0]
	for _, b := range bs {
		if len(out) > 0 && out[len(out)-1].Name == b.Name {
			out[len(out)-1].add(b.Counts)
			continue
		}
		out = append(out, b)
	}
	return out
}

// subdirLabel turns a path relative to the root into a label value that
// cannot be taken for the "." and "other" buckets and is valid UTF-8.
func subdirLabel(rel string) string {
	rel = strings.TrimPrefix(rel, "/")
	if !utf8.ValidString(rel) {
		rel = strings.ToValidUTF8(rel, "\uFFFD")
	}
	if rel == promkit.Other || rel == NoExtension {
		return "./" + rel
	}
	return rel
}
