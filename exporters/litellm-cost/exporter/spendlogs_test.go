package exporter

import (
	"strconv"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/testkit"
)

// insertLogs writes one batch of spend-log rows, as the proxy's batch writer does.
func insertLogs(t *testing.T, p *proxyDB, rows ...string) {
	t.Helper()
	sql := `INSERT INTO "LiteLLM_SpendLogs" ("request_id", "call_type", "api_key", "spend", "startTime", "endTime", "model", "model_group", "cache_hit", "status") VALUES `
	for i, r := range rows {
		if i > 0 {
			sql += ", "
		}
		sql += r
	}
	p.exec(t, sql)
}

func logRow(id, start string, seconds float64, group, cacheHit, status string) string {
	return "('" + id + "', 'acompletion', '" + token("sk-one") + "', 0.01, '" + start + "', '" + start + "'::timestamp + interval '" +
		ftoa(seconds) + " seconds', 'm', '" + group + "', '" + cacheHit + "', '" + status + "')"
}

func ftoa(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func TestSpendLogsReadIncrementallyWithALagWindow(t *testing.T) {
	p := startProxyDB(t, "../testdata/schema.sql")
	// History from before the exporter started is never read (the daily
	// tables are the source of totals): a thousand old rows.
	p.exec(t, `INSERT INTO "LiteLLM_SpendLogs" ("request_id", "call_type", "startTime", "endTime", "model_group")
  SELECT 'old-' || i, 'acompletion', '2026-03-01 00:00:00'::timestamp + i * interval '1 second', '2026-03-01 00:00:01'::timestamp + i * interval '1 second', 'gpt-4o'
  FROM generate_series(1, 1000) i`)
	h := newHarness(t, p, opts{now: time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC), lag: time.Minute})
	h.refresh(t) // watermark: 11:59:00
	fams, _ := h.scrape(t)
	expect(t, fams, "litellm_spendlog_watermark_timestamp_seconds", nil, float64(time.Date(2026, 3, 10, 11, 59, 0, 0, time.UTC).Unix()))
	absent(t, fams, "litellm_spendlog_requests_total", map[string]string{"model_group": "gpt-4o"})

	insertLogs(t, p,
		logRow("r1", "2026-03-10 11:59:30", 0.3, "gpt-4o", "False", "success"),
		logRow("r2", "2026-03-10 11:59:40", 2, "gpt-4o", "True", "success"),
		logRow("r3", "2026-03-10 12:00:30", 0.05, "claude", "", "failure"))
	h.clock.Set(time.Date(2026, 3, 10, 12, 1, 10, 0, time.UTC)) // reads (11:59:00, 12:00:10]
	h.refresh(t)
	// A batch written late, for a request that started before the last
	// read's upper bound plus the lag: still ahead of the watermark.
	insertLogs(t, p, logRow("r4", "2026-03-10 12:00:20", 40, "claude", "False", "success"))
	fams, _ = h.scrape(t)
	expect(t, fams, "litellm_spendlog_requests_total", map[string]string{"model_group": "gpt-4o", "cache_hit": "false", "status": "success"}, 1)
	expect(t, fams, "litellm_spendlog_requests_total", map[string]string{"model_group": "gpt-4o", "cache_hit": "true", "status": "success"}, 1)
	absent(t, fams, "litellm_spendlog_requests_total", map[string]string{"model_group": "claude", "status": "failure"})
	expect(t, fams, "litellm_spendlog_request_duration_seconds", map[string]string{"model_group": "gpt-4o"}, 2)
	expect(t, fams, "litellm_exporter_spendlog_rows_read_total", nil, 2)

	h.clock.Set(time.Date(2026, 3, 10, 12, 2, 0, 0, time.UTC)) // reads (12:00:10, 12:01:00]
	h.refresh(t)
	fams, body := h.scrape(t)
	testkit.CheckMetrics(t, body, compatNames...)
	expect(t, fams, "litellm_spendlog_requests_total", map[string]string{"model_group": "claude", "cache_hit": "false", "status": "failure"}, 1)
	expect(t, fams, "litellm_spendlog_requests_total", map[string]string{"model_group": "claude", "cache_hit": "false", "status": "success"}, 1)
	// Only the four new rows were ever read, not the thousand old ones.
	expect(t, fams, "litellm_exporter_spendlog_rows_read_total", nil, 4)

	hist := fams["litellm_spendlog_request_duration_seconds"]
	for _, m := range hist.GetMetric() {
		if m.GetLabel()[0].GetValue() != "gpt-4o" {
			continue
		}
		h := m.GetHistogram()
		if !near(h.GetSampleSum(), 2.3) {
			t.Errorf("gpt-4o latency sum = %v, want 2.3", h.GetSampleSum())
		}
		want := map[float64]uint64{0.25: 0, 0.5: 1, 1: 1, 2.5: 2, 300: 2}
		for _, b := range h.GetBucket() {
			if w, ok := want[b.GetUpperBound()]; ok && b.GetCumulativeCount() != w {
				t.Errorf("gpt-4o bucket le=%v = %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), w)
			}
		}
	}
}
