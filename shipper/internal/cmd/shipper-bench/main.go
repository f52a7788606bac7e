// Command shipper-bench measures the log-shipper binary against the
// in-process Loki receiver and the in-process Elasticsearch bulk receiver
// on loopback: throughput per CPU-second, RSS, and end-to-end latency at a
// steady rate. bench/shipper/run.sh runs it. With -baseline, every scenario
// runs a second binary (an earlier build) right after the first, and the
// ratio of the two (current/baseline) follows.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/outrigger/outrigger/shipper/internal/estest"
	"github.com/outrigger/outrigger/shipper/internal/lokitest"
)

func main() { os.Exit(run()) }

func run() int {
	bin := flag.String("binary", "", "log-shipper binary")
	work := flag.String("dir", "", "work directory (emptied)")
	lines := flag.Int("lines", 1_000_000, "lines per throughput run")
	rate := flag.Int("rate", 20000, "lines per second of the latency run")
	steady := flag.Duration("steady", 20*time.Second, "length of the latency run")
	pile := flag.Int64("pile", 1<<30, "bytes piled up while Loki is down (memory run; 0 skips)")
	only := flag.String("only", "", "run only the loki or the elasticsearch scenarios")
	esLines := flag.Int("es-lines", 1_000_000, "lines per Elasticsearch bulk throughput run")
	verify := flag.Bool("verify", false, "check every line the Loki receiver gets in the throughput runs (content, time, order per file, no duplicate)")
	scenarios := flag.String("scenarios", "", "comma-separated SIZExFILES throughput scenarios to run (e.g. 1024x16); empty runs all, and the latency and memory runs")
	baseline := flag.String("baseline", "", "a second log-shipper binary (an earlier build) run right after -binary in every scenario, followed by the ratio current/baseline")
	flag.Parse()
	if *bin == "" || *work == "" {
		fmt.Fprintln(os.Stderr, "shipper-bench: -binary and -dir are required")
		return 2
	}
	fmt.Printf("%-28s %10s %8s %8s %14s %8s %8s\n", "scenario", "lines/s", "MiB/s", "CPU s", "lines/CPU-s", "RSS MiB", "p99")
	if *only != "loki" {
		for _, sc := range []struct{ size, files int }{{256, 1}, {256, 16}, {1024, 1}} {
			n := *esLines
			if sc.size == 1024 {
				n /= 2
			}
			if err := pair(*bin, *baseline, "lines/CPU-s", func(b binary) (float64, error) { return bulk(b, *work, sc.size, sc.files, n) }); err != nil {
				fmt.Fprintln(os.Stderr, "shipper-bench:", err)
				return 1
			}
		}
		if *only == "elasticsearch" {
			return 0
		}
	}
	want := map[string]bool{}
	for _, s := range strings.Split(*scenarios, ",") {
		if s != "" {
			want[s] = true
		}
	}
	for _, sc := range []struct{ size, files int }{{256, 1}, {256, 16}, {1024, 1}, {1024, 16}} {
		if len(want) > 0 && !want[fmt.Sprintf("%dx%d", sc.size, sc.files)] {
			continue
		}
		n := *lines
		if sc.size == 1024 {
			n = *lines / 2
		}
		if err := pair(*bin, *baseline, "lines/CPU-s", func(b binary) (float64, error) { return throughput(b, *work, sc.size, sc.files, n, *verify) }); err != nil {
			fmt.Fprintln(os.Stderr, "shipper-bench:", err)
			return 1
		}
	}
	if len(want) > 0 {
		return 0
	}
	if err := pair(*bin, *baseline, "CPU s", func(b binary) (float64, error) { return latency(b, *work, *rate, *steady) }); err != nil {
		fmt.Fprintln(os.Stderr, "shipper-bench:", err)
		return 1
	}
	if *pile > 0 {
		if err := pair(*bin, *baseline, "peak RSS", func(b binary) (float64, error) { return memory(b, *work, *pile) }); err != nil {
			fmt.Fprintln(os.Stderr, "shipper-bench:", err)
			return 1
		}
	}
	return 0
}

