package walk

import (
	"cmp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
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
			Bucket{Name: OtherBucket, Counts: subdirs[1]})
	}
	var named []Bucket
	for name, c := range exts {
		named = append(named, Bucket{Name: strings.ToValidUTF8(name, "\uFFFD"), Counts: *c})
	}
	res.Extensions = topN(named, w.opts.TopExtensions, Bucket{Name: NoExtension, Counts: extNone},
		Bucket{Name: OtherBucket, Counts: extOver})
	return res
}

// topN keeps the n largest buckets by apparent bytes, adds the rest to other
// and returns them followed by fixed and other.
func topN(named []Bucket, n int, fixed, other Bucket) []Bucket {
	slices.SortFunc(named, func(a, b Bucket) int {
		if c := cmp.Compare(b.ApparentBytes, a.ApparentBytes); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	// Names that became equal after making them valid UTF-8 are merged.
	var out []Bucket
	for _, b := range named {
		if i := slices.IndexFunc(out, func(o Bucket) bool { return o.Name == b.Name }); i >= 0 {
			out[i].add(b.Counts)
			continue
		}
		if len(out) < n {
			out = append(out, b)
		} else {
			other.add(b.Counts)
		}
	}
	return append(out, fixed, other)
}

// subdirLabel turns a path relative to the root into a label value that
// cannot be taken for the "." and "other" buckets and is valid UTF-8.
func subdirLabel(rel string) string {
	rel = strings.TrimPrefix(rel, "/")
	if !utf8.ValidString(rel) {
		rel = strings.ToValidUTF8(rel, "\uFFFD")
	}
	if rel == OtherBucket || rel == NoExtension {
		return "./" + rel
	}
	return rel
}
