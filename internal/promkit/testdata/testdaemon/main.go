// Command testdaemon is the smallest daemon built on promkit, used by
// promkit's end-to-end test: a collector that can be told to hang, a target
// that is "down" while a file exists, and a count of collections run.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/outrigger/outrigger/internal/promkit"
	"github.com/prometheus/client_golang/prometheus"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	app := kingpin.New("testdaemon", "A daemon for promkit's tests.")
	common := promkit.AddFlags(app, promkit.Defaults{Service: "testdaemon", ListenAddress: ":9999", EnvPrefix: "TESTD_"})
	downFile := app.Flag("target.down-file", "The target counts as down while this file exists.").
		Envar(promkit.EnvName("TESTD_", "target.down-file")).String()
	hangFor := app.Flag("collector.hang", "How long the slow collector blocks, ignoring the deadline.").
		Envar(promkit.EnvName("TESTD_", "collector.hang")).Default("0s").Duration()
	if _, err := app.Parse(args); err != nil {
		fmt.Fprintf(os.Stderr, "testdaemon: %v\n", err)
		return 2
	}
	vc, err := common.Config().Validate()
	if err != nil {
		fmt.Fprintf(os.Stderr, "testdaemon: %v\n", err)
		return 2
	}
	down := func() error {
		if *downFile == "" {
			return nil
		}
		if _, err := os.Stat(*downFile); err == nil {
			return errors.New("target unreachable: connection refused")
		}
		return nil
	}
	value := prometheus.NewDesc("testd_value", "A value read from the target.", nil, nil)
	runner := &promkit.Runner{Namespace: "testd", Logger: vc.Logger(), Collectors: []promkit.Collector{
		promkit.CollectorFunc{ID: "fast", Fn: func(ctx context.Context, ch chan<- prometheus.Metric) error {
			if err := down(); err != nil {
				return err
			}
			ch <- prometheus.MustNewConstMetric(value, prometheus.GaugeValue, 42)
			return nil
		}},
		promkit.CollectorFunc{ID: "slow", Fn: func(ctx context.Context, ch chan<- prometheus.Metric) error {
			time.Sleep(*hangFor) // deliberately deaf to ctx: a stuck syscall
			return nil
		}},
	}}
	collections := prometheus.NewCounter(prometheus.CounterOpts{Name: "testd_collections_total", Help: "Collections run."})
	srv, err := promkit.NewServer(vc, promkit.Options{
		Namespace: "testd", Description: "promkit test daemon",
		Ready: func(context.Context) error { return down() },
		Target: func(*http.Request) (string, promkit.StartFunc, error) {
			return "default", func(ctx context.Context) *promkit.Run { collections.Inc(); return runner.Start(ctx) }, nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "testdaemon: %v\n", err)
		return 1
	}
	srv.Registry().MustRegister(collections)
	reload := func() error { vc.Logger().Info("reload requested"); return nil }
	if err := srv.Run(context.Background(), reload); err != nil {
		vc.Logger().Error("serving", "err", err)
		return 1
	}
	return 0
}
