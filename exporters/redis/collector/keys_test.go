package collector

import (
	"fmt"
	"testing"

	"github.com/outrigger/outrigger/exporters/redis/config"
)

func TestKeysByDB(t *testing.T) {
	got := keysByDB([]config.SingleKey{{DB: 3, Key: "b"}, {DB: 0, Key: "q"}, {DB: 3, Key: "a"}, {DB: 3, Key: "b"}})
	if fmt.Sprint(got) != "[{0 [q]} {3 [b a]}]" {
		t.Errorf("keysByDB = %v", got)
	}
}

func TestKeyReading(t *testing.T) {
	for _, tt := range []struct {
		r                  keyReading
		size, hits, misses float64
	}{
		{keyReading{typ: "list", length: 4, measured: true}, 4, 2, 0},
		{keyReading{typ: "none"}, 0, 0, 1},
		{keyReading{typ: "ReJSON-RL"}, 0, 1, 0}, // a module type: TYPE only
	} {
		h, m := tt.r.lookups()
		if s := tt.r.size(); s != tt.size || h != tt.hits || m != tt.misses {
			t.Errorf("%+v: size %v, lookups %v/%v; want %v, %v/%v", tt.r, s, h, m, tt.size, tt.hits, tt.misses)
		}
	}
}
