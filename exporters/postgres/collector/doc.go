// Package collector reads PostgreSQL's catalog and statistics views over one
// connection per target and turns them into Prometheus const metrics: the
// connection-pool view first (one pg_stat_activity snapshot per scrape), then
// the families postgres_exporter users depend on, pg_stat_statements, custom
// queries, and database-scoped statistics read from every matched database.
package collector
