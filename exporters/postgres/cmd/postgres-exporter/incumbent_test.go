package main

import (
	"fmt"
	"testing"

	"github.com/outrigger/outrigger/internal/testkit"
)

// TestIncumbentDiff runs Debian's prometheus-postgres-exporter and ours
// against the same server and requires every family, type and label name of
// theirs here too, except the differences the README lists with reasons.
// No client is connected but the two exporters: pg_stat_activity_count and
// pg_stat_activity_max_tx_duration must still be there, as zeros.
func TestIncumbentDiff(t *testing.T) {
	t.Parallel()
	ours := build(t)
	theirs := testkit.Binary(t, "prometheus-postgres-exporter", "/usr/bin")
	allowed := testkit.READMEDifferences(t, "../../README.md", "Differences from the incumbent")
	pg := testkit.StartPostgres(t, testkit.PostgresOptions{})
	pg.PSQL(t, "postgres", "CREATE DATABASE app")
	env := []string{fmt.Sprintf("DATA_SOURCE_NAME=postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", pg.Port)}
	inc := testkit.StartDaemonEnv(t, theirs, env)
	us := testkit.StartDaemonEnv(t, ours, env)
	_, theirBody := inc.Get(t, "/metrics", nil)
	_, ourBody := us.Get(t, "/metrics", nil)
	testkit.RequireSuperset(t, theirBody, ourBody, allowed)

	fams := testkit.Families(t, ourBody)
	for _, db := range []string{"postgres", "app", "template1"} {
		for _, state := range []string{"active", "idle", "idle in transaction", "idle in transaction (aborted)", "fastpath function call", "disabled"} {
			want := map[string]string{"datname": db, "state": state}
			for _, name := range []string{"pg_stat_activity_count", "pg_stat_activity_max_tx_duration"} {
				if _, ok := testkit.Value(fams, name, want); !ok {
					t.Errorf("no %s%v", name, want)
				}
			}
		}
	}
	if v := testkit.MustValue(t, fams, "pg_postmaster_start_time_seconds", nil); v <= 0 {
		t.Errorf("pg_postmaster_start_time_seconds = %v", v)
	}
}
