package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/redis/go-redis/v9"

	"github.com/outrigger/outrigger/exporters/celery/config"
	"github.com/outrigger/outrigger/exporters/celery/events"
	"github.com/outrigger/outrigger/internal/promkit/backoff"
)

// Redis watches a Celery app on a Redis broker.
type Redis struct {
	health
	cfg    config.Watch
	broker config.Broker
	log    *slog.Logger
	sink   Sink
	sent   SentTimes
	client *redis.Client

	// owned by the poller goroutine
	discovered   []string
	discoveredAt time.Time
	bindings     map[string]string // exchange + "\x00" + routing key -> queue
	tails        map[string]tail   // list key -> oldest message seen there
}

type tail struct {
	id        string
	firstSeen time.Time
}

// NewRedis builds the Redis watcher; Run starts it.
func NewRedis(w config.Watch, log *slog.Logger, sink Sink, sent SentTimes) *Redis {
	b := w.Broker
	opts := &redis.Options{Addr: b.Addr, Username: b.Username, Password: b.Password, DB: b.DB,
		PoolSize: 1, MaxRetries: -1, DialTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 5 * time.Second, DisableIdentity: true, TLSConfig: w.TLS}
	return &Redis{cfg: w, broker: b, log: log, sink: sink, sent: sent,
		client: redis.NewClient(opts), tails: map[string]tail{}}
}

// Run consumes events and polls depth until ctx ends, then closes the client.
func (r *Redis) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { r.consume(ctx) })
	wg.Go(func() { r.poll(ctx) })
	wg.Wait()
	_ = r.client.Close()
}

// Ready pings the broker.
func (r *Redis) Ready(ctx context.Context) error {
	if err := r.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("broker %s unreachable: %w", r.broker.Redacted(), err)
	}
	return nil
}

func (r *Redis) eventPattern() string {
	prefix := r.cfg.GlobalKeyPrefix
	if r.cfg.FanoutPrefix {
		prefix += fmt.Sprintf("/%d.", r.broker.DB)
	}
	return prefix + "celeryev/*"
}

// consume keeps a pattern subscription open, reopening it with backoff after
// errors and when it went silent and did not answer a ping.
func (r *Redis) consume(ctx context.Context) {
	bo := backoff.New(minBackoff, r.cfg.MaxBackoff)
	dec := &events.Decoder{}
	for ctx.Err() == nil {
		err := r.subscribeOnce(ctx, dec, &bo)
		r.streamUp.Store(false)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errSilent) {
			r.reconnSilent.Add(1)
		} else {
			r.reconnError.Add(1)
		}
		r.log.Warn("event stream lost; reconnecting", "broker", r.broker.Redacted(), "err", err)
		if !bo.Wait(ctx) {
			return
		}
	}
}

var errSilent = errors.New("event stream silent and did not answer a ping")

func (r *Redis) subscribeOnce(ctx context.Context, dec *events.Decoder, bo *backoff.Backoff) error {
	ps := r.client.PSubscribe(ctx)
	defer ps.Close()
	// A blocked receive does not watch ctx: closing the connection ends it.
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer stop()
	if err := ps.PSubscribe(ctx, r.eventPattern()); err != nil {
		return fmt.Errorf("subscribing: %w", err)
	}
	// Wait for the subscription confirmation so that "up" means subscribed.
	if _, err := ps.ReceiveTimeout(ctx, 10*time.Second); err != nil {
		return fmt.Errorf("confirming subscription: %w", err)
	}
	r.streamUp.Store(true)
	bo.Reset()
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, r.cfg.SilenceTimeout)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				if pinged {
					return errSilent
				}
				// Silence is normal without workers; a dead connection is
				// not. A ping tells them apart.
				if err := ps.Ping(ctx); err != nil {
					return fmt.Errorf("pinging the subscription: %w", err)
				}
				pinged = true
				continue
			}
			return fmt.Errorf("receiving: %w", err)
		}
		pinged = false
		m, ok := msg.(*redis.Message)
		if !ok {
			continue // *redis.Pong, subscription confirmations
		}
		r.messages.Add(1)
		payload := unsafe.Slice(unsafe.StringData(m.Payload), len(m.Payload))
		if _, err := dec.Redis(payload, r.sink); err != nil {
			r.decodeError(err)
		}
	}
}

