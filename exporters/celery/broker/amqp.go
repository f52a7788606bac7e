package broker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/outrigger/outrigger/exporters/celery/config"
	"github.com/outrigger/outrigger/exporters/celery/events"
	"github.com/outrigger/outrigger/internal/promkit"
	"github.com/outrigger/outrigger/internal/promkit/backoff"
)

// AMQP watches a Celery app on RabbitMQ over one connection: one channel
// consumes events, another does passive queue declares.
type AMQP struct {
	health
	cfg    config.Watch
	broker config.Broker
	mgmt   *url.URL
	log    *slog.Logger
	sink   Sink
	sent   SentTimes
	http   *http.Client

	mu   sync.Mutex
	conn *amqp.Connection // nil while disconnected
	err  error            // why the last connection attempt failed
}

// NewAMQP builds the RabbitMQ watcher; Run starts it.
func NewAMQP(w config.Watch, log *slog.Logger, sink Sink, sent SentTimes) *AMQP {
	return &AMQP{cfg: w, broker: w.Broker, mgmt: w.Management, log: log, sink: sink, sent: sent,
		http: &http.Client{Timeout: 10 * time.Second}}
}

// Ready reports whether the connection is open.
func (a *AMQP) Ready(context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.conn == nil || a.conn.IsClosed() {
		if a.err != nil {
			return fmt.Errorf("broker %s unreachable: %w", a.broker.Redacted(), a.err)
		}
		return fmt.Errorf("broker %s unreachable: not connected", a.broker.Redacted())
	}
	return nil
}

// Run connects, consumes events and polls depth until ctx ends; it
// reconnects with backoff when the connection drops.
func (a *AMQP) Run(ctx context.Context) {
	bo := backoff.New(minBackoff, a.cfg.MaxBackoff)
	first := true
	for ctx.Err() == nil {
		if !first {
			a.reconnError.Add(1)
			if !bo.Wait(ctx) {
				return
			}
		}
		first = false
		conn, err := a.dial(ctx)
		a.mu.Lock()
		a.conn, a.err = conn, err
		a.mu.Unlock()
		if err != nil {
			a.up.Store(false)
			a.log.Warn("connecting to the broker", "broker", a.broker.Redacted(), "err", err)
			continue
		}
		bo.Reset()
		err = a.session(ctx, conn)
		_ = conn.Close()
		a.mu.Lock()
		a.conn, a.err = nil, err
		a.mu.Unlock()
		a.up.Store(false)
		a.streamUp.Store(false)
		if ctx.Err() == nil {
			a.log.Warn("broker connection lost; reconnecting", "broker", a.broker.Redacted(), "err", err)
		}
	}
}

func (a *AMQP) dial(ctx context.Context) (*amqp.Connection, error) {
	cfg := amqp.Config{Heartbeat: 10 * time.Second, Locale: "en_US",
		Properties: amqp.Table{"connection_name": "celery-exporter"},
		Dial: func(network, addr string) (net.Conn, error) {
			d := net.Dialer{Timeout: 5 * time.Second}
			return d.DialContext(ctx, network, addr)
		}}
	if a.cfg.TLS != nil {
		cfg.TLSClientConfig = a.cfg.TLS.Clone()
	}
	conn, err := amqp.DialConfig(a.broker.AMQPURL(), cfg)
	if err != nil {
		return nil, fmt.Errorf("dialing: %w", err)
	}
	return conn, nil
}

// session runs the event consumer and the poller on one connection until
// it closes or ctx ends.
func (a *AMQP) session(ctx context.Context, conn *amqp.Connection) error {
	closed := conn.NotifyClose(make(chan *amqp.Error, 1))
	deliveries, err := a.subscribe(conn)
	if err != nil {
		return err
	}
	a.streamUp.Store(true)
	var wg sync.WaitGroup
	defer wg.Wait() // after cancel: deferred calls run last-in first-out
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Go(func() { a.poll(sctx, conn) })
	dec := &events.Decoder{}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e := <-closed:
			if e == nil {
				return errors.New("connection closed")
			}
			return e
		case d, ok := <-deliveries:
			if !ok {
				return errors.New("event consumer cancelled")
			}
			a.messages.Add(1)
			if _, err := dec.AMQP(d.ContentType, d.Body, a.sink); err != nil {
				a.decodeError(err)
			}
		}
	}
}

// subscribe binds an auto-delete queue to celeryev as Celery's own event
// receivers do (message TTL 5 s, queue expiry 60 s), and consumes it.
func (a *AMQP) subscribe(conn *amqp.Connection) (<-chan amqp.Delivery, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("opening the event channel: %w", err)
	}
	if err := ch.ExchangeDeclare("celeryev", "topic", true, false, false, false, nil); err != nil {
		return nil, fmt.Errorf("declaring the celeryev exchange: %w", err)
	}
	var id [16]byte
	_, _ = rand.Read(id[:])
	name := "celeryev.outrigger-" + hex.EncodeToString(id[:])
	// Celery's own monitors let events expire after 5 s; an exporter that
	// falls behind for a moment (a loaded host, a GC pause) would lose them
	// and undercount. A minute bounds the pile-up just the same: the queue
	// is also auto-delete, gone with the consumer.
	args := amqp.Table{"x-message-ttl": int32(60000), "x-expires": int32(60000)}
	if _, err := ch.QueueDeclare(name, false, true, false, false, args); err != nil {
		return nil, fmt.Errorf("declaring the event queue: %w", err)
	}
	if err := ch.QueueBind(name, "#", "celeryev", false, nil); err != nil {
		return nil, fmt.Errorf("binding the event queue: %w", err)
	}
	if err := ch.Qos(2000, 0, false); err != nil {
		return nil, fmt.Errorf("setting prefetch: %w", err)
	}
	d, err := ch.Consume(name, "celery-exporter", true, false, false, false, nil)
	if err != nil {
		return nil, fmt.Errorf("consuming events: %w", err)
	}
	return d, nil
}

