package collector

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/outrigger/outrigger/exporters/postgres/config"
	"github.com/outrigger/outrigger/internal/testkit"
)

// Under SQL_ASCII, PostgreSQL stores names as the bytes it was given: a
// table or schema name that is not UTF-8 reaches the exporter as such. Its
// series are served with U+FFFD in place of the bad bytes, the families keep
// every other series, and the exporter does not panic.
func TestNonUTF8NamesUnderSQLASCII(t *testing.T) {
	f := newFixture(t, fixtureOptions{opts: config.Collector{Databases: config.Databases{Enabled: true, TTL: time.Hour,
		TablesLimit: 10, IndexesLimit: 10}}})
	f.pg.PSQL(t, "postgres", "CREATE DATABASE latin ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0")
	// chr(233) and chr(255) are single bytes under SQL_ASCII: "caf\xe9" and "s\xff".
	f.pg.PSQL(t, "latin", `DO $$ BEGIN
		EXECUTE format('CREATE SCHEMA %I', 's' || chr(255));
		EXECUTE format('CREATE TABLE %I.%I (id int)', 's' || chr(255), 'caf' || chr(233));
		EXECUTE format('CREATE INDEX %I ON %I.%I (id)', 'i' || chr(233), 's' || chr(255), 'caf' || chr(233));
		EXECUTE format('INSERT INTO %I.%I SELECT generate_series(1, 7)', 's' || chr(255), 'caf' || chr(233));
		CREATE TABLE plain (id int); INSERT INTO plain VALUES (1);
	END $$`)
	if out := f.pg.PSQL(t, "latin", "SELECT octet_length(relname::text) FROM pg_class WHERE relname::text LIKE 'caf%'"); out != "4\n" {
		t.Fatalf("the table name is not the 4 bytes caf\\xe9: octet_length %q", out)
	}
	testkit.Eventually(t, 10*time.Second, "stats flushed", func() error {
		if out := f.pg.PSQL(t, "latin", "SELECT sum(n_live_tup) FROM pg_stat_user_tables"); out != "8\n" {
			return fmt.Errorf("n_live_tup %q", out)
		}
		return nil
	})
	code, body, fams, _ := f.scrape(t, "5")
	if code != 200 {
		t.Fatalf("/metrics: %d\n%s", code, body)
	}
	if !utf8.Valid(body) {
		t.Error("the exposition is not valid UTF-8")
	}
	if v := testkit.MustValue(t, fams, "pg_stat_user_tables_n_live_tup",
		map[string]string{"datname": "latin", "schemaname": "s\uFFFD", "relname": "caf\uFFFD"}); v != 7 {
		t.Errorf("caf\\xe9 n_live_tup = %v, want 7", v)
	}
	if _, ok := testkit.Value(fams, "pg_stat_user_tables_n_live_tup", map[string]string{"datname": "latin", "relname": "plain"}); !ok {
		t.Error("the other table of the database is missing")
	}
	if _, ok := testkit.Value(fams, "pg_stat_user_indexes_scans_total", map[string]string{"datname": "latin", "indexrelname": "i\uFFFD"}); !ok {
		t.Error("the index with a non-UTF-8 name is missing")
	}
	if v := testkit.MustValue(t, fams, "pg_scrape_collector_success", map[string]string{"collector": "tables"}); v != 1 {
		t.Errorf("tables collector success = %v", v)
	}
	if strings.Contains(string(body), "\xe9") {
		t.Error("a raw non-UTF-8 byte reached the exposition")
	}
}
