// Command storage-exporter exposes the size, file counts and age of directory
// trees (a screenshot store, log and backup directories) and the space left
// on their filesystems, walking them in the background.
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/outrigger/outrigger/exporters/storage/config"
	"github.com/outrigger/outrigger/exporters/storage/monitor"
	"github.com/outrigger/outrigger/internal/promkit"
)

const envPrefix = "STORAGE_EXPORTER_"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	app := kingpin.New("storage-exporter", "Prometheus exporter for the size, file counts and age of directory trees, walked in the background.")
	app.UsageWriter(stdout)
	app.ErrorWriter(stderr)
	common := promkit.AddFlags(app, promkit.Defaults{Service: "storage-exporter", ListenAddress: ":9843", EnvPrefix: envPrefix})
	var cfg config.Config
	act := addFlags(app, common.Flag, &cfg)
	pvc, code, done := promkit.Parse(app, common, args, stderr)
	if done {
		return code
	}
	// Walks on local filesystems use raw system calls on every P but one
	// (walk.RawSlots), which stays free for scrapes: one more P than the
	// default lets a walk still use every CPU. (This stops the runtime from
	// following later changes of the cgroup CPU limit; an explicit
	// GOMAXPROCS in the environment is left alone.)
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + 1)
	}
	vc, err := cfg.Validate()
	if err != nil {
		fmt.Fprintf(stderr, "%s: invalid configuration: %v\n", app.Name, err)
		return 2
	}
	if *act.configCheck {
		fmt.Fprintf(stdout, "configuration OK: %d paths\n", len(vc.Targets()))
		return 0
	}
	return serve(pvc, cfg, vc, *act.once, stdout, stderr)
}

// serve runs the monitor and serves its metrics (or, with once, prints them
// after the first walks) until a signal ends it; cfg is re-validated on
// SIGHUP.
func serve(pvc promkit.ValidatedConfig, cfg config.Config, vc config.ValidatedConfig, once bool, stdout, stderr io.Writer) int {
	logger := pvc.Logger()
	mon := monitor.New(monitor.OptionsFrom(vc, logger))
	runner := &promkit.Runner{Namespace: monitor.Namespace, Collectors: mon.Collectors(), Logger: logger}
	srv, err := promkit.NewServer(pvc, promkit.Options{
		Namespace:   monitor.Namespace,
		Description: "Size, file counts and age of directory trees, from background walks.",
		Ready:       mon.Ready,
		Target: func(*http.Request) (string, promkit.StartFunc, error) {
			return "default", runner.Start, nil
		},
	})
	if err != nil {
		logger.Error("building server", "err", err)
		return 1
	}
	ctx := context.Background()
	mon.Start(ctx, vc.Targets())
	defer func() {
		stopCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := mon.Stop(stopCtx); err != nil {
			logger.Warn("stopping", "err", err)
		}
	}()
	if once {
		onceCtx, cancel := context.WithTimeout(ctx, vc.OnceTimeout())
		defer cancel()
		return printOnce(onceCtx, mon, runner, stdout, stderr)
	}
	reload := func() error {
		nvc, err := cfg.Validate()
		if err != nil {
			return fmt.Errorf("re-reading configuration: %w", err)
		}
		mon.Update(nvc.Targets())
		return nil
	}
	if err := srv.Run(ctx, reload); err != nil {
		logger.Error("serving", "err", err)
		return 1
	}
	return 0
}

// actions are the flags that say what to do instead of serving.
type actions struct{ configCheck, once *bool }

// addFlags declares the exporter's own flags, which fill c, and the
// actions.
func addFlags(app *kingpin.Application, flag func(name, help string) *kingpin.FlagClause, c *config.Config) actions {
	flag("path", "NAME=DIR of a tree to watch; repeat for several (in the environment: one per line).").StringsVar(&c.Paths)
	flag("config.file", "YAML file listing the trees to watch, with per-path settings; re-read on SIGHUP.").Default("").StringVar(&c.File)
	// A one-shot action, so no environment variable: set in a container's
	// environment it would keep the daemon from ever serving.
	act := actions{configCheck: app.Flag("config.check", "Validate the configuration and exit.").Bool(),
		once: flag("once", "Walk every tree once, print the metrics to standard output and exit (for cron and node_exporter's textfile collector).").Bool()}
	flag("walk.interval", "Time between the starts of two walks of a tree.").Default("5m").DurationVar(&c.Defaults.Interval)
	flag("walk.budget", "Longest a walk may take; a walk cut short reports partial figures and says so.").Default("10m").DurationVar(&c.Defaults.Budget)
	flag("walk.subdir-depth", "Depth of the per-subdirectory breakdown (1: the tree's children; 0: none).").Default("1").IntVar(&c.Defaults.SubdirDepth)
	flag("walk.top-subdirs", "Subdirectories reported by name; the rest are summed as \"other\".").Default("10").IntVar(&c.Defaults.TopSubdirs)
	flag("walk.top-extensions", "File extensions reported by name; the rest are summed as \"other\".").Default("10").IntVar(&c.Defaults.TopExtensions)
	flag("walk.workers", "Directories read in parallel within one walk.").Default(strconv.Itoa(max(4, 2*runtime.GOMAXPROCS(0)))).IntVar(&c.Workers)
	flag("walk.nice", "Nice value (0-19) of the walkers' threads, so that scrapes and the watched application come first when CPUs are short.").Default("10").IntVar(&c.WalkNice)
	flag("walk.max-concurrent", "Walks running at once over all trees.").Default("1").IntVar(&c.MaxConcurrentWalks)
	flag("walk.max-hardlinks", "Hard-linked files a walk remembers to count them once; past it they may count twice.").Default("1000000").IntVar(&c.MaxHardlinks)
	flag("statfs.interval", "Time between two reads of a tree's filesystem size and free space.").Default("15s").DurationVar(&c.StatfsInterval)
	flag("statfs.timeout", "Longest wait for a filesystem to answer statfs (a hung mount) before reporting it failed.").Default("5s").DurationVar(&c.StatfsTimeout)
	return act
}

// printOnce waits for the first walk of every tree and prints the metrics.
func printOnce(ctx context.Context, mon *monitor.Monitor, runner *promkit.Runner, stdout, stderr io.Writer) int {
	code := 0
	if err := mon.WaitFirst(ctx); err != nil {
		fmt.Fprintf(stderr, "storage-exporter: %v; printing what there is\n", err)
		code = 1
	}
	// The collectors only read memory: a fresh context lets them finish
	// even when the wait above used up ctx.
	collectCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	reg := prometheus.NewRegistry()
	reg.MustRegister(promkit.Metrics(runner.Start(collectCtx).Wait(collectCtx)))
	fams, err := reg.Gather()
	if err != nil {
		fmt.Fprintf(stderr, "storage-exporter: gathering metrics: %v\n", err)
		return 1
	}
	enc := expfmt.NewEncoder(stdout, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range fams {
		if err := enc.Encode(f); err != nil {
			fmt.Fprintf(stderr, "storage-exporter: writing metrics: %v\n", err)
			return 1
		}
	}
	return code
}
