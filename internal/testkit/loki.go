package testkit

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// LokiVersion is the Loki release scripts/loki.sh builds from the module
// proxy (keep the two in step).
const LokiVersion = "v3.7.6"

// LokiBinary returns the cached Loki binary that scripts/loki.sh built
// (OUTRIGGER_LOKI overrides the path), or fails saying how to build it.
func LokiBinary(t TB) string {
	t.Helper()
	if p := os.Getenv("OUTRIGGER_LOKI"); p != "" {
		return p
	}
	cache := os.Getenv("OUTRIGGER_CACHE")
	if cache == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			home, _ := os.UserHomeDir()
			base = filepath.Join(home, ".cache")
		}
		cache = filepath.Join(base, "outrigger")
	}
	p := filepath.Join(cache, "loki-"+LokiVersion, "loki")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("Loki %s is not built at %s: run scripts/loki.sh (`make test` runs it; it builds Loki from the Go module proxy in about 10 minutes)", LokiVersion, p)
	}
	return p
}

// LokiOptions shape a throwaway Loki.
type LokiOptions struct {
	// Tenant, when set, turns on auth_enabled: pushes and queries need
	// X-Scope-OrgID (Query and Entries send it).
	Tenant string
}

// Loki is a real Loki (single binary, filesystem storage) owned by a test.
type Loki struct {
	URL    string // http://127.0.0.1:port
	Tenant string
	proc   *Process
}

// PushURL is the push endpoint for a shipper.
func (l *Loki) PushURL() string { return l.URL + "/loki/api/v1/push" }

// Now is Loki's clock: the real one, which no test can move. Entries meant
// to be accepted take their times from it.
func (l *Loki) Now() time.Time { return time.Now() }

const lokiConfig = `auth_enabled: %[1]t
server:
  http_listen_address: 127.0.0.1
  http_listen_port: %[2]d
  grpc_listen_address: 127.0.0.1
  grpc_listen_port: %[3]d
  grpc_server_max_recv_msg_size: 134217728
  grpc_server_max_send_msg_size: 134217728
  log_level: warn
common:
  instance_addr: 127.0.0.1
  path_prefix: %[4]s
  storage:
    filesystem:
      chunks_directory: %[4]s/chunks
      rules_directory: %[4]s/rules
  replication_factor: 1
  ring:
    kvstore:
      store: inmemory
memberlist:
  bind_addr: [127.0.0.1]
  bind_port: %[5]d
schema_config:
  configs:
    - from: 2020-10-24
      store: tsdb
      object_store: filesystem
      schema: v13
      index:
        prefix: index_
        period: 24h
ingester:
  lifecycler:
    min_ready_duration: 0s
    final_sleep: 0s
  # A flushed chunk stays queryable in the ingester until the index that
  # names it is shipped to the store (every few minutes); without this a
  # test's query sees a gap where a full chunk was just flushed.
  chunk_retain_period: 1h
limits_config:
  allow_structured_metadata: true
  max_entries_limit_per_query: 1000000
  ingestion_rate_mb: 256
  ingestion_burst_size_mb: 512
  per_stream_rate_limit: 256MB
  per_stream_rate_limit_burst: 512MB
  reject_old_samples: true
  reject_old_samples_max_age: 168h
  discover_service_name: []
  discover_log_levels: false
  # Loki splits a busy stream into shards labelled __stream_shard__; a test
  # reads each stream under the labels the shipper gave it.
  shard_streams:
    enabled: false
querier:
  # Ask the ingesters for every time range: by default only the last 3 h,
  # and a test's entries from earlier in the day are not flushed to the
  # store yet, so a query would miss them.
  query_ingesters_within: 0
frontend_worker:
  grpc_client_config:
    max_send_msg_size: 134217728
    max_recv_msg_size: 134217728
query_range:
  cache_results: false
pattern_ingester:
  enabled: false
analytics:
  reporting_enabled: false
tracing:
  enabled: false
`

// StartLoki starts a real Loki built by scripts/loki.sh on free loopback
// ports, with a config written here, and waits until it is ready.
func StartLoki(t TB, opts LokiOptions) *Loki {
	t.Helper()
	bin := LokiBinary(t)
	dir := TempDir(t, "loki")
	port := FreePort(t)
	cfg := fmt.Sprintf(lokiConfig, opts.Tenant != "", port, FreePort(t), dir, FreePort(t))
	cfgPath := filepath.Join(dir, "loki.yml")
	writeFile(t, cfgPath, cfg)
	l := &Loki{URL: fmt.Sprintf("http://127.0.0.1:%d", port), Tenant: opts.Tenant}
	l.proc = &Process{Name: "loki", Path: bin, Dir: dir, LogPath: filepath.Join(dir, "loki.log"),
		Args: []string{"-config.file=" + cfgPath}}
	startServing(t, l.proc, 90*time.Second, func() error {
		code, body, err := l.get("/ready", nil)
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return fmt.Errorf("status %d: %s", code, strings.TrimSpace(string(body)))
		}
		return nil
	})
	return l
}

