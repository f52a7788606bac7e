package monitor

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/outrigger/outrigger/exporters/storage/walk"
	"github.com/outrigger/outrigger/internal/promkit"
)

// Namespace is the prefix of the scrape runner's own families
// (storage_scrape_collector_*); every family below is spelt out in full.
const Namespace = "storage"

// Every family is labelled by the watched path's name first.
var (
	pathInfo      = promkit.Gauge("storage_path_info", "Maps a watched path's name to its directory.", "path", "directory")
	pathApparent  = promkit.Gauge("storage_path_apparent_bytes", "Sum of the apparent sizes of everything under the path, as `du -sb` (last walk).", "path")
	pathAllocated = promkit.Gauge("storage_path_allocated_bytes", "Disk space allocated to everything under the path, as `du -s -B1` (last walk).", "path")
	pathFiles     = promkit.Gauge("storage_path_files", "Regular files under the path, hard-linked ones counted once (last walk).", "path")
	pathDirs      = promkit.Gauge("storage_path_directories", "Directories under the path, itself included (last walk).", "path")
	pathOthers    = promkit.Gauge("storage_path_other_entries", "Symlinks, sockets, FIFOs and devices under the path (last walk).", "path")
	oldestAge     = promkit.Gauge("storage_path_oldest_file_age_seconds", "Time since the modification of the oldest regular file under the path.", "path")
	newestAge     = promkit.Gauge("storage_path_newest_file_age_seconds", "Time since the modification of the newest regular file under the path.", "path")
	oldestTS      = promkit.Gauge("storage_path_oldest_file_timestamp_seconds", "Modification time of the oldest regular file under the path.", "path")
	newestTS      = promkit.Gauge("storage_path_newest_file_timestamp_seconds", "Modification time of the newest regular file under the path.", "path")

	subdirApparent  = promkit.Gauge("storage_subdir_apparent_bytes", "Apparent bytes per subdirectory at the configured depth: the top N, \".\" (above that depth) and \"other\".", "path", "subdir")
	subdirAllocated = promkit.Gauge("storage_subdir_allocated_bytes", "Allocated bytes per subdirectory at the configured depth: the top N, \".\" and \"other\".", "path", "subdir")
	subdirFiles     = promkit.Gauge("storage_subdir_files", "Regular files per subdirectory at the configured depth: the top N, \".\" and \"other\".", "path", "subdir")
	extApparent     = promkit.Gauge("storage_extension_apparent_bytes", "Apparent bytes of regular files by lower-cased extension: the top N, \"none\" and \"other\".", "path", "extension")
	extAllocated    = promkit.Gauge("storage_extension_allocated_bytes", "Allocated bytes of regular files by lower-cased extension: the top N, \"none\" and \"other\".", "path", "extension")
	extFiles        = promkit.Gauge("storage_extension_files", "Regular files by lower-cased extension: the top N, \"none\" and \"other\".", "path", "extension")

	walkSuccess    = promkit.Gauge("storage_walk_success", "Whether the last walk could read the path's root (1) or not (0).", "path")
	walkPartial    = promkit.Gauge("storage_walk_partial", "Whether the last walk ran out of its time budget, so its figures are too low (1) or not (0).", "path")
	walkDuration   = promkit.Gauge("storage_walk_duration_seconds", "How long the last walk took.", "path")
	walkAge        = promkit.Gauge("storage_walk_age_seconds", "Time since the last walk (whose figures are served) finished.", "path")
	walkTS         = promkit.Gauge("storage_walk_timestamp_seconds", "When the last walk (whose figures are served) finished.", "path")
	walkRunning    = promkit.Gauge("storage_walk_in_progress", "Whether a walk of the path is running now.", "path")
	walksTotal     = promkit.Counter("storage_walks_total", "Walks finished since the path was configured, by result: complete, partial or failed.", "path", "result")
	walkUnreadable = promkit.Gauge("storage_walk_unreadable_directories", "Directories the last walk could not open or read; their content is not counted.", "path")
	walkStatErrors = promkit.Gauge("storage_walk_stat_errors", "Entries the last walk could not stat for another reason than having vanished.", "path")
	walkVanished   = promkit.Gauge("storage_walk_vanished_entries", "Entries that disappeared during the last walk (deleted between listing and stat).", "path")
	walkCycles     = promkit.Gauge("storage_walk_directory_cycles", "Directories the last walk met again below themselves (bind mounts) and skipped, as du does.", "path")
	walkLinksFull  = promkit.Gauge("storage_walk_hardlink_set_full", "Whether the last walk met more hard-linked files than it tracks, so some were counted more than once.", "path")

	fsSize      = promkit.Gauge("storage_filesystem_size_bytes", "Size of the filesystem holding the path.", "path")
	fsFree      = promkit.Gauge("storage_filesystem_free_bytes", "Free space on the filesystem holding the path, including space reserved for root.", "path")
	fsAvail     = promkit.Gauge("storage_filesystem_avail_bytes", "Space available to unprivileged users on the filesystem holding the path.", "path")
	fsFiles     = promkit.Gauge("storage_filesystem_files", "Inodes of the filesystem holding the path.", "path")
	fsFilesFree = promkit.Gauge("storage_filesystem_files_free", "Free inodes of the filesystem holding the path.", "path")
	fsOK        = promkit.Gauge("storage_filesystem_stat_success", "Whether the last statfs of the path answered in time (1) or failed or hung (0).", "path")
)

