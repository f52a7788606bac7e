package testkit

import (
	"net"
	"strings"
	"testing"
)

func TestPostgresStartsStopsAndRestarts(t *testing.T) {
	pg := StartPostgres(t, PostgresOptions{MaxConnections: 37, StatStatements: true})
	if got := strings.TrimSpace(pg.PSQL(t, "postgres", "SHOW max_connections")); got != "37" {
		t.Fatalf("max_connections = %q, want 37", got)
	}
	if got := strings.TrimSpace(pg.PSQL(t, "postgres", "SELECT count(*) FROM pg_extension WHERE extname='pg_stat_statements'")); got != "1" {
		t.Fatalf("pg_stat_statements not created: %q", got)
	}
	pg.Stop(t)
	if _, err := pg.try("postgres", "SELECT 1"); err == nil {
		t.Fatal("server still answers after Stop")
	}
	pg.Start(t)
	pg.PSQL(t, "postgres", "SELECT 1")
}

func TestRedisWithPassword(t *testing.T) {
	r := StartRedis(t, RedisOptions{Password: "s3cret"})
	r.MustDo(t, "SET", "k", "v")
	if got := r.MustDo(t, "GET", "k"); got != "v" {
		t.Fatalf("GET k = %q", got)
	}
	if got := r.MustDo(t, "RPUSH", "l", "a", "b"); got != "2" {
		t.Fatalf("RPUSH = %q", got)
	}
}

func TestCheckMetricsFlagsBadNamesButHonoursAllowList(t *testing.T) {
	bad := []byte("# HELP foo_count A counter.\n# TYPE foo_count counter\nfoo_count 1\n")
	ft := &fakeTB{TB: t}
	CheckMetrics(ft, bad)
	if !ft.failed {
		t.Fatal("a counter without _total passed promtool's lint")
	}
	ft = &fakeTB{TB: t}
	CheckMetrics(ft, bad, "foo_count")
	if ft.failed {
		t.Fatal("an allow-listed name still failed the lint")
	}
}

type fakeTB struct {
	testing.TB
	failed bool
}

func (f *fakeTB) Errorf(string, ...any) { f.failed = true }
func (f *fakeTB) Helper()               {}

func TestTripwireCountsConnections(t *testing.T) {
	w := NewTripwire(t)
	if n := w.Connections(t); n != 0 {
		t.Fatalf("%d connections before any", n)
	}
	for range 2 {
		c, err := net.Dial("tcp", w.Addr())
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	if n := w.Connections(t); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
}
