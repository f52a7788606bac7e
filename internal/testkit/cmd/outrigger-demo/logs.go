package main

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/outrigger/outrigger/internal/testkit"
)

// startLogWriter appends FastAPI-style JSON access and application lines to
// path, a few a second, until the demo stops: what the shipper ships to Loki.
func startLogWriter(t testkit.TB, path string) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	t.Cleanup(func() { close(stop); <-done; f.Close() })
	paths := []string{"/api/agents", "/api/agents/run", "/api/items", "/health", "/api/screenshots"}
	go func() {
		defer close(done)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for n := 1; ; n++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			now := time.Now().UTC().Format(time.RFC3339Nano)
			status, level := 200, "INFO"
			switch r := rand.IntN(20); {
			case r == 0:
				status, level = 500, "ERROR"
			case r < 3:
				status, level = 404, "WARNING"
			}
			line := fmt.Sprintf(`{"timestamp":%q,"level":%q,"logger":"uvicorn.access","message":"%s %s %d","method":"GET","path":%q,"status":%d,"duration_ms":%.1f,"request_id":"req-%d"}`,
				now, level, "GET", paths[n%len(paths)], status, paths[n%len(paths)], status, 2+rand.Float64()*180, n)
			if status == 500 {
				line += "\n" + fmt.Sprintf(`{"timestamp":%q,"level":"ERROR","logger":"app.agents","message":"agent run failed: upstream LLM timeout","request_id":"req-%d"}`, now, n)
			}
			if _, err := f.WriteString(line + "\n"); err != nil {
				return
			}
		}
	}()
}

// logQLURL is a Loki query URL that shows the demo's shipped lines.
func logQLURL(loki *testkit.Loki) string {
	q := url.Values{"query": {`{filename=~".+api.log"}`}, "limit": {"20"},
		"start": {strconv.FormatInt(time.Now().Add(-time.Hour).UnixNano(), 10)}}
	return loki.URL + "/loki/api/v1/query_range?" + q.Encode()
}
