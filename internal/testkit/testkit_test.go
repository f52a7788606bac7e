package testkit

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
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

func TestGoldenExpositionRoundTrip(t *testing.T) {
	expo := []byte(`# HELP a_total A "help".
# TYPE a_total counter
a_total{addr="127.0.0.1:5",db="x"} 3
a_total{addr="127.0.0.1:6",db="x"} 4
# HELP h_seconds H.
# TYPE h_seconds histogram
h_seconds_bucket{le="0.5"} 1
h_seconds_bucket{le="+Inf"} 2
h_seconds_sum 0.7
h_seconds_count 2
# TYPE up gauge
up 1
# TYPE go_goroutines gauge
go_goroutines 7
`)
	got := string(GoldenText(Families(t, expo), Mask{Keep: regexp.MustCompile(`^up$`), Labels: []string{"addr"}, Drop: regexp.MustCompile(`^go_`)}))
	want := `# HELP a_total A "help".
# TYPE a_total counter
a_total{addr="_",db="x"} _
# HELP h_seconds H.
# TYPE h_seconds histogram
h_seconds_bucket{le="+Inf"} _
h_seconds_bucket{le="0.5"} _
h_seconds_count _
h_seconds_sum _
# HELP up 
# TYPE up gauge
up 1
`
	if got != want {
		t.Fatalf("golden text:\n%s\nwant:\n%s", got, want)
	}
	path := filepath.Join(t.TempDir(), "x.golden.prom")
	if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
		t.Fatal(err)
	}
	series, err := ReadGolden(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(series) != 6 || series[0].Name != "a_total" || series[0].Labels["db"] != "x" || series[1].Family != "h_seconds" || series[1].Labels["le"] != "+Inf" {
		t.Fatalf("read back: %+v", series)
	}
}

func TestFreePortIsOutsideTheEphemeralRange(t *testing.T) {
	lo, hi := freePortRange()
	seen := map[int]bool{}
	for range 50 {
		p := FreePort(t)
		if p < lo || p >= hi || seen[p] {
			t.Fatalf("port %d: want a new one in [%d, %d)", p, lo, hi)
		}
		seen[p] = true
	}
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		t.Fatal(err)
	}
	var elo, ehi int
	if _, err := fmt.Sscan(string(b), &elo, &ehi); err != nil {
		t.Fatal(err)
	}
	if lo <= ehi && hi > elo {
		t.Fatalf("pick range [%d, %d) overlaps the ephemeral range %d-%d", lo, hi, elo, ehi)
	}
}

func TestPKIIssuesVerifiableCertificates(t *testing.T) {
	p := NewPKI(t)
	c := p.Issue(t, "svc", "svc.internal", "127.0.0.1")
	for _, host := range []string{"svc.internal", "127.0.0.1"} {
		if _, err := c.Cert.Verify(x509.VerifyOptions{Roots: p.Pool, DNSName: host, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
	if _, err := c.Cert.Verify(x509.VerifyOptions{Roots: p.Pool, DNSName: "other"}); err == nil {
		t.Error("verified for a host it does not name")
	}
	if _, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile); err != nil {
		t.Error(err)
	}
	if b, err := os.ReadFile(p.CAFile); err != nil || !x509.NewCertPool().AppendCertsFromPEM(b) {
		t.Errorf("CA file: %v", err)
	}
}
