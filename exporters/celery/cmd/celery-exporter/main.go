// Command celery-exporter exposes Celery queue depth, task and worker metrics
// to Prometheus from the broker's event stream, without asking workers.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"

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
	var c config.Config
	addFlags(app, common.Flag, &c)
	configCheck := app.Flag("config.check", "Validate the configuration and exit.").Bool()

	vc, code, done := promkit.Parse(app, common, args, os.Stderr)
	if done {
		return code
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
	for _, w := range cfg.Warnings() {
		log.Warn(w)
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

// addFlags declares the exporter's own flags, which fill c.
func addFlags(app *kingpin.Application, flag func(name, help string) *kingpin.FlagClause, c *config.Config) {
	app.Flag("broker-url", "Celery broker URL: redis://, rediss://, amqp://, amqps://.").
		Envar("CELERY_BROKER_URL").Default("redis://localhost:6379/0").StringVar(&c.BrokerURL)
	flag("broker.password-file", "File holding the broker password (overrides the URL's).").StringVar(&c.BrokerPasswordFile)
	flag("queue", "Queue to watch; repeatable (added to the discovered ones).").StringsVar(&c.Queues)
	flag("queue.discover", "Discover queues from kombu's bindings (Redis) or the management API (RabbitMQ).").Default("true").BoolVar(&c.DiscoverQueues)
	flag("queue.discover-interval", "How often the queue list is refreshed (Redis: a SCAN for kombu's binding sets).").Default("1m").DurationVar(&c.DiscoverInterval)
	flag("queue.poll-interval", "How often queue depth is read in the background.").Default("10s").DurationVar(&c.PollInterval)
	flag("redis.global-keyprefix", "kombu's global_keyprefix transport option.").StringVar(&c.GlobalKeyPrefix)
	flag("redis.priority-steps", "kombu's priority_steps, comma-separated.").Default("0,3,6,9").StringVar(&c.PrioritySteps)
	flag("redis.separator", `kombu's priority list separator ("sep"); Go escapes allowed.`).Default(`\x06\x16`).StringVar(&c.Separator)
	flag("redis.fanout-prefix", "kombu's fanout_prefix: event channels start with /<db>.").Default("true").BoolVar(&c.FanoutPrefix)
	flag("redis.unacked-key", "kombu's unacked_key transport option.").Default("unacked").StringVar(&c.UnackedKey)
	flag("rabbitmq.management-url", "RabbitMQ management API, http://user@host:15672 (unacked counts, queue discovery); keep the password out of it: use --rabbitmq.management-password-file.").StringVar(&c.ManagementURL)
	flag("rabbitmq.management-password-file", "File holding the management API password (overrides the URL's); the user is the URL's, or the broker's.").StringVar(&c.ManagementPasswordFile)
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
	flag("buckets", "celery_task_runtime buckets, comma-separated seconds.").Default(".005,.01,.025,.05,.075,.1,.25,.5,.75,1,2.5,5,7.5,10").StringVar(&c.RuntimeBuckets)
	flag("queue-wait-buckets", "celery_task_queue_wait_time buckets, comma-separated seconds.").Default(".05,.1,.25,.5,1,2.5,5,10,30,60,120,300,600,1800").StringVar(&c.WaitBuckets)
}
