package collector

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Conn is the one connection the exporter holds to a target. Every query goes
// through Do, which serialises them whatever the scrape concurrency,
// (re)connects when needed, and drops the connection when it broke.
type Conn struct {
	cfg  *pgx.ConnConfig
	sem  chan struct{}
	conn *pgx.Conn // guarded by sem

	connects atomic.Uint64
	queries  atomic.Uint64
}

// NewConn returns a Conn that connects on first use.
func NewConn(cfg *pgx.ConnConfig) *Conn {
	return &Conn{cfg: cfg, sem: make(chan struct{}, 1)}
}

// Database is the database the connection is for.
func (c *Conn) Database() string { return c.cfg.Database }

// Endpoint is host:port of the target, for logs and labels (no credentials).
func (c *Conn) Endpoint() string {
	return net.JoinHostPort(c.cfg.Host, fmt.Sprint(c.cfg.Port))
}

// Connects counts the connections opened so far.
func (c *Conn) Connects() uint64 { return c.connects.Load() }

// Queries counts the queries sent so far.
func (c *Conn) Queries() uint64 { return c.queries.Load() }

// Do runs fn on the connection under ctx. It waits for the connection as long
// as ctx allows.
func (c *Conn) Do(ctx context.Context, fn func(ctx context.Context, conn *pgx.Conn) error) error {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("waiting for the connection: %w", ctx.Err())
	}
	defer func() { <-c.sem }()
	if c.conn == nil || c.conn.IsClosed() {
		conn, err := pgx.ConnectConfig(ctx, c.cfg)
		c.connects.Add(1)
		if err != nil {
			return fmt.Errorf("connecting to %s: %w", c.Endpoint(), err)
		}
		c.conn = conn
	}
	err := fn(ctx, c.conn)
	if err != nil && (c.conn.IsClosed() || isBroken(err)) {
		c.closeLocked(ctx)
	}
	return err
}

// isBroken tells errors after which the session cannot be trusted.
func isBroken(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 08: connection exception; 57P0x: admin/crash shutdown.
		return len(pe.Code) == 5 && (pe.Code[:2] == "08" || pe.Code[:4] == "57P0")
	}
	return errors.Is(err, net.ErrClosed)
}

// Query runs sql and calls scan for every row.
func (c *Conn) Query(ctx context.Context, sql string, scan func(rows pgx.Rows) error) error {
	return c.Do(ctx, func(ctx context.Context, conn *pgx.Conn) error {
		return query(ctx, conn, &c.queries, sql, scan)
	})
}

func query(ctx context.Context, conn *pgx.Conn, counter *atomic.Uint64, sql string, scan func(rows pgx.Rows) error) error {
	counter.Add(1)
	var args []any
	if conn.PgConn().ParameterStatus("client_encoding") != "UTF8" {
		// A SQL_ASCII database keeps its own client_encoding, which pgx's
		// simple protocol refuses: the extended one, with no statement
		// left prepared, reads it as well (names as their raw bytes).
		args = append(args, pgx.QueryExecModeExec)
	}
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Close closes the connection if open, waiting for a query in flight as
// long as ctx allows.
func (c *Conn) Close(ctx context.Context) {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return
	}
	defer func() { <-c.sem }()
	c.closeLocked(ctx)
}

func (c *Conn) closeLocked(ctx context.Context) {
	if c.conn == nil {
		return
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	_ = c.conn.Close(cctx)
	c.conn = nil
}
