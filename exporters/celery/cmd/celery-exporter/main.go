// Command celery-exporter exposes Celery queue depth, task and worker metrics
// to Prometheus from the broker's event stream, without asking workers.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/outrigger/outrigger/exporters/celery/config"
	"github.com/outrigger/outrigger/exporters/celery/exporter"
	"github.com/outrigger/outrigger/internal/promkit"
)

const envPrefix = "CELERY_EXPORTER_"

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	app := kingpin.New("celery-exporter", "Prometheus exporter for Celery: queue depth, task and worker metrics from the broker's event stream.")
	common := promkit.AddFlags(app, promkit.Defaults{Service: "celery-exporter", ListenAddress: ":9808", EnvPrefix: envPrefix})
	flag := common.Flag
	var c config.Config
	app.Flag("broker-url", "Celery broker URL: redis://, rediss://, amqp://, amqps://.").
		Envar("CELERY_BROKER_URL").Default("redis://localhost:6379/0").StringVar(&c.BrokerURL)
	passwordFile := flag("broker.password-file", "File holding the broker password (overrides the URL's).").String()
	flag("queue", "Queue to watch; repeatable (added to the discovered ones).").StringsVar(&c.Queues)
	flag("queue.discover", "Discover queues from kombu's bindings (Redis) or the management API (RabbitMQ).").Default("true").BoolVar(&c.DiscoverQueues)
	flag("queue.discover-interval", "How often the queue list is refreshed (Redis: a SCAN for kombu's binding sets).").Default("1m").DurationVar(&c.DiscoverInterval)
	flag("queue.poll-interval", "How often queue depth is read in the background.").Default("10s").DurationVar(&c.PollInterval)
	flag("redis.global-keyprefix", "kombu's global_keyprefix transport option.").StringVar(&c.GlobalKeyPrefix)
	steps := flag("redis.priority-steps", "kombu's priority_steps, comma-separated.").Default("0,3,6,9").String()
	sep := flag("redis.separator", `kombu's priority list separator ("sep"); Go escapes allowed.`).Default(`\x06\x16`).String()
	flag("redis.fanout-prefix", "kombu's fanout_prefix: event channels start with /<db>.").Default("true").BoolVar(&c.FanoutPrefix)
	flag("redis.unacked-key", "kombu's unacked_key transport option.").Default("unacked").StringVar(&c.UnackedKey)
	flag("rabbitmq.management-url", "RabbitMQ management API, http://user@host:15672 (unacked counts, queue discovery); keep the password out of it: use --rabbitmq.management-password-file.").StringVar(&c.ManagementURL)
	mgmtPasswordFile := flag("rabbitmq.management-password-file", "File holding the management API password (overrides the URL's); the user is the URL's, or the broker's.").String()
	flag("events.silence-timeout", "Ping the event subscription after this long without a message; reopen it if the ping is not answered as long again.").Default("30s").DurationVar(&c.SilenceTimeout)
	flag("broker.max-backoff", "Longest wait between reconnects.").Default("30s").DurationVar(&c.MaxBackoff)
	flag("task.capacity", "Tasks in flight remembered (to label events that carry only an id).").Default("100000").IntVar(&c.TaskCapacity)
	flag("task.ttl", "Forget a task in flight after this long without an event.").Default("1h").DurationVar(&c.TaskTTL)
	flag("task.top-n", "Label only the first N distinct task names, the rest as \"other\" (0: all).").Default("0").IntVar(&c.TopTasks)
	flag("hostname.mode", "hostname label of task and worker series: host (the part after @, as the incumbent), full (name@host), or generic (tasks only; workers keep host).").Default("host").EnumVar(&c.HostnameMode, "full", "host", "generic")
	app.Flag("generic-hostname-task-sent-metric", "Label celery_task_sent_total hostname=\"generic\" (producers come and go).").
		Envar("CE_GENERIC_HOSTNAME_TASK_SENT_METRIC").BoolVar(&c.GenericSentHostname)
	flag("worker.expire-after", "Remove every series of a hostname that sent nothing for this long (0: never).").Default("30m").DurationVar(&c.WorkerExpiry)
	flag("default-queue-name", "queue_name of tasks no event routed (no task-sent seen).").Default("celery").StringVar(&c.DefaultQueue)
	buckets := flag("buckets", "celery_task_runtime buckets, comma-separated seconds.").Default(".005,.01,.025,.05,.075,.1,.25,.5,.75,1,2.5,5,7.5,10").String()
	waitBuckets := flag("queue-wait-buckets", "celery_task_queue_wait_time buckets, comma-separated seconds.").Default(".05,.1,.25,.5,1,2.5,5,10,30,60,120,300,600,1800").String()
	configCheck := app.Flag("config.check", "Validate the configuration and exit.").Bool()

	if _, err := app.Parse(args); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v (see --help)\n", app.Name, err)
		return 2
	}
	vc, err := common.Config().Validate()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", app.Name, err)
		return 2
	}
	if code, done := promkit.HealthCheck(context.Background(), vc, os.Stderr); done {
		return code
	}
	if c.BrokerPassword, err = promkit.Secret("", *passwordFile); err != nil {
		fmt.Fprintf(os.Stderr, "%s: --broker.password-file: %v\n", app.Name, err)
		return 2
	}
	if c.ManagementPassword, err = promkit.Secret("", *mgmtPasswordFile); err != nil {
		fmt.Fprintf(os.Stderr, "%s: --rabbitmq.management-password-file: %v\n", app.Name, err)
		return 2
	}
	if c.PrioritySteps, err = ints(*steps); err != nil {
		fmt.Fprintf(os.Stderr, "%s: --redis.priority-steps: %v\n", app.Name, err)
		return 2
	}
	if c.Separator, err = strconv.Unquote(`"` + strings.ReplaceAll(*sep, `"`, `\"`) + `"`); err != nil {
		fmt.Fprintf(os.Stderr, "%s: --redis.separator: %v\n", app.Name, err)
		return 2
	}
	if c.RuntimeBuckets, err = floats(*buckets); err == nil {
		c.WaitBuckets, err = floats(*waitBuckets)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: buckets: %v\n", app.Name, err)
		return 2
	}
	cfg, err := c.Validate()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", app.Name, err)
		return 2
	}
	if *configCheck {
		fmt.Printf("configuration is valid: broker %s\n", cfg.Broker().Redacted())
		if m := cfg.ManagementRedacted(); m != "" {
			fmt.Printf("management API %s\n", m)
		}
		return 0
	}
	log := vc.Logger()
	// The celery mixin's CeleryWorkerDown needs celery_worker_up == 0 for
	// 15m: a shorter expiry removes the series before the alert can fire.
	if e := c.WorkerExpiry; e > 0 && e < 15*time.Minute {
		log.Warn("--worker.expire-after is shorter than the celery mixin's CeleryWorkerDown window (15m): that alert cannot fire", "expire_after", e)
	}
	exp := exporter.New(cfg, log)
	srv, err := promkit.NewServer(vc, promkit.Options{Namespace: "celery",
		Description: "Celery queue depth, task and worker metrics.", Ready: exp.Ready,
		Target: func(*http.Request) (string, promkit.StartFunc, error) { return "default", exp.Runner().Start, nil }})
	if err != nil {
		log.Error("building the server", "err", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exp.Start(ctx)
	defer exp.Stop()
	log.Info("watching", "broker", cfg.Broker().Redacted(), "management", cfg.ManagementRedacted())
	if err := srv.Run(ctx, nil); err != nil {
		log.Error("serving", "err", err)
		return 1
	}
	return 0
}

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func floats(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", f)
		}
		out = append(out, n)
	}
	return out, nil
}
