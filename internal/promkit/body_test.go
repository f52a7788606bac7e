package promkit

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestCappedReader(t *testing.T) {
	for _, c := range []struct {
		size, limit int
		tooLarge    bool
	}{{0, 10, false}, {10, 10, false}, {11, 10, true}, {1000, 10, true}, {9, 10, false}} {
		b, err := io.ReadAll(CappedReader(strings.NewReader(strings.Repeat("x", c.size)), int64(c.limit)))
		var tl *BodyTooLargeError
		if got := errors.As(err, &tl); got != c.tooLarge {
			t.Errorf("size %d limit %d: err %v", c.size, c.limit, err)
		}
		if len(b) > c.limit {
			t.Errorf("size %d limit %d: read %d bytes", c.size, c.limit, len(b))
		}
	}
	// A decoder reports the cap, not a truncated document.
	var v []int
	err := json.NewDecoder(CappedReader(strings.NewReader("["+strings.Repeat("1,", 10000)+"1]"), 1000)).Decode(&v)
	if err == nil || !strings.Contains(err.Error(), "larger than 1000 bytes") {
		t.Errorf("decoding past the cap: %v", err)
	}
}
