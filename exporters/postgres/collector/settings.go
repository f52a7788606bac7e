package collector

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/outrigger/outrigger/internal/promkit"
)

// settings emits pg_settings_<name> for every numeric and boolean setting,
// with postgres_exporter's names and unit conversions.
func (s *scrape) settings(ctx context.Context, ch chan<- prometheus.Metric) error {
	err := s.query(ctx, `SELECT name, setting, coalesce(unit, ''), short_desc, vartype FROM pg_settings
WHERE vartype IN ('bool', 'integer', 'real')`, func(rows pgx.Rows) error {
		var name, setting, unit, help, vartype string
		if err := rows.Scan(&name, &setting, &unit, &help, &vartype); err != nil {
			return err
		}
		metric, value, help, ok := settingMetric(name, setting, unit, help, vartype)
		if ok {
			s.t.settingFamily(metric, help).Send(ch, value)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading pg_settings: %w", err)
	}
	return nil
}

var settingName = strings.NewReplacer(".", "_", "-", "_")

// settingMetric converts one pg_settings row; ok is false for values that do
// not parse.
func settingMetric(name, setting, unit, help, vartype string) (metric string, value float64, fullHelp string, ok bool) {
	metric = "pg_settings_" + settingName.Replace(name)
	if vartype == "bool" {
		return metric, map[string]float64{"on": 1}[setting], help, setting == "on" || setting == "off"
	}
	value, err := strconv.ParseFloat(setting, 64)
	if err != nil {
		return "", 0, "", false
	}
	var factor float64
	suffix := ""
	switch unit {
	case "":
		return metric, value, help, true
	case "ms", "s", "min", "h", "d":
		suffix = "seconds"
		factor = map[string]float64{"ms": 0.001, "s": 1, "min": 60, "h": 3600, "d": 86400}[unit]
	case "B", "kB", "MB", "GB", "TB", "8kB", "16kB", "32kB", "16MB", "32MB", "64MB":
		suffix = "bytes"
		num := strings.TrimRight(unit, "kMGTB")
		base := map[string]float64{"B": 1, "kB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}[strings.TrimLeft(unit, "0123456789")]
		factor = base
		if num != "" {
			n, _ := strconv.ParseFloat(num, 64)
			factor *= n
		}
	default:
		return metric, value, help, true
	}
	metric += "_" + suffix
	fullHelp = fmt.Sprintf("%s [Units converted to %s.]", help, suffix)
	if value > 0 {
		value *= factor
	}
	return metric, value, fullHelp, true
}

// settingFamily returns the family of a setting's metric, built once: there
// are some 300 of them on every scrape. The name comes from the server's
// pg_settings, so it is data, not a declaration.
func (t *Target) settingFamily(metric, help string) promkit.Family {
	t.mu.Lock()
	defer t.mu.Unlock()
	key := metric + "\x00" + help
	f, ok := t.settingFamilies[key]
	if !ok {
		if len(t.settingFamilies) > 2000 {
			clear(t.settingFamilies)
		}
		f = promkit.Gauge(metric, help)
		t.settingFamilies[key] = f
	}
	return f
}
