package collector

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/outrigger/outrigger/exporters/redis/info"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Conn is the one connection the exporter keeps to a target. Everything
// (scrapes, readiness checks, the key-group worker) takes turns on it through
// With, so the target never sees more than one connection from the exporter.
type Conn struct {
	addr   string // without credentials
	client *redis.Client
	turn   chan struct{} // a one-slot semaphore: holding it means owning the connection

	// Held only with the turn:
	db     int // the database the connection has SELECTed
	dialDB int // the database a new connection starts in

	mu   sync.Mutex
	caps Caps
}

// Caps is what the exporter learned about the server: detected when a
// connection is made, and narrowed when a command fails with a server error
// (a renamed CONFIG, an ACL that forbids SLOWLOG), so that a command that
// fails is not sent again until the server restarts.
type Caps struct {
	Known   bool
	Version info.Version
	RunID   string
	NoTouch bool // CLIENT NO-TOUCH is on for the connection (7.2+)
	// Disabled lists features whose command the server refused.
	Disabled map[string]string
}

// Feature names for Caps.Disabled.
const (
	FeatConfig  = "config"
	FeatClients = "clients"
	FeatSlowlog = "slowlog"
	FeatLatency = "latency"
	FeatMemory  = "memory"
	FeatCluster = "cluster"
)

// NewConn prepares the connection to a target; it dials on first use.
func NewConn(opts *redis.Options, addr, clientName string) *Conn {
	c := &Conn{addr: addr, turn: make(chan struct{}, 1)}
	o := *opts
	o.ClientName = clientName
	o.PoolSize, o.MaxActiveConns, o.MinIdleConns, o.MaxIdleConns = 1, 1, 0, 1
	o.PipelinePoolSize = -1 // pipelines share the one connection
	o.MaxConcurrentDials = 1
	o.DialerRetries = 1
	o.MaxRetries = -1 // a retry would outlive the scrape deadline and double the commands
	o.ContextTimeoutEnabled = true
	o.DisableIdentity = true // CLIENT SETINFO fails on servers before 7.2
	o.Protocol = 2
	o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	if o.DialTimeout == 0 {
		o.DialTimeout = 5 * time.Second
	}
	o.ReadTimeout, o.WriteTimeout = 30*time.Second, 30*time.Second // the scrape deadline is what normally ends a command
	o.PoolTimeout = 30 * time.Second
	o.OnConnect = c.onConnect
	c.db, c.dialDB = o.DB, o.DB
	c.client = redis.NewClient(&o)
	return c
}

// Addr is the target's address without credentials.
func (c *Conn) Addr() string { return c.addr }

// Close closes the connection.
func (c *Conn) Close() error { return c.client.Close() }

// With runs fn while owning the connection. It waits for its turn no longer
// than ctx allows.
func (c *Conn) With(ctx context.Context, fn func(ctx context.Context, cl *redis.Client) error) error {
	select {
	case c.turn <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("waiting for the connection to %s: %w", c.addr, ctx.Err())
	}
	defer func() { <-c.turn }()
	return fn(ctx, c.client)
}

// Select makes db the current database; call it inside With.
func (c *Conn) Select(ctx context.Context, cl *redis.Client, db int) error {
	if c.db == db {
		return nil
	}
	if err := cl.Do(ctx, "SELECT", db).Err(); err != nil {
		return fmt.Errorf("selecting db %d: %w", db, err)
	}
	c.db = db
	return nil
}

// onConnect runs on every new connection, under the turn of whoever caused
// the dial: it learns the server version and asks the server not to count
// the exporter's reads as key accesses where it can (CLIENT NO-TOUCH, 7.2+).
func (c *Conn) onConnect(ctx context.Context, cn *redis.Conn) error {
	c.db = c.dialDB
	text, err := cn.Info(ctx, "server").Result()
	if err != nil {
		return fmt.Errorf("reading server info: %w", err)
	}
	in := info.Parse(text)
	v, _ := in.Get("redis_version")
	runID, _ := in.Get("run_id")
	version := info.ParseVersion(v)
	noTouch := false
	if version.AtLeast(7, 2) {
		if err := cn.Do(ctx, "CLIENT", "NO-TOUCH", "ON").Err(); err == nil {
			noTouch = true
		} else if !IsServerError(err) {
			return fmt.Errorf("setting CLIENT NO-TOUCH: %w", err)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.caps.RunID != runID {
		c.caps.Disabled = map[string]string{}
	}
	c.caps.Known, c.caps.Version, c.caps.RunID, c.caps.NoTouch = true, version, runID, noTouch
	return nil
}

// Caps returns what is known about the server.
func (c *Conn) Caps() Caps {
	c.mu.Lock()
	defer c.mu.Unlock()
	caps := c.caps
	caps.Disabled = make(map[string]string, len(c.caps.Disabled))
	for k, v := range c.caps.Disabled {
		caps.Disabled[k] = v
	}
	return caps
}

// Enabled reports whether a feature's commands may be sent.
func (c *Conn) Enabled(feature string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, off := c.caps.Disabled[feature]
	return !off
}

// Refused records err for feature when the server refused the command (an
// unknown or renamed command, an ACL denial); such a command is not sent again
// until the server restarts. Network errors and timeouts change nothing.
func (c *Conn) Refused(feature string, err error) bool {
	if !IsServerError(err) {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.caps.Disabled == nil {
		c.caps.Disabled = map[string]string{}
	}
	c.caps.Disabled[feature] = err.Error()
	return true
}

// serverRestarted forgets refusals when INFO shows another run_id.
func (c *Conn) serverRestarted(runID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if runID != "" && c.caps.RunID != "" && runID != c.caps.RunID {
		c.caps.Disabled = map[string]string{}
		c.caps.RunID = runID
	}
}

// IsServerError reports whether err is an error reply from Redis (as opposed
// to a network error or a timeout).
func IsServerError(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) {
		return false
	}
	var re redis.Error
	if !errors.As(err, &re) {
		return false
	}
	var ne net.Error
	return !errors.As(err, &ne) && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled)
}

// Ping checks that the target answers (for /ready).
func (c *Conn) Ping(ctx context.Context) error {
	return c.With(ctx, func(ctx context.Context, cl *redis.Client) error {
		if err := cl.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("pinging redis at %s: %w", c.addr, err)
		}
		return nil
	})
}

func dbLabel(db int) string { return "db" + strconv.Itoa(db) }
