package lokitest

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Line is a test log line: JSON with the record's own timestamp and a
// sequence number per stream, padded to about size bytes.
func Line(seq int, ts time.Time, size int) string {
	s := fmt.Sprintf(`{"timestamp":"%s","level":"info","logger":"app.api","seq":%d,"request_id":"req-%d","msg":"GET /api/items 200"`,
		ts.UTC().Format(time.RFC3339Nano), seq, seq)
	if pad := size - len(s) - 12; pad > 0 {
		s += `,"pad":"` + strings.Repeat("x", pad) + `"`
	}
	return s + "}"
}

// Seq extracts the sequence number of a Line, or -1.
func Seq(line string) int {
	i := strings.Index(line, `"seq":`)
	if i < 0 {
		return -1
	}
	rest := line[i+6:]
	j := strings.IndexAny(rest, ",}")
	if j < 0 {
		return -1
	}
	n, err := strconv.Atoi(rest[:j])
	if err != nil {
		return -1
	}
	return n
}

// StreamFor is the selector of a file's stream with only the filename label.
func StreamFor(path string) string { return `{filename=` + strconv.Quote(path) + `}` }

// Check reports how far the receiver is from holding, for each stream in
// want, exactly the lines with seq 1..want[stream], each once and in order.
// It returns nil when that holds.
func (s *Server) Check(want map[string]int) error {
	got := s.Streams()
	for stream, n := range want {
		entries := got[stream]
		if len(entries) > n {
			return fmt.Errorf("stream %s: %d entries, want %d (duplicates or strays)", stream, len(entries), n)
		}
		for i, e := range entries {
			if seq := Seq(e.Line); seq != i+1 {
				return fmt.Errorf("stream %s: entry %d has seq %d, want %d (lost, duplicated or out of order): %.120s", stream, i, seq, i+1, e.Line)
			}
		}
		if len(entries) < n {
			return fmt.Errorf("stream %s: %d of %d entries so far", stream, len(entries), n)
		}
	}
	for stream := range got {
		if _, ok := want[stream]; !ok {
			return fmt.Errorf("unexpected stream %s (%d entries)", stream, len(got[stream]))
		}
	}
	return nil
}

// WaitExactlyOnce waits until Check passes; on timeout it fails the test
// with the last difference.
func (s *Server) WaitExactlyOnce(t testing.TB, timeout time.Duration, want map[string]int) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := s.Check(want)
		if err == nil {
			return
		}
		// Extra or misordered entries never heal: fail at once.
		if strings.Contains(err.Error(), "duplicates") || strings.Contains(err.Error(), "out of order") || strings.Contains(err.Error(), "unexpected") {
			t.Fatalf("receiver: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("receiver after %s: %v", timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
