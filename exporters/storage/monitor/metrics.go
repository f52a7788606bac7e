package monitor

import (
	"context"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/outrigger/outrigger/internal/promkit"
)

// Namespace prefixes every metric of the storage-exporter.
const Namespace = "storage"

type descs struct {
	info, apparent, allocated, files, dirs, others                 *prometheus.Desc
	oldestAge, newestAge, oldestTS, newestTS                       *prometheus.Desc
	subApparent, subAllocated, subFiles                            *prometheus.Desc
	extApparent, extAllocated, extFiles                            *prometheus.Desc
	walkSuccess, walkPartial, walkDuration, walkAge, walkTS        *prometheus.Desc
	walkRunning, walks, unreadable, statErrors, vanished, linkFull *prometheus.Desc
	cycles                                                         *prometheus.Desc
	fsSize, fsFree, fsAvail, fsFiles, fsFilesFree, fsOK            *prometheus.Desc
}

func newDescs() *descs {
	d := func(sub, name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(Namespace, sub, name), help, append([]string{"path"}, labels...), nil)
	}
	return &descs{
		info:      d("path", "info", "Maps a watched path's name to its directory.", "directory"),
		apparent:  d("path", "apparent_bytes", "Sum of the apparent sizes of everything under the path, as `du -sb` (last walk)."),
		allocated: d("path", "allocated_bytes", "Disk space allocated to everything under the path, as `du -s -B1` (last walk)."),
		files:     d("path", "files", "Regular files under the path, hard-linked ones counted once (last walk)."),
		dirs:      d("path", "directories", "Directories under the path, itself included (last walk)."),
		others:    d("path", "other_entries", "Symlinks, sockets, FIFOs and devices under the path (last walk)."),
		oldestAge: d("path", "oldest_file_age_seconds", "Time since the modification of the oldest regular file under the path."),
		newestAge: d("path", "newest_file_age_seconds", "Time since the modification of the newest regular file under the path."),
		oldestTS:  d("path", "oldest_file_timestamp_seconds", "Modification time of the oldest regular file under the path."),
		newestTS:  d("path", "newest_file_timestamp_seconds", "Modification time of the newest regular file under the path."),

		subApparent:  d("subdir", "apparent_bytes", "Apparent bytes per subdirectory at the configured depth: the top N, \".\" (above that depth) and \"other\".", "subdir"),
		subAllocated: d("subdir", "allocated_bytes", "Allocated bytes per subdirectory at the configured depth: the top N, \".\" and \"other\".", "subdir"),
		subFiles:     d("subdir", "files", "Regular files per subdirectory at the configured depth: the top N, \".\" and \"other\".", "subdir"),
		extApparent:  d("extension", "apparent_bytes", "Apparent bytes of regular files by lower-cased extension: the top N, \"none\" and \"other\".", "extension"),
		extAllocated: d("extension", "allocated_bytes", "Allocated bytes of regular files by lower-cased extension: the top N, \"none\" and \"other\".", "extension"),
		extFiles:     d("extension", "files", "Regular files by lower-cased extension: the top N, \"none\" and \"other\".", "extension"),

		walkSuccess:  d("walk", "success", "Whether the last walk could read the path's root (1) or not (0)."),
		walkPartial:  d("walk", "partial", "Whether the last walk ran out of its time budget, so its figures are too low (1) or not (0)."),
		walkDuration: d("walk", "duration_seconds", "How long the last walk took."),
		walkAge:      d("walk", "age_seconds", "Time since the last walk (whose figures are served) finished."),
		walkTS:       d("walk", "timestamp_seconds", "When the last walk (whose figures are served) finished."),
		walkRunning:  d("walk", "in_progress", "Whether a walk of the path is running now."),
		walks:        d("", "walks_total", "Walks finished since the path was configured, by result: complete, partial or failed.", "result"),
		unreadable:   d("walk", "unreadable_directories", "Directories the last walk could not open or read; their content is not counted."),
		statErrors:   d("walk", "stat_errors", "Entries the last walk could not stat for another reason than having vanished."),
		vanished:     d("walk", "vanished_entries", "Entries that disappeared during the last walk (deleted between listing and stat)."),
		cycles:       d("walk", "directory_cycles", "Directories the last walk met again below themselves (bind mounts) and skipped, as du does."),
		linkFull:     d("walk", "hardlink_set_full", "Whether the last walk met more hard-linked files than it tracks, so some were counted more than once."),

		fsSize:      d("filesystem", "size_bytes", "Size of the filesystem holding the path."),
		fsFree:      d("filesystem", "free_bytes", "Free space on the filesystem holding the path, including space reserved for root."),
		fsAvail:     d("filesystem", "avail_bytes", "Space available to unprivileged users on the filesystem holding the path."),
		fsFiles:     d("filesystem", "files", "Inodes of the filesystem holding the path."),
		fsFilesFree: d("filesystem", "files_free", "Free inodes of the filesystem holding the path."),
		fsOK:        d("filesystem", "stat_success", "Whether the last statfs of the path answered in time (1) or failed or hung (0)."),
	}
}

