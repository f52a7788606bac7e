package testkit

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestLokiStoresAndAnswers pushes two entries (one with structured metadata)
// to a real Loki and reads them back with their labels, times and metadata.
func TestLokiStoresAndAnswers(t *testing.T) {
	l := StartLoki(t, LokiOptions{})
	now := l.Now()
	body := fmt.Sprintf(`{"streams":[{"stream":{"job":"t","filename":"/a.log"},"values":[["%d","first"],["%d","second",{"trace_id":"abc"}]]}]}`,
		now.Add(-time.Second).UnixNano(), now.UnixNano())
	resp, err := http.Post(l.PushURL(), "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("push: %d", resp.StatusCode)
	}
	key := `{filename="/a.log", job="t"}`
	Eventually(t, 30*time.Second, "both entries queryable", func() error {
		got := l.Streams(t, `{job="t"}`, now.Add(-time.Hour), now.Add(time.Hour))
		if len(got) != 1 || len(got[key]) != 2 {
			return fmt.Errorf("streams %v", got)
		}
		if e := got[key]; e[0].Line != "first" || e[1].Line != "second" || e[1].Metadata["trace_id"] != "abc" || e[0].TimeNs != now.Add(-time.Second).UnixNano() {
			return fmt.Errorf("entries %+v", e)
		}
		return nil
	})
	if n := l.LinesReceived(t); n != 2 {
		t.Errorf("LinesReceived %d, want 2", n)
	}
}
