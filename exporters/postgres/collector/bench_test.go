package collector

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/outrigger/outrigger/exporters/postgres/config"
	"github.com/outrigger/outrigger/internal/promkit"
	"github.com/outrigger/outrigger/internal/testkit"
)

// BenchmarkScrape measures one full scrape through the HTTP handler against a
// small real server (the side-by-side figures come from bench/postgres).
func BenchmarkScrape(b *testing.B) {
	pg := testkit.StartPostgres(b, testkit.PostgresOptions{StatStatements: true})
	var ddl strings.Builder
	for i := range 100 {
		fmt.Fprintf(&ddl, "CREATE TABLE t%d (id int); INSERT INTO t%d VALUES (1);", i, i)
	}
	for _, db := range []string{"db1", "db2", "db3"} {
		pg.PSQL(b, "postgres", "CREATE DATABASE "+db)
		pg.PSQL(b, db, ddl.String())
	}
	f := newFixtureOnTB(b, pg, fixtureOptions{opts: config.Collector{Databases: config.Databases{Enabled: true, TTL: time.Hour}}})
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/metrics", nil)
	req.Header.Set(promkit.TimeoutHeader, "10")
	b.ResetTimer()
	for b.Loop() {
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