// Process is Loki's process (to stop or kill it in an outage test).
func (l *Loki) Process() *Process { return l.proc }

var lokiClient = &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

func (l *Loki) get(path string, params url.Values) (int, []byte, error) {
	u := l.URL + path
	if len(params) > 0 {
		u += "?" + params.Encode()
	}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, err
	}
	if l.Tenant != "" {
		req.Header.Set("X-Scope-OrgID", l.Tenant)
	}
	// Structured metadata apart from the stream's labels.
	req.Header.Set("X-Loki-Response-Encoding-Flags", "categorize-labels")
	resp, err := lokiClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// LokiEntry is one stored log entry as the query API returns it.
type LokiEntry struct {
	TimeNs   int64
	Line     string
	Metadata map[string]string
}

// Streams returns every entry of the streams matching selector (a LogQL
// stream selector such as `{job=~".+"}`) stored between from and to, by
// stream (its labels in Loki's `{a="1", b="2"}` form), each in time order.
func (l *Loki) Streams(t TB, selector string, from, to time.Time) map[string][]LokiEntry {
	t.Helper()
	out, err := l.streams(selector, from, to)
	if err != nil {
		t.Fatalf("querying Loki: %v", err)
	}
	return out
}

func (l *Loki) streams(selector string, from, to time.Time) (map[string][]LokiEntry, error) {
	params := url.Values{"query": {selector}, "start": {strconv.FormatInt(from.UnixNano(), 10)},
		"end": {strconv.FormatInt(to.UnixNano(), 10)}, "limit": {"1000000"}, "direction": {"forward"}}
	code, body, err := l.get("/loki/api/v1/query_range", params)
	if err != nil {
		return nil, err
	}
	if code != 200 {
		return nil, fmt.Errorf("query_range %s: status %d: %s", selector, code, strings.TrimSpace(string(body)))
	}
	var resp struct {
		Status string `json:"status"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Stream map[string]string   `json:"stream"`
				Values [][]json.RawMessage `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("decoding query_range: %w", err)
	}
	out := map[string][]LokiEntry{}
	for _, r := range resp.Data.Result {
		key := LabelString(r.Stream)
		for _, v := range r.Values {
			if len(v) < 2 {
				return nil, fmt.Errorf("query_range: value of %d elements", len(v))
			}
			var ts, line string
			if err := json.Unmarshal(v[0], &ts); err != nil {
				return nil, fmt.Errorf("query_range: timestamp: %w", err)
			}
			if err := json.Unmarshal(v[1], &line); err != nil {
				return nil, fmt.Errorf("query_range: line: %w", err)
			}
			ns, err := strconv.ParseInt(ts, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("query_range: timestamp %q: %w", ts, err)
			}
			e := LokiEntry{TimeNs: ns, Line: line}
			if len(v) > 2 {
				var cat struct {
					StructuredMetadata map[string]string `json:"structuredMetadata"`
				}
				if err := json.Unmarshal(v[2], &cat); err == nil {
					e.Metadata = cat.StructuredMetadata
				}
			}
			out[key] = append(out[key], e)
		}
	}
	for k := range out {
		sort.SliceStable(out[k], func(i, j int) bool { return out[k][i].TimeNs < out[k][j].TimeNs })
	}
	return out, nil
}

// LinesReceived is the number of log lines Loki's distributor has accepted
// for the tenant since it started, duplicates included
// (loki_distributor_lines_received_total): what a shipper sent, where a
// query shows each stored line once.
func (l *Loki) LinesReceived(t TB) int {
	t.Helper()
	return int(l.metricSum(t, "loki_distributor_lines_received_total"))
}

// Discarded is Loki's count of entries it refused, by reason
// (loki_discarded_samples_total), for a failing test to print.
func (l *Loki) Discarded(t TB) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	l.eachSample(t, "loki_discarded_samples_total", func(labels string, v float64) {
		reason := labels
		if i := strings.Index(labels, `reason="`); i >= 0 {
			reason = labels[i+8:]
			reason = reason[:strings.IndexByte(reason, '"')]
		}
		out[reason] += v
	})
	return out
}

func (l *Loki) metricSum(t TB, name string) float64 {
	t.Helper()
	total := 0.0
	l.eachSample(t, name, func(_ string, v float64) { total += v })
	return total
}

func (l *Loki) eachSample(t TB, name string, fn func(labels string, v float64)) {
	t.Helper()
	code, body, err := l.get("/metrics", nil)
	if err != nil || code != 200 {
		t.Fatalf("Loki /metrics: %d %v", code, err)
	}
	for _, line := range strings.Split(string(body), "\n") {
		rest, ok := strings.CutPrefix(line, name)
		if !ok || (rest != "" && rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		i := strings.LastIndexByte(rest, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(rest[i+1:], 64); err == nil {
			fn(rest[:i], v)
		}
	}
}

// LabelString renders a label set as Loki does: `{a="1", b="2"}`, sorted.
func LabelString(ls map[string]string) string {
	keys := make([]string, 0, len(ls))
	for k := range ls {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(ls[k]))
	}
	b.WriteByte('}')
	return b.String()
}