// binary is a log-shipper build under test; tag marks the baseline's rows.
type binary struct{ path, tag string }

// pair runs a scenario with bin, then with baseline if there is one, and
// prints the ratio of the figure the scenario returns (current/baseline).
func pair(bin, baseline, figure string, run func(binary) (float64, error)) error {
	cur, err := run(binary{path: bin})
	if err != nil || baseline == "" {
		return err
	}
	base, err := run(binary{path: baseline, tag: " [baseline]"})
	if err != nil {
		return err
	}
	if base > 0 {
		fmt.Printf("%-28s %s current/baseline: %.3f\n", "", figure, cur/base)
	}
	return nil
}

func reset(dir string) (string, error) {
	os.RemoveAll(dir)
	logs := filepath.Join(dir, "logs")
	return logs, os.MkdirAll(logs, 0o755)
}

func writeFiles(logs string, size, files, n int, base time.Time) (int64, error) {
	var total int64
	seq := 0
	for f := range files {
		fh, err := os.Create(filepath.Join(logs, fmt.Sprintf("app%02d.log", f)))
		if err != nil {
			return 0, err
		}
		w := bufio.NewWriterSize(fh, 1<<20)
		for range n / files {
			seq++
			l := lokitest.Line(seq, base.Add(time.Duration(seq)*time.Microsecond), size)
			w.WriteString(l)
			w.WriteByte('\n')
			total += int64(len(l) + 1)
		}
		if err := w.Flush(); err != nil {
			return 0, err
		}
		fh.Close()
	}
	return total, nil
}

type proc struct {
	cmd *exec.Cmd
}

func start(bin binary, dir, url string, extra ...string) (*proc, error) {
	out := "--loki.url=" + url + "/loki/api/v1/push"
	if strings.HasPrefix(url, "es:") {
		out = "--elasticsearch.url=" + strings.TrimPrefix(url, "es:")
	}
	args := append([]string{"--web.listen-address=127.0.0.1:0", "--registry.path=" + filepath.Join(dir, "registry.json"),
		"--path=" + filepath.Join(dir, "logs", "*.log"), out, "--log.level=warn"}, extra...)
	cmd := exec.Command(bin.path, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return &proc{cmd: cmd}, cmd.Start()
}

func (p *proc) stop() {
	if p.cmd.ProcessState != nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()
}

// cpu returns user+system seconds of the process so far.
func (p *proc) cpu() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

func (p *proc) statusKB(field string) int64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, field+":") {
			v, _ := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
			return v
		}
	}
	return 0
}

