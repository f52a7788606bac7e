package collector

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/outrigger/outrigger/internal/promkit"
)

var (
	replicationLag = promkit.Gauge("pg_replication_lag_seconds", "Replication lag behind master in seconds (0 on a primary).")
	// replicationLagMixin is the older name the upstream mixin's alert queries.
	replicationLagMixin = promkit.Gauge("pg_replication_lag", "Replication lag behind master in seconds (0 on a primary); same as pg_replication_lag_seconds.")
	slotActive          = promkit.Gauge("pg_replication_slots_active", "Whether the replication slot is in use (1) or not (0).", "slot_name", "database")
	slotWALBehind       = promkit.Gauge("pg_replication_slots_pg_wal_lsn_diff",
		"Bytes of WAL the slot holds back: current WAL position minus the slot's restart position.", "slot_name", "database")
	standbyWALBehind = promkit.Gauge("pg_stat_replication_pg_wal_lsn_diff",
		"Bytes the standby has yet to replay: current WAL position minus its replay position.", "application_name", "client_addr", "state")
)

// replication emits the replica flag's companions: lag, slots and standbys.
func (s *scrape) replication(ctx context.Context, ch chan<- prometheus.Metric) error {
	var lag float64
	err := s.query(ctx, `SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0
  WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
  ELSE greatest(0, coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0)) END::float8`,
		func(rows pgx.Rows) error { return rows.Scan(&lag) })
	if err != nil {
		return fmt.Errorf("reading replication lag: %w", err)
	}
	replicationLag.Send(ch, lag)
	replicationLagMixin.Send(ch, lag)
	err = s.query(ctx, `SELECT slot_name, coalesce(database, ''), active,
  CASE WHEN pg_is_in_recovery() OR restart_lsn IS NULL THEN 0
  ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn) END::float8
FROM pg_replication_slots`, func(rows pgx.Rows) error {
		var name, db string
		var active bool
		var diff float64
		if err := rows.Scan(&name, &db, &active, &diff); err != nil {
			return err
		}
		slotActive.Send(ch, promkit.Bool(active), name, db)
		slotWALBehind.Send(ch, diff, name, db)
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading pg_replication_slots: %w", err)
	}
	err = s.query(ctx, `SELECT coalesce(application_name, ''), coalesce(host(client_addr), ''), coalesce(state, ''),
  CASE WHEN pg_is_in_recovery() OR replay_lsn IS NULL THEN 0
  ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) END::float8
FROM pg_stat_replication`, func(rows pgx.Rows) error {
		var app, addr, state string
		var diff float64
		if err := rows.Scan(&app, &addr, &state, &diff); err != nil {
			return err
		}
		standbyWALBehind.Send(ch, diff, app, addr, state)
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading pg_stat_replication: %w", err)
	}
	return nil
}
