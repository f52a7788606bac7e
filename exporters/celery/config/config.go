package config

import (
	"cmp"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	commoncfg "github.com/prometheus/common/config"

	"github.com/outrigger/outrigger/exporters/celery/state"
	"github.com/outrigger/outrigger/internal/promkit"
)

// Config is what flags and environment say, before validation.
type Config struct {
	BrokerURL string
	// BrokerPasswordFile, when set, holds the password that replaces
	// BrokerURL's (--broker.password-file).
	BrokerPasswordFile string
	Queues             []string
	DiscoverQueues     bool
	// DiscoverInterval is how often the queue list is refreshed (Redis:
	// a SCAN of the keyspace for kombu's binding sets).
	DiscoverInterval time.Duration

	// Redis transport options, as kombu names them. PrioritySteps is
	// comma-separated; Separator may hold Go escapes (\x06\x16).
	GlobalKeyPrefix string
	PrioritySteps   string
	Separator       string
	FanoutPrefix    bool
	UnackedKey      string

	// ManagementURL is RabbitMQ's HTTP API (optional): unacked counts and
	// queue discovery.
	ManagementURL string
	// ManagementPasswordFile, when set, holds the password that replaces
	// the URL's (--rabbitmq.management-password-file); the user is the
	// URL's, or without one the broker's.
	ManagementPasswordFile string

	PollInterval   time.Duration
	SilenceTimeout time.Duration
	MaxBackoff     time.Duration

	TaskCapacity        int
	TaskTTL             time.Duration
	TopTasks            int
	HostnameMode        string
	GenericSentHostname bool
	WorkerExpiry        time.Duration
	DefaultQueue        string
	// RuntimeBuckets and WaitBuckets are comma-separated seconds ("": the
	// incumbent's).
	RuntimeBuckets string
	WaitBuckets    string
}

// Kind of broker.
type Kind int

// Broker kinds.
const (
	Redis Kind = iota + 1
	AMQP
)

// Broker is a parsed broker URL.
type Broker struct {
	Kind     Kind
	TLS      bool
	Addr     string // host:port
	Username string
	Password string
	DB       int    // Redis
	VHost    string // AMQP
}

// Redacted is the broker's address for logs and errors: never the password.
func (b Broker) Redacted() string {
	scheme := map[Kind]string{Redis: "redis", AMQP: "amqp"}[b.Kind]
	if b.TLS {
		scheme += "s"
	}
	if b.Kind == Redis {
		return fmt.Sprintf("%s://%s/%d", scheme, b.Addr, b.DB)
	}
	return fmt.Sprintf("%s://%s/%s", scheme, b.Addr, url.PathEscape(b.VHost))
}

// AMQPURL is the URL to dial, with credentials.
func (b Broker) AMQPURL() string {
	scheme := "amqp"
	if b.TLS {
		scheme = "amqps"
	}
	u := url.URL{Scheme: scheme, Host: b.Addr, User: url.UserPassword(b.Username, b.Password),
		Path: "/" + b.VHost, RawPath: "/" + url.PathEscape(b.VHost)}
	return u.String()
}

// ValidatedConfig is a Config that passed Validate: everything parsed,
// handed to each component as its options.
type ValidatedConfig struct {
	watch   Watch
	tracker state.Options
	expiry  time.Duration
}

// Watch is what a broker watcher needs: where the broker is and how to
// read it.
type Watch struct {
	Broker Broker
	// TLS is the broker connection's client TLS configuration (nil without
	// TLS).
	TLS *tls.Config
	// Management is RabbitMQ's management API URL (with credentials), or nil.
	Management *url.URL

	Queues           []string
	DiscoverQueues   bool
	DiscoverInterval time.Duration
	DefaultQueue     string
	PollInterval     time.Duration
	SilenceTimeout   time.Duration
	MaxBackoff       time.Duration

	// Redis transport options, as kombu names them.
	GlobalKeyPrefix string
	PrioritySteps   []int // sorted, without duplicates
	Separator       string
	FanoutPrefix    bool
	UnackedKey      string
}

// Broker returns the parsed broker URL.
func (v ValidatedConfig) Broker() Broker { return v.watch.Broker }

// Management returns RabbitMQ's management API URL (with credentials), or nil.
func (v ValidatedConfig) Management() *url.URL { return v.watch.Management }

// WatchOptions returns the options of the broker watcher.
func (v ValidatedConfig) WatchOptions() Watch { return v.watch }

// TrackerOptions returns the options of the event state.
func (v ValidatedConfig) TrackerOptions() state.Options { return v.tracker }

