package testkit

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"
)

// Mask says what of a scrape is volatile, for GoldenExposition. Every sample
// value is masked as "_" unless its family matches Keep; label values of
// the names in Labels are masked as "_" (an address, a pid, a temporary
// path), and always those of BuildLabels. Series that become the same line
// are written once.
// Families matching Drop are left out (go_*, whose set follows the Go
// release).
type Mask struct {
	Keep   *regexp.Regexp
	Labels []string
	Drop   *regexp.Regexp
}

// BuildLabels are the labels of every daemon's <ns>_exporter_build_info
// (prometheus/common's version collector), which change with each build.
var BuildLabels = []string{"version", "revision", "branch", "goversion", "goos", "goarch", "tags"}

// GoldenExposition writes a text exposition in the golden form (families and
// series sorted, HELP and TYPE kept, volatile parts masked) and compares it
// with testdata/<name>, or rewrites that file with -update. A daemon's
// end-to-end test calls it on a deterministic scrape; deploy's dashboard test
// reads the files back with ReadGolden.
func GoldenExposition(t TB, name string, exposition []byte, m Mask) {
	t.Helper()
	Golden(t, name, GoldenText(Families(t, exposition), m))
}

// GoldenText is the golden form of parsed families.
func GoldenText(fams map[string]*dto.MetricFamily, m Mask) []byte {
	masked := map[string]bool{}
	for _, l := range slices.Concat(m.Labels, BuildLabels) {
		masked[l] = true
	}
	names := make([]string, 0, len(fams))
	for n := range fams {
		if m.Drop != nil && m.Drop.MatchString(n) {
			continue
		}
		names = append(names, n)
	}
	sort.Strings(names)
	var b bytes.Buffer
	for _, n := range names {
		f := fams[n]
		keep := m.Keep != nil && m.Keep.MatchString(n)
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", n, escapeHelp(f.GetHelp()), n, strings.ToLower(f.GetType().String()))
		seen := map[string]bool{}
		var lines []string
		add := func(suffix string, labels []*dto.LabelPair, extra string, v float64) {
			value := "_"
			if keep {
				value = strconv.FormatFloat(v, 'g', -1, 64)
			}
			line := n + suffix + labelText(labels, masked, extra) + " " + value
			if !seen[line] {
				seen[line] = true
				lines = append(lines, line)
			}
		}
		for _, s := range f.GetMetric() {
			ls := s.GetLabel()
			switch {
			case s.Histogram != nil:
				for _, bk := range s.Histogram.GetBucket() {
					add("_bucket", ls, "le="+strconv.Quote(formatLe(bk.GetUpperBound())), float64(bk.GetCumulativeCount()))
				}
				add("_bucket", ls, `le="+Inf"`, float64(s.Histogram.GetSampleCount()))
				add("_sum", ls, "", s.Histogram.GetSampleSum())
				add("_count", ls, "", float64(s.Histogram.GetSampleCount()))
			case s.Summary != nil:
				for _, q := range s.Summary.GetQuantile() {
					add("", ls, "quantile="+strconv.Quote(formatLe(q.GetQuantile())), q.GetValue())
				}
				add("_sum", ls, "", s.Summary.GetSampleSum())
				add("_count", ls, "", float64(s.Summary.GetSampleCount()))
			case s.Counter != nil:
				add("", ls, "", s.Counter.GetValue())
			case s.Gauge != nil:
				add("", ls, "", s.Gauge.GetValue())
			default:
				add("", ls, "", s.GetUntyped().GetValue())
			}
		}
		sort.Strings(lines)
		for _, l := range lines {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

func formatLe(f float64) string {
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func escapeHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}

func labelText(ls []*dto.LabelPair, masked map[string]bool, extra string) string {
	var parts []string
	for _, l := range ls {
		v := l.GetValue()
		if masked[l.GetName()] {
			v = "_"
		}
		parts = append(parts, l.GetName()+"="+strconv.Quote(v))
	}
	if extra != "" {
		parts = append(parts, extra)
	}
	if len(parts) == 0 {
		return ""
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// GoldenSeries is one series line of a golden file: the sample name (with
// _bucket, _sum, _count for a histogram) and its labels.
type GoldenSeries struct {
	Family, Name string
	Labels       map[string]string
}

// ReadGolden reads a file written by GoldenExposition.
func ReadGolden(path string) ([]GoldenSeries, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []GoldenSeries
	family := ""
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			family, _, _ = strings.Cut(rest, " ")
			continue
		}
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		s, err := parseGoldenLine(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, n, err)
		}
		s.Family = family
		out = append(out, s)
	}
	return out, sc.Err()
}

func parseGoldenLine(line string) (GoldenSeries, error) {
	s := GoldenSeries{Labels: map[string]string{}}
	i := strings.IndexAny(line, "{ ")
	if i <= 0 {
		return s, fmt.Errorf("no sample name in %q", line)
	}
	s.Name = line[:i]
	rest := line[i:]
	if strings.HasPrefix(rest, "{") {
		rest = rest[1:]
		for !strings.HasPrefix(rest, "}") {
			eq := strings.IndexByte(rest, '=')
			if eq <= 0 {
				return s, fmt.Errorf("bad labels in %q", line)
			}
			name := rest[:eq]
			q, err := strconv.QuotedPrefix(rest[eq+1:])
			if err != nil {
				return s, fmt.Errorf("bad label value in %q: %v", line, err)
			}
			v, _ := strconv.Unquote(q)
			s.Labels[name] = v
			rest = strings.TrimPrefix(rest[eq+1+len(q):], ",")
		}
		rest = rest[1:]
	}
	if !strings.HasPrefix(rest, " ") {
		return s, fmt.Errorf("no value in %q", line)
	}
	return s, nil
}
