package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/outrigger/outrigger/exporters/celery/state"
)

// Config is what flags and environment say, before validation.
type Config struct {
	BrokerURL string
	// BrokerPassword, when set, replaces the password in BrokerURL (from
	// --broker.password-file).
	BrokerPassword string
	Queues         []string
	DiscoverQueues bool
	// DiscoverInterval is how often the queue list is refreshed (Redis:
	// a SCAN of the keyspace for kombu's binding sets).
	DiscoverInterval time.Duration

	// Redis transport options, as kombu names them.
	GlobalKeyPrefix string
	PrioritySteps   []int
	Separator       string
	FanoutPrefix    bool
	UnackedKey      string

	// ManagementURL is RabbitMQ's HTTP API (optional): unacked counts and
	// queue discovery.
	ManagementURL string
	// ManagementPassword, when set, replaces the URL's password (read from
	// --rabbitmq.management-password-file); the user is the URL's, or
	// without one the broker's.
	ManagementPassword string

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
	RuntimeBuckets      []float64
	WaitBuckets         []float64
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

// ValidatedConfig is a Config that passed Validate.
type ValidatedConfig struct {
	c      Config
	broker Broker
	mgmt   *url.URL
	host   state.HostnameMode
}

// Config returns the validated values.
func (v ValidatedConfig) Config() Config { return v.c }

// Broker returns the parsed broker URL.
func (v ValidatedConfig) Broker() Broker { return v.broker }

// Management returns RabbitMQ's management API URL (with credentials), or nil.
func (v ValidatedConfig) Management() *url.URL { return v.mgmt }

// ManagementRedacted is the management API's URL for logs: never the password.
func (v ValidatedConfig) ManagementRedacted() string {
	if v.mgmt == nil {
		return ""
	}
	u := *v.mgmt
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	return u.String()
}

// TrackerOptions returns the options of the event state.
func (v ValidatedConfig) TrackerOptions() state.Options {
	c := v.c
	return state.Options{TaskCapacity: c.TaskCapacity, TaskTTL: c.TaskTTL, HostnameMode: v.host,
		GenericSentHostname: c.GenericSentHostname, Expiry: c.WorkerExpiry, TopTasks: c.TopTasks,
		DefaultQueue: c.DefaultQueue, RuntimeBuckets: c.RuntimeBuckets, WaitBuckets: c.WaitBuckets}
}

// Validate checks the configuration; errors never contain a password.
func (c Config) Validate() (ValidatedConfig, error) {
	var errs []error
	v := ValidatedConfig{c: c}
	b, err := ParseBroker(c.BrokerURL)
	if err != nil {
		errs = append(errs, fmt.Errorf("--broker-url: %w", err))
	}
	if c.BrokerPassword != "" {
		b.Password = c.BrokerPassword
	}
	v.broker = b
	if c.ManagementURL != "" {
		u, err := url.Parse(c.ManagementURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, errors.New("--rabbitmq.management-url: want http(s)://user@host:port"))
		} else if c.ManagementPassword != "" {
			user := b.Username
			if u.User != nil && u.User.Username() != "" {
				user = u.User.Username()
			}
			u.User = url.UserPassword(user, c.ManagementPassword)
		}
		v.mgmt = u
	}
	switch c.HostnameMode {
	case "", "full":
		v.host = state.HostnameFull
	case "host":
		v.host = state.HostnameHost
	case "generic":
		v.host = state.HostnameGeneric
	default:
		errs = append(errs, fmt.Errorf("--hostname.mode %q: want full, host or generic", c.HostnameMode))
	}
	if len(c.PrioritySteps) == 0 {
		v.c.PrioritySteps = []int{0, 3, 6, 9}
	}
	steps := slices.Clone(v.c.PrioritySteps)
	slices.Sort(steps)
	v.c.PrioritySteps = slices.Compact(steps)
	for _, s := range v.c.PrioritySteps {
		if s < 0 || s > 255 {
			errs = append(errs, fmt.Errorf("--redis.priority-steps: %d is out of 0-255", s))
		}
	}
	if v.c.Separator == "" {
		v.c.Separator = "\x06\x16"
	}
	if v.c.UnackedKey == "" {
		v.c.UnackedKey = "unacked"
	}
	if v.c.DefaultQueue == "" {
		v.c.DefaultQueue = "celery"
	}
	for _, q := range c.Queues {
		if q == "" {
			errs = append(errs, errors.New("--queue: empty queue name"))
		}
	}
	if v.c.DiscoverInterval <= 0 {
		v.c.DiscoverInterval = time.Minute
	}
	if c.PollInterval <= 0 {
		errs = append(errs, errors.New("--queue.poll-interval must be positive"))
	}
	if c.SilenceTimeout <= 0 || c.MaxBackoff <= 0 {
		errs = append(errs, errors.New("--events.silence-timeout and --broker.max-backoff must be positive"))
	}
	if c.TaskCapacity <= 0 || c.TaskTTL <= 0 {
		errs = append(errs, errors.New("--task.capacity and --task.ttl must be positive"))
	}
	if c.TopTasks < 0 || c.WorkerExpiry < 0 {
		errs = append(errs, errors.New("--task.top-n and --worker.expire-after must not be negative"))
	}
	for _, bs := range [][]float64{c.RuntimeBuckets, c.WaitBuckets} {
		if !slices.IsSorted(bs) {
			errs = append(errs, errors.New("histogram buckets must be in increasing order"))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return ValidatedConfig{}, err
	}
	return v, nil
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