// Warnings are settings that are valid but defeat something a user likely
// relies on, for main to log.
func (v ValidatedConfig) Warnings() []string {
	// The celery mixin's CeleryWorkerDown needs celery_worker_up == 0 for
	// 15m: a shorter expiry removes the series before the alert can fire.
	if e := v.expiry; e > 0 && e < 15*time.Minute {
		return []string{fmt.Sprintf("--worker.expire-after %s is shorter than the celery mixin's CeleryWorkerDown window (15m): that alert cannot fire", e)}
	}
	return nil
}

// ManagementRedacted is the management API's URL for logs: never the password.
func (v ValidatedConfig) ManagementRedacted() string {
	if v.watch.Management == nil {
		return ""
	}
	u := *v.watch.Management
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	return u.String()
}

// Validate checks and parses the configuration, and reads the password
// files; errors name the flag and never contain a password.
func (c Config) Validate() (ValidatedConfig, error) {
	var errs []error
	fail := func(err error) { errs = append(errs, err) }
	w, err := c.watch(fail)
	if err != nil {
		return ValidatedConfig{}, err
	}
	v := ValidatedConfig{watch: w, expiry: c.WorkerExpiry}
	v.tracker = c.trackerOptions(fail)
	if err := errors.Join(errs...); err != nil {
		return ValidatedConfig{}, err
	}
	return v, nil
}

// watch parses what the broker watcher needs; fail collects errors, and an
// unreadable password file ends validation at once.
func (c Config) watch(fail func(error)) (Watch, error) {
	b, err := ParseBroker(c.BrokerURL)
	if err != nil {
		fail(fmt.Errorf("--broker-url: %w", err))
	}
	pw, err := promkit.Secret("", c.BrokerPasswordFile)
	if err != nil {
		return Watch{}, fmt.Errorf("--broker.password-file: %w", err)
	}
	if pw != "" {
		b.Password = pw
	}
	w := Watch{Broker: b, Queues: c.Queues, DiscoverQueues: c.DiscoverQueues, DiscoverInterval: c.DiscoverInterval,
		DefaultQueue: cmp.Or(c.DefaultQueue, "celery"), PollInterval: c.PollInterval, SilenceTimeout: c.SilenceTimeout,
		MaxBackoff: c.MaxBackoff, GlobalKeyPrefix: c.GlobalKeyPrefix, FanoutPrefix: c.FanoutPrefix,
		UnackedKey: cmp.Or(c.UnackedKey, "unacked")}
	if b.TLS {
		if w.TLS, err = tlsConfig(b.Addr); err != nil {
			fail(fmt.Errorf("--broker-url: %w", err))
		}
	}
	if w.Management, err = c.management(b); err != nil {
		return Watch{}, err
	}
	if c.ManagementURL != "" && w.Management == nil {
		fail(errors.New("--rabbitmq.management-url: want http(s)://user@host:port"))
	}
	if w.PrioritySteps, err = prioritySteps(c.PrioritySteps); err != nil {
		fail(fmt.Errorf("--redis.priority-steps: %w", err))
	}
	if w.Separator, err = unescape(cmp.Or(c.Separator, `\x06\x16`)); err != nil {
		fail(fmt.Errorf("--redis.separator: %w", err))
	}
	for _, q := range c.Queues {
		if q == "" {
			fail(errors.New("--queue: empty queue name"))
		}
	}
	if w.DiscoverInterval <= 0 {
		w.DiscoverInterval = time.Minute
	}
	if c.PollInterval <= 0 {
		fail(errors.New("--queue.poll-interval must be positive"))
	}
	if c.SilenceTimeout <= 0 || c.MaxBackoff <= 0 {
		fail(errors.New("--events.silence-timeout and --broker.max-backoff must be positive"))
	}
	return w, nil
}

// tlsConfig is the broker connection's client TLS: the host's certificate,
// TLS 1.2 or later.
func tlsConfig(addr string) (*tls.Config, error) {
	host, _, _ := net.SplitHostPort(addr)
	return commoncfg.NewTLSConfig(&commoncfg.TLSConfig{ServerName: host, MinVersion: commoncfg.TLSVersion(tls.VersionTLS12)})
}

// management parses the management API URL (nil when it is not one) and
// puts the password file's password into it.
func (c Config) management(b Broker) (*url.URL, error) {
	if c.ManagementURL == "" {
		return nil, nil
	}
	pw, err := promkit.Secret("", c.ManagementPasswordFile)
	if err != nil {
		return nil, fmt.Errorf("--rabbitmq.management-password-file: %w", err)
	}
	u, err := url.Parse(c.ManagementURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, nil
	}
	if pw != "" {
		user := b.Username
		if u.User != nil && u.User.Username() != "" {
			user = u.User.Username()
		}
		u.User = url.UserPassword(user, pw)
	}
	return u, nil
}

