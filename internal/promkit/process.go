package promkit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
)

// processCollector exports client_golang's process_* families (same names,
// help and types) at a fraction of the cost per scrape: the start time is
// read once (client_golang reads the whole of /proc/stat for the boot time on
// every scrape), the limits come from getrlimit instead of a regular
// expression over /proc/self/limits, and /proc/self/stat is read into a
// reused buffer. process_network_{receive,transmit}_bytes_total are left
// out: they are the whole network namespace's counters (/proc/self/net/netstat),
// not the process's, and formatting that file was the largest part of the
// cost.
type processCollector struct {
	cpu, openFDs, maxFDs, vsize, maxVsize, rss, start *prometheus.Desc
	startTime                                         float64
	startErr                                          error
	pageSize                                          float64
}

// userHZ is the unit of /proc/self/stat's times, fixed at 100 on Linux
// whatever the kernel's HZ.
const userHZ = 100

func newProcessCollector() *processCollector {
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, nil, nil) }
	c := &processCollector{
		cpu:      d("process_cpu_seconds_total", "Total user and system CPU time spent in seconds."),
		openFDs:  d("process_open_fds", "Number of open file descriptors."),
		maxFDs:   d("process_max_fds", "Maximum number of open file descriptors."),
		vsize:    d("process_virtual_memory_bytes", "Virtual memory size in bytes."),
		maxVsize: d("process_virtual_memory_max_bytes", "Maximum amount of virtual memory available in bytes."),
		rss:      d("process_resident_memory_bytes", "Resident memory size in bytes."),
		start:    d("process_start_time_seconds", "Start time of the process since unix epoch in seconds."),
		pageSize: float64(os.Getpagesize()),
	}
	c.startTime, c.startErr = processStartTime()
	return c
}

// Describe implements prometheus.Collector.
func (c *processCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.cpu, c.openFDs, c.maxFDs, c.vsize, c.maxVsize, c.rss, c.start} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. A part that cannot be read is
// reported as an invalid metric (a scrape error), the rest is still sent.
func (c *processCollector) Collect(ch chan<- prometheus.Metric) {
	if st, err := readSelfStat(); err != nil {
		ch <- prometheus.NewInvalidMetric(c.cpu, err)
	} else {
		ch <- prometheus.MustNewConstMetric(c.cpu, prometheus.CounterValue, float64(st.utime+st.stime)/userHZ)
		ch <- prometheus.MustNewConstMetric(c.vsize, prometheus.GaugeValue, float64(st.vsize))
		ch <- prometheus.MustNewConstMetric(c.rss, prometheus.GaugeValue, float64(st.rssPages)*c.pageSize)
	}
	if c.startErr != nil {
		ch <- prometheus.NewInvalidMetric(c.start, c.startErr)
	} else {
		ch <- prometheus.MustNewConstMetric(c.start, prometheus.GaugeValue, c.startTime)
	}
	if n, err := countOpenFDs(); err != nil {
		ch <- prometheus.NewInvalidMetric(c.openFDs, err)
	} else {
		ch <- prometheus.MustNewConstMetric(c.openFDs, prometheus.GaugeValue, float64(n))
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		ch <- prometheus.NewInvalidMetric(c.maxFDs, fmt.Errorf("reading RLIMIT_NOFILE: %w", err))
	} else {
		ch <- prometheus.MustNewConstMetric(c.maxFDs, prometheus.GaugeValue, float64(lim.Cur))
	}
	if err := syscall.Getrlimit(syscall.RLIMIT_AS, &lim); err != nil {
		ch <- prometheus.NewInvalidMetric(c.maxVsize, fmt.Errorf("reading RLIMIT_AS: %w", err))
	} else {
		ch <- prometheus.MustNewConstMetric(c.maxVsize, prometheus.GaugeValue, float64(lim.Cur))
	}
}

type selfStat struct {
	utime, stime, starttime, vsize, rssPages uint64
}

// readSelfStat reads the fields of /proc/self/stat this collector uses.
func readSelfStat() (selfStat, error) {
	var buf [1024]byte
	f, err := os.Open("/proc/self/stat")
	if err != nil {
		return selfStat{}, fmt.Errorf("reading /proc/self/stat: %w", err)
	}
	n, err := f.Read(buf[:])
	f.Close()
	if err != nil {
		return selfStat{}, fmt.Errorf("reading /proc/self/stat: %w", err)
	}
	return parseSelfStat(buf[:n])
}

// parseSelfStat takes fields after the command name, which may hold spaces
// and parentheses: the last ')' ends it. Fields are numbered from 1 (pid) as
// in proc(5): utime 14, stime 15, starttime 22, vsize 23, rss 24.
func parseSelfStat(b []byte) (selfStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return selfStat{}, errors.New("reading /proc/self/stat: no command name")
	}
	fields := bytes.Fields(b[i+1:]) // field 3 (state) onwards
	const first = 3
	get := func(n int) (uint64, error) {
		if n-first >= len(fields) {
			return 0, fmt.Errorf("reading /proc/self/stat: %d fields, want at least %d", len(fields)+first-1, n)
		}
		v, err := strconv.ParseUint(string(fields[n-first]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("reading /proc/self/stat field %d: %w", n, err)
		}
		return v, nil
	}
	var st selfStat
	var err error
	for _, f := range []struct {
		n   int
		dst *uint64
	}{{14, &st.utime}, {15, &st.stime}, {22, &st.starttime}, {23, &st.vsize}, {24, &st.rssPages}} {
		if *f.dst, err = get(f.n); err != nil {
			return selfStat{}, err
		}
	}
	return st, nil
}

// processStartTime is the boot time from /proc/stat plus the process's
// start in clock ticks.
func processStartTime() (float64, error) {
	st, err := readSelfStat()
	if err != nil {
		return 0, err
	}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, fmt.Errorf("reading the boot time: %w", err)
	}
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("btime ")); ok {
			boot, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("reading the boot time: %w", err)
			}
			return float64(boot) + float64(st.starttime)/userHZ, nil
		}
	}
	return 0, errors.New("reading the boot time: no btime in /proc/stat")
}

// countOpenFDs counts the open descriptors as client_golang does: the size
// of /proc/self/fd on Linux 6.2 and later, otherwise its entries (the
// directory's own descriptor included).
func countOpenFDs() (int, error) {
	if fi, err := os.Stat("/proc/self/fd"); err == nil && fi.Size() > 0 {
		return int(fi.Size()), nil
	}
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return 0, fmt.Errorf("counting open files: %w", err)
	}
	defer d.Close()
	n := 0
	for {
		names, err := d.Readdirnames(256)
		n += len(names)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return n, nil
			}
			return 0, fmt.Errorf("counting open files: %w", err)
		}
	}
}
