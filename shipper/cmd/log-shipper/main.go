// Command log-shipper tails log files (JSON or plain text, multiline) and
// the logs of containers (Docker's json-file through the engine's API,
// Kubernetes pod logs in CRI or json-file format, with pod metadata) and
// ships them to Loki, Elasticsearch (or OpenSearch) or standard output,
// with nothing lost and nothing duplicated: a file's offset advances only
// when every output acknowledged its lines.
package main

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"sync"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/outrigger/outrigger/internal/promkit"
	"github.com/outrigger/outrigger/shipper/config"
	"github.com/outrigger/outrigger/shipper/config/filebeat"
	"github.com/outrigger/outrigger/shipper/pipeline"
)

const envPrefix = "LOG_SHIPPER_"

// tuneGC trades the Go default (GC at twice the live heap) for fewer
// collections, bounded by a soft memory limit derived from the buffer cap,
// unless GOGC or GOMEMLIMIT say otherwise.
func tuneGC(bufferCap int64) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(max(2*bufferCap+16<<20, 40<<20))
	}
}

func main() { os.Exit(run(os.Args[1:])) }

// description is the --help text and the landing page's.
const description = "Tails log files and container logs (Docker, Kubernetes) into Loki, Elasticsearch or standard output: a file's offset advances only after every output acknowledged its lines."

