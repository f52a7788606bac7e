package exporter

import "github.com/outrigger/outrigger/exporters/litellm-cost/litellm"

// schemaForTest returns the schema read at the last connect.
func (e *Exporter) schemaForTest() *litellm.Schema {
	e.refreshMu.Lock()
	defer e.refreshMu.Unlock()
	return e.schema
}