// Collectors return what a scrape runs: they read memory only.
func (m *Monitor) Collectors() []promkit.Collector {
	return []promkit.Collector{
		promkit.CollectorFunc{ID: "walk", Fn: m.collectWalks},
		promkit.CollectorFunc{ID: "filesystem", Fn: m.collectFilesystems},
	}
}

func (m *Monitor) collectWalks(ctx context.Context, ch chan<- prometheus.Metric) error {
	d := m.descs
	now := time.Now()
	for _, p := range m.snapshot() {
		name := p.target.Name
		g := func(desc *prometheus.Desc, v float64, labels ...string) {
			ch <- promkit.ConstMetric(desc, prometheus.GaugeValue, v, append([]string{name}, labels...)...)
		}
		g(d.info, 1, strings.ToValidUTF8(p.target.Dir, "\uFFFD"))
		g(d.walkRunning, b2f(p.runningSince.Load() != 0))
		for i, result := range []string{"complete", "partial", "failed"} {
			ch <- promkit.ConstMetric(d.walks, prometheus.CounterValue, float64(p.walks[i].Load()), name, result)
		}
		if p.attempted.Load() {
			g(d.walkSuccess, b2f(p.success.Load()))
		}
		o := p.last.Load()
		if o == nil {
			continue
		}
		r := o.res
		g(d.apparent, float64(r.Totals.ApparentBytes))
		g(d.allocated, float64(r.Totals.AllocatedBytes))
		g(d.files, float64(r.Totals.Files))
		g(d.dirs, float64(r.Totals.Directories))
		g(d.others, float64(r.Totals.Others))
		if !r.OldestMtime.IsZero() {
			g(d.oldestAge, now.Sub(r.OldestMtime).Seconds())
			g(d.newestAge, now.Sub(r.NewestMtime).Seconds())
			g(d.oldestTS, float64(r.OldestMtime.UnixNano())/1e9)
			g(d.newestTS, float64(r.NewestMtime.UnixNano())/1e9)
		}
		for _, b := range r.Subdirs {
			g(d.subApparent, float64(b.ApparentBytes), b.Name)
			g(d.subAllocated, float64(b.AllocatedBytes), b.Name)
			g(d.subFiles, float64(b.Files), b.Name)
		}
		for _, b := range r.Extensions {
			g(d.extApparent, float64(b.ApparentBytes), b.Name)
			g(d.extAllocated, float64(b.AllocatedBytes), b.Name)
			g(d.extFiles, float64(b.Files), b.Name)
		}
		g(d.walkPartial, b2f(r.Partial))
		g(d.walkDuration, r.Duration.Seconds())
		g(d.walkAge, now.Sub(o.finished).Seconds())
		g(d.walkTS, float64(o.finished.UnixNano())/1e9)
		g(d.unreadable, float64(r.UnreadableDirs))
		g(d.statErrors, float64(r.StatErrors))
		g(d.vanished, float64(r.Vanished))
		g(d.cycles, float64(r.Cycles))
		g(d.linkFull, b2f(r.HardlinkSetFull))
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

func (m *Monitor) collectFilesystems(_ context.Context, ch chan<- prometheus.Metric) error {
	d := m.descs
	for _, p := range m.snapshot() {
		name := p.target.Name
		g := func(desc *prometheus.Desc, v float64) {
			ch <- promkit.ConstMetric(desc, prometheus.GaugeValue, v, name)
		}
		st := p.fs.Load()
		if !p.fsAttempted.Load() {
			continue
		}
		g(d.fsOK, b2f(p.fsOK.Load()))
		if st == nil {
			continue
		}
		// Block counts are in fragment-size units (statvfs(3), as df uses).
		bsize := float64(st.Frsize)
		if bsize == 0 {
			bsize = float64(st.Bsize)
		}
		g(d.fsSize, float64(st.Blocks)*bsize)
		g(d.fsFree, float64(st.Bfree)*bsize)
		g(d.fsAvail, float64(st.Bavail)*bsize)
		g(d.fsFiles, float64(st.Files))
		g(d.fsFilesFree, float64(st.Ffree))
	}
	return nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
