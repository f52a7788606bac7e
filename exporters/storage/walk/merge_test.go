package walk

import (
	"reflect"
	"testing"

	"github.com/outrigger/outrigger/internal/promkit"
)

func b(name string, bytes, files int64) Bucket {
	return Bucket{Name: name, Counts: Counts{ApparentBytes: bytes, Files: files}}
}

// topN keeps the largest by apparent bytes (ties by name), sums the rest
// into "other", merges names that are the same series first, and ends with
// the fixed bucket and "other".
func TestTopNFoldsTheRestIntoOther(t *testing.T) {
	for _, c := range []struct {
		name  string
		in    []Bucket
		n     int
		other Bucket
		want  []Bucket
	}{
		{"fewer than n", []Bucket{b("a", 1, 1), b("b", 2, 1)}, 3, b(promkit.Other, 0, 0),
			[]Bucket{b("b", 2, 1), b("a", 1, 1), b(".", 5, 5), b(promkit.Other, 0, 0)}},
		{"the rest in other", []Bucket{b("a", 1, 1), b("b", 3, 1), b("c", 2, 2), b("d", 9, 1)}, 2, b(promkit.Other, 4, 4),
			[]Bucket{b("d", 9, 1), b("b", 3, 1), b(".", 5, 5), b(promkit.Other, 7, 7)}},
		{"ties by name", []Bucket{b("y", 2, 1), b("x", 2, 1), b("z", 2, 1)}, 2, b(promkit.Other, 0, 0),
			[]Bucket{b("x", 2, 1), b("y", 2, 1), b(".", 5, 5), b(promkit.Other, 2, 1)}},
		// Two names that became "a\uFFFD": one series of 6 bytes, larger than b's 5.
		{"same names merged before ranking", []Bucket{b("a\uFFFD", 4, 1), b("b", 5, 1), b("a\uFFFD", 2, 1)}, 1, b(promkit.Other, 0, 0),
			[]Bucket{b("a\uFFFD", 6, 2), b(".", 5, 5), b(promkit.Other, 5, 1)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := topN(c.in, c.n, b(".", 5, 5), c.other)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got  %v\nwant %v", got, c.want)
			}
		})
	}
}
