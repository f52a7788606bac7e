// Package tlsclient builds the client TLS configuration of every client of
// the shipper (its outputs and the Kubernetes API client) through
// prometheus/common's config.TLSConfig: a CA to trust, a client
// certificate (read again at each handshake, so a renewed one is used),
// the server name, an opt-in skip-verify, TLS 1.2 at least.
package tlsclient

import (
	"crypto/tls"
	"fmt"

	promconfig "github.com/prometheus/common/config"
)

// Config is a client's TLS settings.
type Config struct {
	CAFile             string
	CertFile           string
	KeyFile            string
	ServerName         string
	InsecureSkipVerify bool
}

// Build returns the tls.Config; client names the client in errors.
func (c Config) Build(client string) (*tls.Config, error) {
	tc, err := promconfig.NewTLSConfig(c.common())
	if err != nil {
		return nil, fmt.Errorf("%s TLS: %w", client, err)
	}
	return tc, nil
}

// common is c in prometheus/common's terms.
func (c Config) common() *promconfig.TLSConfig {
	return &promconfig.TLSConfig{CAFile: c.CAFile, CertFile: c.CertFile, KeyFile: c.KeyFile, ServerName: c.ServerName,
		InsecureSkipVerify: c.InsecureSkipVerify, MinVersion: promconfig.TLSVersion(tls.VersionTLS12)}
}