func (c Config) trackerOptions(fail func(error)) state.Options {
	o := state.Options{TaskCapacity: c.TaskCapacity, TaskTTL: c.TaskTTL, GenericSentHostname: c.GenericSentHostname,
		Expiry: c.WorkerExpiry, TopTasks: c.TopTasks, DefaultQueue: cmp.Or(c.DefaultQueue, "celery")}
	switch c.HostnameMode {
	case "", "full":
		o.HostnameMode = state.HostnameFull
	case "host":
		o.HostnameMode = state.HostnameHost
	case "generic":
		o.HostnameMode = state.HostnameGeneric
	default:
		fail(fmt.Errorf("--hostname.mode %q: want full, host or generic", c.HostnameMode))
	}
	if c.TaskCapacity <= 0 || c.TaskTTL <= 0 {
		fail(errors.New("--task.capacity and --task.ttl must be positive"))
	}
	if c.TopTasks < 0 || c.WorkerExpiry < 0 {
		fail(errors.New("--task.top-n and --worker.expire-after must not be negative"))
	}
	var err error
	if o.RuntimeBuckets, err = buckets(c.RuntimeBuckets); err != nil {
		fail(fmt.Errorf("--buckets: %w", err))
	}
	if o.WaitBuckets, err = buckets(c.WaitBuckets); err != nil {
		fail(fmt.Errorf("--queue-wait-buckets: %w", err))
	}
	return o
}

// prioritySteps parses kombu's priority_steps, "0,3,6,9" when empty, into
// sorted steps without duplicates.
func prioritySteps(s string) ([]int, error) {
	steps, err := list(cmp.Or(s, "0,3,6,9"), strconv.Atoi)
	if err != nil {
		return nil, err
	}
	if len(steps) == 0 {
		steps = []int{0, 3, 6, 9}
	}
	slices.Sort(steps)
	steps = slices.Compact(steps)
	for _, st := range steps {
		if st < 0 || st > 255 {
			return nil, fmt.Errorf("%d is out of 0-255", st)
		}
	}
	return steps, nil
}

// buckets parses histogram bucket bounds in increasing order; "" is nil
// (the tracker's defaults).
func buckets(s string) ([]float64, error) {
	bs, err := list(s, func(f string) (float64, error) { return strconv.ParseFloat(f, 64) })
	if err != nil {
		return nil, err
	}
	if !slices.IsSorted(bs) {
		return nil, errors.New("buckets must be in increasing order")
	}
	return bs, nil
}

// list parses a comma-separated list, skipping empty fields.
func list[T any](s string, parse func(string) (T, error)) ([]T, error) {
	var out []T
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := parse(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// unescape reads Go escapes (\x06) in a flag value.
func unescape(s string) (string, error) {
	return strconv.Unquote(`"` + strings.ReplaceAll(s, `"`, `\"`) + `"`)
}

// ParseBroker parses a Celery broker URL: redis://, rediss://, amqp://,
// amqps:// (and pyamqp://). Errors never repeat the URL: it may hold a password.
func ParseBroker(raw string) (Broker, error) {
	if raw == "" {
		return Broker{}, errors.New("empty; set it or CELERY_BROKER_URL")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return Broker{}, errors.New("not a URL")
	}
	var b Broker
	defaultPort := ""
	switch strings.ToLower(u.Scheme) {
	case "redis":
		b.Kind, defaultPort = Redis, "6379"
	case "rediss":
		b.Kind, b.TLS, defaultPort = Redis, true, "6379"
	case "amqp", "pyamqp", "librabbitmq":
		b.Kind, defaultPort = AMQP, "5672"
	case "amqps":
		b.Kind, b.TLS, defaultPort = AMQP, true, "5671"
	default:
		return Broker{}, fmt.Errorf("scheme %q: want redis, rediss, amqp or amqps", u.Scheme)
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		host = "localhost"
	}
	if port == "" {
		port = defaultPort
	}
	b.Addr = net.JoinHostPort(host, port)
	if u.User != nil {
		b.Username = u.User.Username()
		b.Password, _ = u.User.Password()
	}
	path := strings.TrimPrefix(u.Path, "/")
	switch b.Kind {
	case Redis:
		if path != "" {
			db, err := strconv.Atoi(path)
			if err != nil || db < 0 {
				return Broker{}, fmt.Errorf("redis database %q is not a number", path)
			}
			b.DB = db
		}
		if q := u.Query().Get("db"); q != "" {
			db, err := strconv.Atoi(q)
			if err != nil || db < 0 {
				return Broker{}, fmt.Errorf("redis database %q is not a number", q)
			}
			b.DB = db
		}
	case AMQP:
		if b.Username == "" {
			b.Username, b.Password = "guest", "guest"
		}
		b.VHost = path
		if path == "" {
			b.VHost = "/"
		}
		if vh, err := url.PathUnescape(path); err == nil && path != "" {
			b.VHost = vh
		}
	}
	return b, nil
}