// poll refreshes the depth snapshot every PollInterval.
func (r *Redis) poll(ctx context.Context) {
	t := time.NewTicker(r.cfg.PollInterval)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, max(r.cfg.PollInterval, 5*time.Second))
		start := time.Now()
		qs, err := r.pollOnce(pctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.up.Store(false)
			r.pollErrors.Add(1)
			r.log.Warn("polling queue depth", "broker", r.broker.Redacted(), "err", err)
		} else {
			r.up.Store(true)
			r.setSnapshot(&Snapshot{Time: time.Now(), Duration: time.Since(start), Queues: qs})
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (r *Redis) key(k string) string { return r.cfg.GlobalKeyPrefix + k }

// listKeys are the lists kombu keeps for a queue, one per priority step.
func (r *Redis) listKeys(q string) []string {
	keys := make([]string, 0, len(r.cfg.PrioritySteps))
	for _, s := range r.cfg.PrioritySteps {
		if s == 0 {
			keys = append(keys, r.key(q))
		} else {
			keys = append(keys, r.key(q+r.cfg.Separator+strconv.Itoa(s)))
		}
	}
	return keys
}

func (r *Redis) queues(ctx context.Context) ([]string, error) {
	if r.cfg.DiscoverQueues && time.Since(r.discoveredAt) >= r.cfg.DiscoverInterval {
		found, bindings, err := r.discover(ctx)
		if err != nil {
			return nil, err
		}
		r.discovered, r.bindings, r.discoveredAt = found, bindings, time.Now()
	}
	qs := slices.Concat(r.cfg.Queues, r.discovered)
	if len(qs) == 0 {
		qs = []string{r.cfg.DefaultQueue}
	}
	slices.Sort(qs)
	return slices.Compact(qs), nil
}

// discover reads kombu's binding sets: members are
// routing_key SEP pattern SEP queue.
func (r *Redis) discover(ctx context.Context) ([]string, map[string]string, error) {
	prefix := r.key("_kombu.binding.")
	var keys []string
	iter := r.client.Scan(ctx, 0, prefix+"*", 500).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return nil, nil, fmt.Errorf("scanning bindings: %w", err)
	}
	seen := map[string]bool{}
	bindings := map[string]string{}
	for _, k := range keys {
		exchange := strings.TrimPrefix(k, prefix)
		if exchange == "celeryev" || strings.HasSuffix(exchange, "pidbox") {
			continue
		}
		members, err := r.client.SMembers(ctx, k).Result()
		if err != nil {
			return nil, nil, fmt.Errorf("reading bindings: %w", err)
		}
		for _, m := range members {
			parts := strings.Split(m, r.cfg.Separator)
			q := parts[len(parts)-1]
			if skipQueue(q) {
				continue
			}
			seen[q] = true
			bindings[exchange+"\x00"+parts[0]] = q
		}
	}
	out := make([]string, 0, len(seen))
	for q := range seen {
		out = append(out, q)
	}
	return out, bindings, nil
}

func (r *Redis) pollOnce(ctx context.Context) ([]Depth, error) {
	qs, err := r.queues(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	pipe := r.client.Pipeline()
	lens := make([][]*redis.IntCmd, len(qs))
	for i, q := range qs {
		for _, k := range r.listKeys(q) {
			lens[i] = append(lens[i], pipe.LLen(ctx, k))
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("reading queue lengths: %w", err)
	}
	// The tail of each list is its oldest message (LPUSH, BRPOP).
	tails := map[string]*redis.StringCmd{}
	pipe = r.client.Pipeline()
	for i, q := range qs {
		for j, k := range r.listKeys(q) {
			if lens[i][j].Val() > 0 {
				tails[k] = pipe.LIndex(ctx, k, -1)
			}
		}
	}
	if len(tails) > 0 {
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("reading queue tails: %w", err)
		}
	}
	unacked, eta, err := r.unacked(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Depth, len(qs))
	newTails := map[string]tail{}
	for i, q := range qs {
		d := Depth{Queue: q, Unacked: unacked[q], ETA: eta[q], Consumers: -1, OldestAge: -1}
		for j, k := range r.listKeys(q) {
			d.Ready += lens[i][j].Val()
			cmd, ok := tails[k]
			if !ok || cmd.Err() != nil {
				continue
			}
			id := messageID(cmd.Val())
			tl, ok := r.tails[k]
			if !ok || tl.id != id {
				tl = tail{id: id, firstSeen: now}
			}
			newTails[k] = tl
			age := now.Sub(tl.firstSeen).Seconds()
			if sent, ok := r.sent.SentTime(id); ok && id != "" {
				age = max(age, float64(now.UnixNano())/1e9-sent)
			}
			d.OldestAge = max(d.OldestAge, age)
		}
		if d.Ready == 0 {
			d.OldestAge = 0
		}
		out[i] = d
	}
	r.tails = newTails
	return out, nil
}

// maxUnackedScan bounds the work of reading the unacked hash per poll.
const maxUnackedScan = 100000

// unacked counts kombu's unacked hash by queue: its values are
// [message, exchange, routing_key].
func (r *Redis) unacked(ctx context.Context) (map[string]int64, map[string]int64, error) {
	counts, etas := map[string]int64{}, map[string]int64{}
	var cursor uint64
	scanned := 0
	for {
		kv, next, err := r.client.HScan(ctx, r.key(r.cfg.UnackedKey), cursor, "", 1000).Result()
		if err != nil {
			return nil, nil, fmt.Errorf("reading unacked messages: %w", err)
		}
		for i := 1; i < len(kv); i += 2 {
			q, hasETA := r.unackedQueue(kv[i])
			counts[q]++
			if hasETA {
				etas[q]++
			}
		}
		scanned += len(kv) / 2
		cursor = next
		if cursor == 0 || scanned >= maxUnackedScan {
			return counts, etas, nil
		}
	}
}

type unackedMessage struct {
	Headers struct {
		ETA *string `json:"eta"`
	} `json:"headers"`
}

func (r *Redis) unackedQueue(v string) (string, bool) {
	var parts []json.RawMessage
	if err := json.Unmarshal([]byte(v), &parts); err != nil || len(parts) < 3 {
		return "", false
	}
	var msg unackedMessage
	_ = json.Unmarshal(parts[0], &msg)
	var exchange, rk string
	_ = json.Unmarshal(parts[1], &exchange)
	_ = json.Unmarshal(parts[2], &rk)
	q := rk
	if bq, ok := r.bindings[exchange+"\x00"+rk]; ok {
		q = bq
	}
	return q, msg.Headers.ETA != nil && *msg.Headers.ETA != ""
}

type queuedMessage struct {
	Headers struct {
		ID string `json:"id"`
	} `json:"headers"`
	Properties struct {
		DeliveryTag string `json:"delivery_tag"`
	} `json:"properties"`
}

// messageID identifies a queued message: its task id, else its delivery tag.
func messageID(raw string) string {
	var m queuedMessage
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return raw[:min(len(raw), 64)]
	}
	if m.Headers.ID != "" {
		return m.Headers.ID
	}
	return m.Properties.DeliveryTag
}