func waitCount(srv *lokitest.Server, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for srv.Count() < n {
		if time.Now().After(deadline) {
			return fmt.Errorf("receiver has %d of %d lines after %s", srv.Count(), n, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// throughput returns the lines per CPU-second.
func throughput(bin binary, work string, size, files, n int, verify bool) (float64, error) {
	dir := filepath.Join(work, fmt.Sprintf("tp-%d-%d", size, files))
	logs, err := reset(dir)
	if err != nil {
		return 0, err
	}
	base := time.Now().Add(-30 * time.Minute)
	bytes, err := writeFiles(logs, size, files, n, base)
	if err != nil {
		return 0, err
	}
	n = n / files * files
	opts := lokitest.Options{CountOnly: true}
	var vf *verifier
	if verify {
		vf = &verifier{base: base, size: size, perFile: n / files, last: map[string]int{}}
		opts.OnEntry = vf.entry
	}
	srv, err := lokitest.New("127.0.0.1:0", opts)
	if err != nil {
		return 0, err
	}
	defer srv.Close()
	t0 := time.Now()
	p, err := start(bin, dir, srv.URL)
	if err != nil {
		return 0, err
	}
	defer p.stop()
	if err := waitCount(srv, n, 10*time.Minute); err != nil {
		return 0, err
	}
	el := time.Since(t0).Seconds()
	cpu := p.cpu()
	rss := p.statusKB("VmHWM") >> 10
	note := ""
	if vf != nil {
		time.Sleep(time.Second) // anything more (a duplicate) arrives
		if err := vf.check(srv.Count(), n); err != nil {
			return 0, fmt.Errorf("%d B lines, %d file(s): %w", size, files, err)
		}
		note = "  (verified: every line once, intact, in order)"
	}
	fmt.Printf("%-28s %10.0f %8.1f %8.2f %14.0f %8d %8s%s\n", fmt.Sprintf("%d B lines, %d file(s)%s", size, files, bin.tag),
		float64(n)/el, float64(bytes)/el/(1<<20), cpu, float64(n)/cpu, rss, "-", note)
	p.stop()
	os.RemoveAll(dir)
	return float64(n) / cpu, nil
}

// bulk measures throughput to the Elasticsearch bulk receiver (count-only:
// it parses every action line and keeps each index's ids, so replays would
// show as 409s, without decoding the documents).
// It returns the lines per CPU-second.
func bulk(bin binary, work string, size, files, n int) (float64, error) {
	dir := filepath.Join(work, fmt.Sprintf("es-%d-%d", size, files))
	logs, err := reset(dir)
	if err != nil {
		return 0, err
	}
	bytes, err := writeFiles(logs, size, files, n, time.Now().Add(-30*time.Minute))
	if err != nil {
		return 0, err
	}
	n = n / files * files
	srv := estest.New(estest.ES8)
	srv.CountOnly = true
	defer srv.Close()
	t0 := time.Now()
	p, err := start(bin, dir, "es:"+srv.URL, "--elasticsearch.index=app-%{+yyyy.MM.dd}")
	if err != nil {
		return 0, err
	}
	defer p.stop()
	deadline := time.Now().Add(10 * time.Minute)
	for srv.Count() < n {
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("elasticsearch receiver has %d of %d documents", srv.Count(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	el := time.Since(t0).Seconds()
	cpu := p.cpu()
	rss := p.statusKB("VmHWM") >> 10
	_, _, outcomes := srv.Stats()
	fmt.Printf("%-28s %10.0f %8.1f %8.2f %14.0f %8d %8s  (item outcomes %v)\n", fmt.Sprintf("ES bulk, %d B, %d file(s)%s", size, files, bin.tag),
		float64(n)/el, float64(bytes)/el/(1<<20), cpu, float64(n)/cpu, rss, "-", outcomes)
	p.stop()
	os.RemoveAll(dir)
	return float64(n) / cpu, nil
}

// latency returns the CPU seconds of the steady run.
func latency(bin binary, work string, rate int, dur time.Duration) (float64, error) {
	dir := filepath.Join(work, "latency")
	logs, err := reset(dir)
	if err != nil {
		return 0, err
	}
	var mu sync.Mutex
	var lat []time.Duration
	srv, err := lokitest.New("127.0.0.1:0", lokitest.Options{CountOnly: true, OnEntry: func(_ string, e lokitest.Entry) {
		d := time.Since(time.Unix(0, e.TimeNs))
		mu.Lock()
		lat = append(lat, d)
		mu.Unlock()
	}})
	if err != nil {
		return 0, err
	}
	defer srv.Close()
	fh, err := os.Create(filepath.Join(logs, "app.log"))
	if err != nil {
		return 0, err
	}
	defer fh.Close()
	p, err := start(bin, dir, srv.URL)
	if err != nil {
		return 0, err
	}
	defer p.stop()
	time.Sleep(time.Second)
	cpu0 := p.cpu()
	// Write in 10 ms ticks, each line stamped when written.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	per := rate / 100
	seq := 0
	var buf []byte
	end := time.Now().Add(dur)
	for time.Now().Before(end) {
		<-tick.C
		buf = buf[:0]
		for range per {
			seq++
			buf = append(buf, lokitest.Line(seq, time.Now(), 256)...)
			buf = append(buf, '\n')
		}
		if _, err := fh.Write(buf); err != nil {
			return 0, err
		}
	}
	if err := waitCount(srv, seq, time.Minute); err != nil {
		return 0, err
	}
	cpu := p.cpu() - cpu0
	mu.Lock()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
	mu.Unlock()
	fmt.Printf("%-28s %10d %8.1f %8.2f %14s %8d %8s  (p50 %s)\n", fmt.Sprintf("steady %d lines/s, 256 B%s", rate, bin.tag), rate,
		float64(rate*256)/(1<<20), cpu, fmt.Sprintf("%.0f%% of a core", 100*cpu/dur.Seconds()), p.statusKB("VmHWM")>>10,
		p99.Round(time.Millisecond), p50.Round(time.Millisecond))
	p.stop()
	os.RemoveAll(dir)
	return cpu, nil
}

// memory returns the peak RSS in MiB.
func memory(bin binary, work string, pile int64) (float64, error) {
	dir := filepath.Join(work, "memory")
	logs, err := reset(dir)
	if err != nil {
		return 0, err
	}
	n := int(pile / 1024)
	if _, err := writeFiles(logs, 1024, 4, n, time.Now().Add(-50*time.Minute)); err != nil {
		return 0, err
	}
	n = n / 4 * 4
	srv, err := lokitest.New("127.0.0.1:0", lokitest.Options{CountOnly: true})
	if err != nil {
		return 0, err
	}
	defer srv.Close()
	srv.Down()
	p, err := start(bin, dir, srv.URL) // the default cap: 16 MiB
	if err != nil {
		return 0, err
	}
	defer p.stop()
	time.Sleep(10 * time.Second)
	down := p.statusKB("VmHWM") >> 10
	if err := srv.Up(); err != nil {
		return 0, err
	}
	t0 := time.Now()
	if err := waitCount(srv, n, 20*time.Minute); err != nil {
		return 0, err
	}
	peak := p.statusKB("VmHWM") >> 10
	fmt.Printf("%-28s %10.0f %8s %8s %14s %8d %8s  (peak %d MiB while Loki was down 10 s; default cap 16 MiB)\n",
		fmt.Sprintf("%d MiB piled up, Loki down%s", pile>>20, bin.tag), float64(n)/time.Since(t0).Seconds(), "-", "-", "-",
		peak, "-", down)
	p.stop()
	os.RemoveAll(dir)
	return float64(peak), nil
}

// verifier checks each entry against the line written: same text, same
// time, and per stream (file) the next sequence number.
type verifier struct {
	base    time.Time
	size    int
	perFile int
	mu      sync.Mutex
	last    map[string]int
	errs    []string
}

func (v *verifier) entry(labels string, e lokitest.Entry) {
	seq := lokitest.Seq(e.Line)
	ts := v.base.Add(time.Duration(seq) * time.Microsecond)
	want := lokitest.Line(seq, ts, v.size)
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.errs) >= 5 {
		return
	}
	last, ok := v.last[labels]
	switch {
	case e.Line != want:
		v.errs = append(v.errs, fmt.Sprintf("%s: line %q, want %q", labels, e.Line, want))
	case e.TimeNs != ts.UnixNano():
		v.errs = append(v.errs, fmt.Sprintf("%s: seq %d at %d, want %d", labels, seq, e.TimeNs, ts.UnixNano()))
	case ok && seq != last+1:
		v.errs = append(v.errs, fmt.Sprintf("%s: seq %d after %d", labels, seq, last))
	case !ok && (seq-1)%v.perFile != 0:
		v.errs = append(v.errs, fmt.Sprintf("%s: first seq %d", labels, seq))
	}
	v.last[labels] = seq
}

func (v *verifier) check(count, n int) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.errs) > 0 {
		return fmt.Errorf("verification failed: %s", strings.Join(v.errs, "; "))
	}
	if count != n {
		return fmt.Errorf("verification failed: the receiver got %d lines, %d were written", count, n)
	}
	return nil
}
