package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/testkit"
	"github.com/outrigger/outrigger/shipper/internal/estest"
	"github.com/outrigger/outrigger/shipper/internal/lokitest"
)

// conflicting marks the lines whose "level" is an object where the index
// maps it as text: Elasticsearch rejects them with a mapping conflict.
func conflicting(seq int) bool { return seq%97 == 0 }

func esLine(seq int, ts time.Time) string {
	l := lokitest.Line(seq, ts, 250)
	if conflicting(seq) {
		l = strings.Replace(l, `"level":"info"`, `"level":{"name":"info"}`, 1)
	}
	return l
}

// TestKill9TwoOutputs ships two files, one rotated, to Loki and
// Elasticsearch at once while Elasticsearch fails items (429, 503), whole
// requests and for a while everything, and kills the shipper with SIGKILL
// six times. Then Loki holds every line exactly once and in order,
// Elasticsearch every line exactly once but the mapping conflicts, and the
// dead-letter file exactly the mapping conflicts.
func TestKill9TwoOutputs(t *testing.T) {
	dir := testkit.TempDir(t, "shipper")
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	loki := lokitest.StartReal(t, testkit.LokiOptions{})
	es := estest.New(estest.ES8)
	defer es.Close()
	// The lines' times come from Loki's clock: ten minutes ago (Loki in
	// this setup stores nothing much older than an hour or two), moved back
	// to 23:55 when that is later, so the few seconds of them fall in one
	// daily index.
	base := loki.Now().UTC().Add(-10 * time.Minute)
	if day := base.Truncate(24 * time.Hour); base.Sub(day) > 24*time.Hour-5*time.Minute {
		base = day.Add(24*time.Hour - 5*time.Minute)
	}
	// The index maps level as text before the shipper starts.
	seed := `{"create":{"_index":"app-` + base.Format("2006.01.02") + `","_id":"seed"}}` + "\n" + `{"level":"seed"}` + "\n"
	resp, err := http.Post(es.URL+"/_bulk", "application/x-ndjson", strings.NewReader(seed))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	es.ItemStatus = func(_, _ string, _ map[string]any) int {
		switch r := rand.IntN(100); {
		case r < 3:
			return 429
		case r < 5:
			return 503
		}
		return 0
	}
	s := startShipper(t, dir, "--path="+logs+"/*.log", "--loki.url="+loki.PushURL(), "--registry.flush-interval="+registryFlush.String(),
		"--elasticsearch.url="+es.URL, "--elasticsearch.index=app-%{+yyyy.MM.dd}")

	writers := startWriters(t, logs, writerOptions{names: []string{"app.log", "api.log"}, batch: 25, every: 15 * time.Millisecond,
		line: func(seq int) string { return esLine(seq, base.Add(time.Duration(seq)*time.Millisecond)) }})
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))
	budget := 0
	for i := range 6 {
		time.Sleep(time.Duration(200+rng.IntN(600)) * time.Millisecond)
		if i == 1 {
			es.FailNext(503, 503, 503, 503, 503, 503, 503, 503) // Elasticsearch down for a while: Loki goes on
		}
		budget += s.killBounded(t)
		t.Logf("kill %d: Loki received %d lines, Elasticsearch holds %d documents", i+1, loki.LinesReceived(t), len(es.Docs()))
		if i == 2 {
			writers.Rotate()
			writers.WaitRotated(t)
		}
		s.Start(t)
		s.waitUp(t)
	}
	want := writers.Stop()
	// The outputs share the memory cap, so Elasticsearch's retries (the
	// injected 503s, up to the default 60 s max backoff per wait) can hold
	// reading back for Loki too: wait longer than one such wait. A pass
	// returns as soon as every line is there.
	loki.WaitExactlyOnce(t, 3*time.Minute, want)
	checkReplay(t, loki, want, budget)

	total, conflicts := 0, map[string]bool{}
	for stream, n := range want {
		total += n
		path := strings.TrimSuffix(strings.TrimPrefix(stream, `{filename="`), `"}`)
		for seq := 1; seq <= n; seq++ {
			if conflicting(seq) {
				conflicts[fmt.Sprintf("%s#%d", path, seq)] = true
			}
		}
	}
	testkit.Eventually(t, 3*time.Minute, "every line but the conflicts in Elasticsearch", func() error {
		if n := len(es.Docs()) - 1; n != total-len(conflicts) {
			return fmt.Errorf("%d documents, want %d", n, total-len(conflicts))
		}
		return nil
	})
	seen := map[string]int{}
	for _, d := range es.Docs() {
		if d.ID == "seed" {
			continue
		}
		path := d.Source["log"].(map[string]any)["file"].(map[string]any)["path"].(string)
		seen[fmt.Sprintf("%s#%v", path, d.Source["seq"])]++
	}
	for k, n := range seen {
		if n != 1 || conflicts[k] {
			t.Errorf("%s indexed %d times (conflict: %v)", k, n, conflicts[k])
		}
	}
	dead, err := os.ReadFile(filepath.Join(dir, "state", "elasticsearch-dead-letter.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, l := range bytes.Split(bytes.TrimSpace(dead), []byte("\n")) {
		var d struct {
			Error    struct{ Type string }
			Document struct {
				Seq int
				Log struct{ File struct{ Path string } }
			}
		}
		if err := json.Unmarshal(l, &d); err != nil {
			t.Fatalf("dead letter %q: %v", l, err)
		}
		if d.Error.Type != "mapper_parsing_exception" {
			t.Errorf("dead letter for another reason: %s", l)
		}
		got[fmt.Sprintf("%s#%d", d.Document.Log.File.Path, d.Document.Seq)] = true
	}
	if len(got) != len(conflicts) {
		t.Errorf("dead letters for %d lines, want the %d mapping conflicts", len(got), len(conflicts))
	}
	for k := range conflicts {
		if !got[k] {
			t.Errorf("mapping conflict %s not in the dead-letter file", k)
		}
	}
	_, _, outcomes := es.Stats()
	t.Logf("%d lines; Elasticsearch item outcomes %v", total, outcomes)
}
