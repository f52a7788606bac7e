package collector

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/outrigger/outrigger/exporters/postgres/config"
	"github.com/outrigger/outrigger/internal/promkit"
)

// customQuery runs one query of the configuration file. Each is its own
// collector, so each has its own success and duration series.
func (s *scrape) customQuery(q config.Query) func(context.Context, chan<- prometheus.Metric) error {
	fams := customFamilies(q)
	return func(ctx context.Context, ch chan<- prometheus.Metric) error {
		if !s.isUp.Load() {
			return errDown
		}
		if q.MinVersionNum > 0 && s.version.Load() < q.MinVersionNum {
			return promkit.ErrSkipped
		}
		t := s.t
		key := q.Name + "\x00" + q.SQL
		t.mu.Lock()
		cached, ok := t.queryCache[key]
		t.mu.Unlock()
		if ok && q.TTL > 0 && time.Since(cached.at) < q.TTL {
			for _, m := range cached.metrics {
				ch <- m
			}
			return nil
		}
		if q.Timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, q.Timeout)
			defer cancel()
		}
		var fresh []prometheus.Metric
		err := s.query(ctx, q.SQL, func(rows pgx.Rows) error {
			ms, err := customRow(q, fams, rows)
			fresh = append(fresh, ms...)
			return err
		})
		if err != nil {
			return fmt.Errorf("running custom query %s: %w", q.Name, err)
		}
		if q.TTL > 0 {
			t.mu.Lock()
			t.queryCache[key] = cachedMetrics{at: time.Now(), metrics: fresh}
			t.mu.Unlock()
		}
		for _, m := range fresh {
			ch <- m
		}
		return nil
	}
}

// customFamilies declares the families of a custom query's value columns.
// Their names come from the configuration file (q.Metric): data, not
// declarations in the source.
func customFamilies(q config.Query) []promkit.Family {
	fams := make([]promkit.Family, len(q.Values))
	for i, v := range q.Values {
		help := v.Help
		if help == "" {
			help = q.Help
		}
		if help == "" {
			help = "Custom query " + q.Name + ", column " + v.Column + "."
		}
		if v.Type == "counter" {
			fams[i] = promkit.Counter(q.Metric(v), help, q.Labels...)
		} else {
			fams[i] = promkit.Gauge(q.Metric(v), help, q.Labels...)
		}
	}
	return fams
}

// customRow turns one result row into series; NULL values give no series.
func customRow(q config.Query, fams []promkit.Family, rows pgx.Rows) ([]prometheus.Metric, error) {
	vals, err := rows.Values()
	if err != nil {
		return nil, err
	}
	byName := map[string]any{}
	present := map[string]bool{}
	for i, f := range rows.FieldDescriptions() {
		byName[f.Name] = vals[i]
		present[f.Name] = true
	}
	labels := make([]string, len(q.Labels))
	for i, l := range q.Labels {
		if !present[l] {
			return nil, fmt.Errorf("label column %q is not in the result", l)
		}
		if byName[l] != nil {
			labels[i] = promkit.LabelValue(fmt.Sprint(byName[l]))
		}
	}
	var out []prometheus.Metric
	for i, v := range q.Values {
		if !present[v.Column] {
			return nil, fmt.Errorf("value column %q is not in the result", v.Column)
		}
		f, ok, err := toFloat(byName[v.Column])
		if err != nil {
			return nil, fmt.Errorf("value column %q: %w", v.Column, err)
		}
		if !ok {
			continue
		}
		out = append(out, fams[i].Metric(f, labels...))
	}
	return out, nil
}

func toFloat(v any) (float64, bool, error) {
	switch x := v.(type) {
	case nil:
		return 0, false, nil
	case int16:
		return float64(x), true, nil
	case int32:
		return float64(x), true, nil
	case int64:
		return float64(x), true, nil
	case float32:
		return float64(x), true, nil
	case float64:
		return x, true, nil
	case bool:
		return promkit.Bool(x), true, nil
	case time.Time:
		return float64(x.UnixNano()) / 1e9, true, nil
	case pgtype.Numeric:
		f, err := x.Float64Value()
		if err != nil {
			return 0, false, err
		}
		return f.Float64, f.Valid, nil
	case string:
		var f float64
		if _, err := fmt.Sscan(x, &f); err != nil {
			return 0, false, fmt.Errorf("not a number: %T", v)
		}
		return f, true, nil
	}
	return 0, false, fmt.Errorf("not a number: %T", v)
}