// walkResults are the labels of storage_walks_total, in the order of
// path.walks.
var walkResults = [...]string{"complete", "partial", "failed"}

// Collectors return what a scrape runs: they read memory only.
func (m *Monitor) Collectors() []promkit.Collector {
	return []promkit.Collector{
		promkit.CollectorFunc{ID: "walk", Fn: m.collectWalks},
		promkit.CollectorFunc{ID: "filesystem", Fn: m.collectFilesystems},
	}
}

func (m *Monitor) collectWalks(ctx context.Context, ch chan<- prometheus.Metric) error {
	now := time.Now()
	for _, p := range m.snapshot() {
		name := p.target.Name
		pathInfo.Send(ch, 1, name, p.target.Dir)
		walkRunning.Send(ch, promkit.Bool(p.runningSince.Load() != 0), name)
		for i, result := range walkResults {
			walksTotal.Send(ch, float64(p.walks[i].Load()), name, result)
		}
		if p.attempted.Load() {
			walkSuccess.Send(ch, promkit.Bool(p.success.Load()), name)
		}
		if o := p.last.Load(); o != nil {
			sendOutcome(ch, name, o, now)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

// sendOutcome sends the figures of the last walk that read the root.
func sendOutcome(ch chan<- prometheus.Metric, name string, o *outcome, now time.Time) {
	r := o.res
	pathApparent.Send(ch, float64(r.Totals.ApparentBytes), name)
	pathAllocated.Send(ch, float64(r.Totals.AllocatedBytes), name)
	pathFiles.Send(ch, float64(r.Totals.Files), name)
	pathDirs.Send(ch, float64(r.Totals.Directories), name)
	pathOthers.Send(ch, float64(r.Totals.Others), name)
	if !r.OldestMtime.IsZero() {
		oldestAge.Send(ch, now.Sub(r.OldestMtime).Seconds(), name)
		newestAge.Send(ch, now.Sub(r.NewestMtime).Seconds(), name)
		oldestTS.Send(ch, float64(r.OldestMtime.UnixNano())/1e9, name)
		newestTS.Send(ch, float64(r.NewestMtime.UnixNano())/1e9, name)
	}
	sendBuckets(ch, name, r.Subdirs, subdirApparent, subdirAllocated, subdirFiles)
	sendBuckets(ch, name, r.Extensions, extApparent, extAllocated, extFiles)
	walkPartial.Send(ch, promkit.Bool(r.Partial), name)
	walkDuration.Send(ch, r.Duration.Seconds(), name)
	walkAge.Send(ch, now.Sub(o.finished).Seconds(), name)
	walkTS.Send(ch, float64(o.finished.UnixNano())/1e9, name)
	walkUnreadable.Send(ch, float64(r.UnreadableDirs), name)
	walkStatErrors.Send(ch, float64(r.StatErrors), name)
	walkVanished.Send(ch, float64(r.Vanished), name)
	walkCycles.Send(ch, float64(r.Cycles), name)
	walkLinksFull.Send(ch, promkit.Bool(r.HardlinkSetFull), name)
}

func sendBuckets(ch chan<- prometheus.Metric, name string, bs []walk.Bucket, apparent, allocated, files promkit.Family) {
	for _, b := range bs {
		apparent.Send(ch, float64(b.ApparentBytes), name, b.Name)
		allocated.Send(ch, float64(b.AllocatedBytes), name, b.Name)
		files.Send(ch, float64(b.Files), name, b.Name)
	}
}

func (m *Monitor) collectFilesystems(_ context.Context, ch chan<- prometheus.Metric) error {
	for _, p := range m.snapshot() {
		name := p.target.Name
		st := p.fs.Load()
		if !p.fsAttempted.Load() {
			continue
		}
		fsOK.Send(ch, promkit.Bool(p.fsOK.Load()), name)
		if st == nil {
			continue
		}
		// Block counts are in fragment-size units (statvfs(3), as df uses).
		bsize := float64(st.Frsize)
		if bsize == 0 {
			bsize = float64(st.Bsize)
		}
		fsSize.Send(ch, float64(st.Blocks)*bsize, name)
		fsFree.Send(ch, float64(st.Bfree)*bsize, name)
		fsAvail.Send(ch, float64(st.Bavail)*bsize, name)
		fsFiles.Send(ch, float64(st.Files), name)
		fsFilesFree.Send(ch, float64(st.Ffree), name)
	}
	return nil
}
