package promkit

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/common/config"
)

// probeHealth asks the daemon listening on addr for /health. A 401 counts as
// alive: the daemon answered, it only wants credentials the probe lacks.
func probeHealth(ctx context.Context, addr, webConfig string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("healthcheck: reading --web.listen-address %q: %w", addr, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	scheme := "http"
	if webConfig != "" {
		if b, err := os.ReadFile(webConfig); err == nil && strings.Contains(string(b), "tls_server_config") {
			scheme = "https"
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+net.JoinHostPort(host, port)+"/health", nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	// The probe talks to itself on loopback: the certificate names the
	// public host, not 127.0.0.1.
	tlsConfig, err := config.NewTLSConfig(&config.TLSConfig{InsecureSkipVerify: true})
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfig}}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusUnauthorized {
		return fmt.Errorf("healthcheck: /health answered %s", resp.Status)
	}
	return nil
}

// HealthCheck runs --web.healthcheck when the flags ask for it: it probes the
// /health endpoint of the daemon already running with the same flags, writes
// a failure to stderr and returns the exit code with done set. Without the
// flag it returns done false and does nothing.
//
// A daemon's main calls it right after validating the common flags and
// before it builds anything of its own: the probe runs every few seconds in
// the daemon's container, with its environment and volumes, and must open no
// file, connection or listener of the daemon nor write anything.
func HealthCheck(ctx context.Context, v ValidatedConfig, stderr io.Writer) (code int, done bool) {
	if !v.c.HealthCheck {
		return 0, false
	}
	if err := probeHealth(ctx, v.c.ListenAddresses[0], v.c.WebConfigFile); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", v.c.Service, err)
		return 1, true
	}
	return 0, true
}