func run(args []string) int {
	app := kingpin.New("log-shipper", description)
	common := promkit.AddFlags(app, promkit.Defaults{Service: "log-shipper", ListenAddress: ":9844", EnvPrefix: envPrefix})
	flag := func(name, help string) *kingpin.FlagClause {
		return app.Flag(name, help).Envar(promkit.EnvName(envPrefix, name))
	}
	configFile := flag("config.file", "YAML configuration file (inputs, processors, outputs).").String()
	filebeatFile := flag("filebeat.config", "A Filebeat configuration file, run as it is (unsupported keys are listed at start).").String()
	configCheck := flag("config.check", "Validate the configuration and exit.").Bool()
	var fl config.Flags
	flag("path", "Glob of files to tail; repeatable, or comma-separated in the environment variable.").StringsVar(&fl.Paths)
	flag("exclude", "Glob of files to leave out (matched on the path or the file name); repeatable.").StringsVar(&fl.Exclude)
	flag("label", "Static stream label name=value for --path files; repeatable.").StringsVar(&fl.Labels)
	flag("start-at", "Where files found at the first start begin: beginning or end.").Default("beginning").EnumVar(&fl.StartAt, "beginning", "end")
	flag("loki.url", "Loki push URL, e.g. http://loki:3100/loki/api/v1/push. Without any output, lines go to standard output.").StringVar(&fl.LokiURL)
	flag("loki.tenant-id", "Tenant sent as X-Scope-OrgID.").StringVar(&fl.LokiTenant)
	flag("loki.username", "Basic auth user for Loki.").StringVar(&fl.LokiUsername)
	flag("loki.password", "Basic auth password for Loki (prefer --loki.password-file).").StringVar(&fl.LokiPassword)
	flag("loki.password-file", "File holding the basic auth password for Loki.").StringVar(&fl.LokiPasswordFile)
	flag("elasticsearch.url", "Elasticsearch (or OpenSearch) URL, e.g. http://elasticsearch:9200; repeatable for several hosts.").StringsVar(&fl.ESHosts)
	flag("elasticsearch.index", "Index pattern, evaluated on each event's own @timestamp in UTC (default logs-%{+yyyy.MM.dd}).").StringVar(&fl.ESIndex)
	flag("elasticsearch.username", "Basic auth user for Elasticsearch.").StringVar(&fl.ESUsername)
	flag("elasticsearch.password", "Basic auth password for Elasticsearch (prefer --elasticsearch.password-file).").StringVar(&fl.ESPassword)
	flag("elasticsearch.password-file", "File holding the basic auth password for Elasticsearch.").StringVar(&fl.ESPasswordFile)
	flag("elasticsearch.api-key", "Elasticsearch API key, id:key or its base64 form (prefer --elasticsearch.api-key-file).").StringVar(&fl.ESAPIKey)
	flag("elasticsearch.api-key-file", "File holding the Elasticsearch API key.").StringVar(&fl.ESAPIKeyFile)
	flag("docker.host", "Follow the logs of containers through this Docker API socket, e.g. unix:///var/run/docker.sock.").StringVar(&fl.DockerHost)
	flag("docker.label", "Follow only containers with this label (key or key=value); repeatable. Implies --docker.host's default socket.").StringsVar(&fl.DockerLabels)
	flag("registry.path", "File keeping the acknowledged offset of every file (default "+config.DefaultRegistryPath+").").StringVar(&fl.RegistryPath)
	flag("registry.flush-interval", "How often acknowledged offsets are written to the registry (default 1s): after a crash at most this much acknowledged data is sent again.").DurationVar(&fl.RegistryFlush)
	flag("memory.limit", "Cap on the bytes of lines read and not yet acknowledged (e.g. 64MiB); reading pauses at it.").StringVar(&fl.MemoryLimit)
	// Before the configuration is even read: the --web.healthcheck probe
	// runs beside the shipper, on its registry volume, and must touch
	// nothing of it.
	vc, code, done := promkit.Parse(app, common, args, os.Stderr)
	if done {
		return code
	}
	f := &config.File{}
	var unsupported []string
	switch {
	case *configFile != "" && *filebeatFile != "":
		fmt.Fprintf(os.Stderr, "%s: --config.file and --filebeat.config are exclusive\n", app.Name)
		return 2
	case *configFile != "":
		var err error
		if f, err = config.Load(*configFile); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", app.Name, err)
			return 2
		}
	case *filebeatFile != "":
		res, err := filebeat.Load(*filebeatFile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", app.Name, err)
			return 2
		}
		f, unsupported = res.File, res.Unsupported
	}
	if err := f.Merge(fl); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", app.Name, err)
		return 2
	}
	valid, err := f.Validate()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: invalid configuration:\n%v\n", app.Name, err)
		return 2
	}
	if *configCheck {
		for _, u := range unsupported {
			fmt.Printf("filebeat configuration: %s\n", u)
		}
		fmt.Printf("configuration is valid: %s\n", valid.Summary())
		return 0
	}
	logger := vc.Logger()
	for _, u := range unsupported {
		logger.Warn("filebeat configuration: "+u, "file", *filebeatFile)
	}
	// One registry, made here and handed down: each component registers
	// the metrics it updates; the server serves it.
	reg := prometheus.NewRegistry()
	pcfg, err := valid.Build(reg, logger)
	if err != nil {
		logger.Error("building pipeline", "err", err)
		return 1
	}
	p, err := pipeline.New(pcfg, reg)
	if err != nil {
		logger.Error("building pipeline", "err", err)
		return 1
	}
	srv, err := promkit.NewServer(vc, promkit.Options{Namespace: "log_shipper", Description: description,
		Ready: p.Ready, Registry: reg})
	if err != nil {
		logger.Error("building server", "err", err)
		return 1
	}
	tuneGC(pcfg.MemoryLimit)
	logger.Info("shipping", "config", valid.Summary(), "registry", pcfg.RegistryPath)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var perr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		perr = p.Run(ctx)
	}()
	reload := func() error {
		if *filebeatFile != "" {
			res, err := filebeat.Load(*filebeatFile)
			if err == nil {
				err = res.File.Merge(fl)
			}
			if err == nil {
				_, err = res.File.Validate()
			}
			if err != nil {
				return fmt.Errorf("checking filebeat configuration: %w", err)
			}
			logger.Info("filebeat configuration is valid; restart the shipper to apply changes (offsets are kept)")
			return nil
		}
		if *configFile == "" {
			return nil
		}
		nf, err := config.Load(*configFile)
		if err == nil {
			err = nf.Merge(fl)
		}
		if err == nil {
			_, err = nf.Validate()
		}
		if err != nil {
			return fmt.Errorf("checking configuration: %w", err)
		}
		logger.Info("configuration file is valid; restart the shipper to apply changes (offsets are kept)")
		return nil
	}
	serr := srv.Run(ctx, reload)
	cancel()
	wg.Wait()
	if serr != nil {
		logger.Error("serving", "err", serr)
		return 1
	}
	if perr != nil {
		logger.Error("shipping", "err", perr)
		return 1
	}
	return 0
}
