package promkit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
)

// Options describe a daemon to its server.
type Options struct {
	// Namespace of the daemon's own metrics, e.g. "pg" gives pg_exporter_build_info.
	Namespace   string
	Description string
	// Ready reports whether the daemon can do its job (its target or outputs
	// are reachable). nil means always ready. The error text is shown to
	// whoever asks /ready: it must not contain secrets.
	Ready func(ctx context.Context) error
	// Target resolves a scrape of the telemetry path to the collection to
	// run. nil serves only the daemon's own registry there.
	Target TargetFunc
	Links  []web.LandingLinks
	// Registry is the daemon's own registry when the daemon builds it
	// first (its components register there before the server exists);
	// nil: the server makes one. Build info and the Go and process
	// metrics are added to it.
	Registry *prometheus.Registry
}

// Server is a daemon's HTTP server.
type Server struct {
	cfg      ValidatedConfig
	opts     Options
	logger   *slog.Logger
	registry *prometheus.Registry
	mux      *http.ServeMux
	scrapes  *Coalescer

	errorsOnce   sync.Once
	scrapeErrors *prometheus.CounterVec

	mu        sync.Mutex
	listeners []net.Listener
}

// NewServer builds the server and the daemon's own registry (build info, and
// unless disabled, Go and process metrics).
func NewServer(cfg ValidatedConfig, opts Options) (*Server, error) {
	reg := opts.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s := &Server{cfg: cfg, opts: opts, logger: cfg.Logger(), registry: reg,
		mux: http.NewServeMux(), scrapes: &Coalescer{MinInterval: cfg.c.MinInterval}}
	s.registry.MustRegister(versioncollector.NewCollector(buildInfoNamespace(opts.Namespace)))
	if !cfg.c.DisableExporterMetrics {
		s.registry.MustRegister(collectors.NewGoCollector(), newProcessCollector())
	}
	mux := s.mux
	if opts.Target != nil {
		mux.Handle(cfg.c.TelemetryPath, s.ScrapeHandler(opts.Target))
	} else {
		mux.Handle(cfg.c.TelemetryPath, promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	}
	mux.HandleFunc("/health", s.health)
	mux.HandleFunc("/ready", s.ready)
	links := append([]web.LandingLinks{{Address: cfg.c.TelemetryPath, Text: "Metrics"},
		{Address: "/health", Text: "Health"}, {Address: "/ready", Text: "Readiness"}}, opts.Links...)
	landing, err := web.NewLandingPage(web.LandingConfig{
		Name: cfg.c.Service, Description: opts.Description, Version: version.Info(), Links: links,
	})
	if err != nil {
		return nil, fmt.Errorf("building landing page: %w", err)
	}
	mux.Handle("/", landing)
	return s, nil
}

// ScrapeHandler returns a handler for another scrape route (such as /probe
// for multi-target scraping) sharing the server's coalescing, limits and
// registry. The first call registers <ns>_exporter_scrape_errors_total there,
// shared by every scrape route.
func (s *Server) ScrapeHandler(target TargetFunc) *ScrapeHandler {
	s.errorsOnce.Do(func() {
		c := NewScrapeErrors(s.opts.Namespace)
		if err := s.registry.Register(c); err != nil {
			are := prometheus.AlreadyRegisteredError{}
			if !errors.As(err, &are) {
				s.logger.Error("registering the scrape error counter", "err", err)
				return
			}
			existing, ok := are.ExistingCollector.(*prometheus.CounterVec)
			if !ok {
				s.logger.Error("registering the scrape error counter", "err", err)
				return
			}
			c = existing
		}
		s.scrapeErrors = c
	})
	return &ScrapeHandler{
		Errors:      s.scrapeErrors,
		Deadline:    s.cfg.Deadline(),
		Coalescer:   s.scrapes,
		Own:         s.registry,
		Target:      target,
		MaxInFlight: s.cfg.c.MaxRequestsInFlight,
		Logger:      s.logger,
	}
}

// Handle adds a route; call it before Serve.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Collections counts the collections the server's scrapes actually ran.
func (s *Server) Collections() uint64 { return s.scrapes.Collections() }

// Run serves until SIGTERM or SIGINT (or ctx ends), calling reload on SIGHUP.
// It is what a daemon's main calls last. With --web.healthcheck it only
// probes, but a daemon should have answered that with HealthCheck before
// building its runtime.
func (s *Server) Run(ctx context.Context, reload func() error) error {
	if s.cfg.c.HealthCheck {
		return probeHealth(ctx, s.cfg.c.ListenAddresses[0], s.cfg.c.WebConfigFile)
	}
	ctx, stop := Signals(ctx, s.logger, reload)
	defer stop()
	s.logger.Info("starting", "version", version.Info(), "build_context", version.BuildContext())
	err := s.Serve(ctx)
	s.logger.Info("stopped")
	return err
}

// Registry is the daemon's own registry: register counters of the daemon's
// own work here. It is served on the telemetry path beside the target's metrics.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// Handler returns the server's routes without TLS or auth (for tests).
func (s *Server) Handler() http.Handler { return s.mux }

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) health(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{
		"status": "healthy", "service": s.cfg.c.Service, "version": Version(),
		"timestamp": time.Now().UTC().Format(time.RFC3339),
	})
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	if s.opts.Ready == nil {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Deadline().Timeout(r))
	defer cancel()
	if err := s.opts.Ready(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// Listen opens every listen address. Call it before Serve to learn the
// addresses (port 0 picks a free port).
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listeners != nil {
		return nil
	}
	for _, addr := range s.cfg.c.ListenAddresses {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			for _, o := range s.listeners {
				o.Close()
			}
			s.listeners = nil
			return fmt.Errorf("listening on %s: %w", addr, err)
		}
		s.listeners = append(s.listeners, l)
	}
	return nil
}

// Serve serves until ctx ends, then shuts down gracefully within 5 seconds.
// TLS and basic auth come from --web.config.file.
func (s *Server) Serve(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	if f := s.cfg.c.WebConfigFile; f != "" {
		if err := web.Validate(f); err != nil {
			return fmt.Errorf("--web.config.file %s: %w", f, err)
		}
	}
	srv := &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second}
	webConfig := s.cfg.c.WebConfigFile
	flags := &web.FlagConfig{WebListenAddresses: &s.cfg.c.ListenAddresses, WebConfigFile: &webConfig}
	errc := make(chan error, 1)
	go func() { errc <- web.ServeMultiple(s.listeners, srv, flags, s.logger) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if serveErr := <-errc; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) && err == nil {
		err = serveErr
	}
	return err
}

// buildInfoNamespace gives <ns>_exporter_build_info, as the incumbents name it.
func buildInfoNamespace(ns string) string {
	if ns == "" {
		return "exporter"
	}
	return ns + "_exporter"
}
