package exporter

import (
	"net/url"
	"testing"

	"github.com/outrigger/outrigger/exporters/litellm-cost/litellm"
	"github.com/outrigger/outrigger/exporters/litellm-cost/proxyapi"
)

// schemaForTest returns the schema read at the last connect.
func (e *Exporter) schemaForTest() *litellm.Schema {
	e.refreshMu.Lock()
	defer e.refreshMu.Unlock()
	return e.schema
}

// newAPIClientFor points the exporter's HTTP client at another URL.
func newAPIClientFor(t testing.TB, e *Exporter, raw string) *proxyapi.Client {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	c := e.cfg.ProxyAPI()
	e.api.Close()
	cl := proxyapi.New(proxyapi.Options{BaseURL: u, MasterKey: c.MasterKey, PageSize: c.PageSize, MaxPages: c.MaxPages})
	t.Cleanup(cl.Close)
	return cl
}
