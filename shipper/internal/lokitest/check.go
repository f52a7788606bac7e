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
	got := map[string][]string{}
	for stream, entries := range s.Streams() {
		for _, e := range entries {
			got[stream] = append(got[stream], e.Line)
		}
	}
	return checkLines(got, want)
}

// checkLines is Check over each stream's lines in stored order.
func checkLines(got map[string][]string, want map[string]int) error {
	for stream, n := range want {
		lines := got[stream]
		if len(lines) > n {
			return fmt.Errorf("stream %s: %d entries, want %d (duplicates or strays)", stream, len(lines), n)
		}
		for i, l := range lines {
			switch seq := Seq(l); {
			case seq > i+1: // may still come: a request retried or resent after a later one landed
				return fmt.Errorf("stream %s: entry %d has seq %d, want %d (missing so far): %.120s", stream, i, seq, i+1, l)
			case seq != i+1:
				return fmt.Errorf("stream %s: entry %d has seq %d, want %d (duplicated or out of order): %.120s", stream, i, seq, i+1, l)
			}
		}
		if len(lines) < n {
			return fmt.Errorf("stream %s: %d of %d entries so far", stream, len(lines), n)
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
	waitExactlyOnce(t, timeout, 20*time.Millisecond, "receiver", func() error { return s.Check(want) })
}

func waitExactlyOnce(t testing.TB, timeout, every time.Duration, who string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		// Extra or misordered entries never heal: fail at once.
		if strings.Contains(err.Error(), "duplicates") || strings.Contains(err.Error(), "out of order") || strings.Contains(err.Error(), "unexpected") {
			t.Fatalf("%s: %v", who, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s after %s: %v", who, timeout, err)
		}
		time.Sleep(every)
	}
}
