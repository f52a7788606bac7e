// Command toolkit adds kingpin flags, promslog and exporter-toolkit's server
// (--web.listen-address, --web.config.file: TLS and basic auth) to client's
// collectors: the floor of an exporter built on the libraries Outrigger's
// daemons use, before it talks to anything.
package main

import (
	"net/http"
	"os"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"
)

func main() {
	app := kingpin.New("toolkit", "Serves its own metrics and nothing else.")
	flags := kingpinflag.AddFlags(app, ":9999")
	kingpin.MustParse(app.Parse(os.Args[1:]))
	logger := promslog.New(&promslog.Config{})
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	if err := web.ListenAndServe(&http.Server{Handler: mux}, flags, logger); err != nil {
		logger.Error("serving", "err", err)
		os.Exit(1)
	}
}