func (a *AMQP) poll(ctx context.Context, conn *amqp.Connection) {
	t := time.NewTicker(a.cfg.PollInterval)
	defer t.Stop()
	var ch *amqp.Channel
	defer func() {
		if ch != nil {
			_ = ch.Close()
		}
	}()
	for {
		start := time.Now()
		qs, err := a.pollOnce(ctx, conn, &ch)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			a.up.Store(false)
			a.pollErrors.Add(1)
			a.log.Warn("polling queue depth", "broker", a.broker.Redacted(), "err", err)
		} else {
			a.up.Store(true)
			a.setSnapshot(&Snapshot{Time: time.Now(), Duration: time.Since(start), Queues: qs})
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

type mgmtQueue struct {
	Name      string `json:"name"`
	Ready     int64  `json:"messages_ready"`
	Unacked   int64  `json:"messages_unacknowledged"`
	Consumers int64  `json:"consumers"`
}

func (a *AMQP) pollOnce(ctx context.Context, conn *amqp.Connection, ch **amqp.Channel) ([]Depth, error) {
	var mq map[string]mgmtQueue
	if a.mgmt != nil {
		var err error
		if mq, err = a.management(ctx); err != nil {
			return nil, err
		}
	}
	qs := slices.Clone(a.cfg.Queues)
	if a.cfg.DiscoverQueues {
		for name := range mq {
			if !skipQueue(name) {
				qs = append(qs, name)
			}
		}
	}
	if len(qs) == 0 {
		qs = []string{a.cfg.DefaultQueue}
	}
	slices.Sort(qs)
	qs = slices.Compact(qs)
	oldest := a.sent.OldestWaiting()
	now := float64(time.Now().UnixNano()) / 1e9
	out := make([]Depth, 0, len(qs))
	for _, q := range qs {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if *ch == nil || (*ch).IsClosed() {
			c, err := conn.Channel()
			if err != nil {
				return nil, fmt.Errorf("opening the poll channel: %w", err)
			}
			*ch = c
		}
		d := Depth{Queue: q, Unacked: -1, ETA: -1, OldestAge: -1}
		// A passive declare answers the ready count and consumers; a
		// missing queue (404) closes the channel, and holds nothing.
		info, err := (*ch).QueueDeclarePassive(q, false, false, false, false, nil)
		var ae *amqp.Error
		switch {
		case err == nil:
			d.Ready, d.Consumers = int64(info.Messages), int64(info.Consumers)
		case errors.As(err, &ae) && ae.Code == amqp.NotFound:
			*ch = nil
		default:
			return nil, fmt.Errorf("declaring queue %q passively: %w", q, err)
		}
		if m, ok := mq[q]; ok {
			d.Unacked = m.Unacked
		}
		if sent, ok := oldest[q]; ok && d.Ready > 0 {
			d.OldestAge = max(now-sent, 0)
		} else if d.Ready == 0 {
			d.OldestAge = 0
		}
		out = append(out, d)
	}
	return out, nil
}

// MaxManagementBody caps the management API's answer read per poll: with
// four columns a queue takes about 100 bytes, so 32 MiB is some 300,000
// queues.
const MaxManagementBody = 32 << 20

// management lists the vhost's queues from the management API.
func (a *AMQP) management(ctx context.Context) (map[string]mgmtQueue, error) {
	u := *a.mgmt
	user := u.User
	u.User = nil
	base := strings.TrimSuffix(u.Path, "/") // the API may sit under a path prefix
	u.Path = base + "/api/queues/" + a.broker.VHost
	u.RawPath = base + "/api/queues/" + url.PathEscape(a.broker.VHost)
	u.RawQuery = "columns=name,messages_ready,messages_unacknowledged,consumers"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("building the management request: %w", err)
	}
	if user != nil {
		pw, _ := user.Password()
		req.SetBasicAuth(user.Username(), pw)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is ours and harmless, but keep errors short
		}
		return nil, fmt.Errorf("asking the management API: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("asking the management API: %s", resp.Status)
	}
	var list []mgmtQueue
	if err := json.NewDecoder(promkit.CappedReader(resp.Body, MaxManagementBody)).Decode(&list); err != nil {
		return nil, fmt.Errorf("decoding the management API's queue list: %w", err)
	}
	out := make(map[string]mgmtQueue, len(list))
	for _, q := range list {
		out[q.Name] = q
	}
	return out, nil
}
