package exporter

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/outrigger/outrigger/exporters/litellm-cost/config"
)

// Whatever the database holds (PostgreSQL's float8 has NaN and Infinity),
// nothing non-finite is ever served.
func TestEmitterDropsNonFiniteValues(t *testing.T) {
	ch := make(chan prometheus.Metric, 10)
	out := emitter{ch}
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		out.send(dDatabaseUp, v)
		out.send(dTagSpendTotal, v, "t")
	}
	out.send(dDatabaseUp, 1)
	close(ch)
	n := 0
	for range ch {
		n++
	}
	if n != 1 {
		t.Fatalf("%d metrics sent, want only the finite one", n)
	}
}

func TestScrubHidesThePasswordOnly(t *testing.T) {
	for _, tt := range []struct{ pw, in, want string }{
		{"Sup3rSecretPw", "auth failed for Sup3rSecretPw", "auth failed for xxxxx"},
		{"p", "dial tcp 127.0.0.1:1", "dial tcp 127.0.0.1:1"},
	} {
		cfg, err := config.Config{DatabaseURL: "postgres://u:" + tt.pw + "@h/d", RefreshInterval: time.Second,
			RefreshTimeout: time.Second, SpendLogsMaxWindow: time.Hour, MaxSeries: 1}.Validate()
		if err != nil {
			t.Fatal(err)
		}
		e := New(cfg, nil)
		got := e.scrub(errors.New(tt.in))
		if got.Error() != tt.want {
			t.Errorf("scrub(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
