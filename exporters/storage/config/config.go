package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Settings are the knobs of one watched path.
type Settings struct {
	// Interval between the starts of two walks.
	Interval time.Duration
	// Budget is the longest a walk may take; past it the walk stops and its
	// result is reported as partial.
	Budget time.Duration
	// SubdirDepth is the depth of the per-subdirectory breakdown (0: none).
	SubdirDepth   int
	TopSubdirs    int
	TopExtensions int
}

// Target is one directory tree to watch.
type Target struct {
	Name string // the value of the path label
	Dir  string // absolute
	Settings
}

// Config is what main gathered from flags and environment.
type Config struct {
	// File is the YAML configuration file ("" for none).
	File string
	// Paths are the NAME=DIR values of --path.
	Paths []string
	// Defaults apply to every path unless the file overrides them.
	Defaults Settings
	// Workers read directories in parallel within one walk.
	Workers int
	// WalkNice is the nice value of the walkers' threads (0-19): scrapes and
	// the watched application come first when CPUs are short.
	WalkNice int
	// MaxConcurrentWalks bounds the walks running at once over all paths.
	MaxConcurrentWalks int
	// StatfsInterval and StatfsTimeout pace and bound the filesystem
	// (statfs) checks.
	StatfsInterval time.Duration
	StatfsTimeout  time.Duration
	// MaxHardlinks bounds the (device, inode) set of one walk.
	MaxHardlinks int
}

// ValidatedConfig is a Config that passed Validate: the targets and the
// process-wide settings, handed out by its accessors.
type ValidatedConfig struct {
	targets []Target
	process Process
}

// Process are the settings that apply to all walks and statfs checks.
type Process struct {
	Workers            int
	WalkNice           int
	MaxConcurrentWalks int
	MaxHardlinks       int
	StatfsInterval     time.Duration
	StatfsTimeout      time.Duration
}

// Targets returns the paths to watch, flags first, then the file's in order.
func (v ValidatedConfig) Targets() []Target { return append([]Target(nil), v.targets...) }

// Process returns the process-wide settings.
func (v ValidatedConfig) Process() Process { return v.process }

// OnceTimeout bounds --once: a walk stuck in a hung mount cannot be
// interrupted, so --once prints what there is after the longest budget, a
// statfs timeout and a margin.
func (v ValidatedConfig) OnceTimeout() time.Duration {
	longest := time.Duration(0)
	for _, t := range v.targets {
		longest = max(longest, t.Budget)
	}
	return longest + v.process.StatfsTimeout + 10*time.Second
}

// Validate checks the flags, reads the file (if any) and merges both. It is
// also how a reload re-reads the file.
func (c Config) Validate() (ValidatedConfig, error) {
	var errs []error
	if err := c.Defaults.check("--walk."); err != nil {
		errs = append(errs, err)
	}
	if c.WalkNice < 0 || c.WalkNice > 19 {
		errs = append(errs, fmt.Errorf("--walk.nice %d: must be between 0 and 19", c.WalkNice))
	}
	if c.Workers < 1 || c.Workers > 256 {
		errs = append(errs, fmt.Errorf("--walk.workers %d: must be between 1 and 256", c.Workers))
	}
	if c.MaxConcurrentWalks < 1 {
		errs = append(errs, fmt.Errorf("--walk.max-concurrent %d: must be at least 1", c.MaxConcurrentWalks))
	}
	if c.StatfsInterval < time.Second {
		errs = append(errs, fmt.Errorf("--statfs.interval %s: must be at least 1s", c.StatfsInterval))
	}
	if c.StatfsTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--statfs.timeout %s: must be positive", c.StatfsTimeout))
	}
	if c.MaxHardlinks < 1 {
		errs = append(errs, fmt.Errorf("--walk.max-hardlinks %d: must be at least 1", c.MaxHardlinks))
	}
	if err := errors.Join(errs...); err != nil {
		return ValidatedConfig{}, err
	}
	var targets []Target
	for _, p := range c.Paths {
		t, err := ParsePathFlag(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		t.Settings = c.Defaults
		targets = append(targets, t)
	}
	if c.File != "" {
		data, err := os.ReadFile(c.File)
		if err != nil {
			return ValidatedConfig{}, fmt.Errorf("reading config file: %w", err)
		}
		fileTargets, err := Parse(data, c.Defaults)
		if err != nil {
			return ValidatedConfig{}, fmt.Errorf("config file %s: %w", c.File, err)
		}
		targets = append(targets, fileTargets...)
	}
	seen := map[string]bool{}
	for _, t := range targets {
		if seen[t.Name] {
			errs = append(errs, fmt.Errorf("path name %q is used twice (in --path or the config file)", t.Name))
		}
		seen[t.Name] = true
	}
	if len(targets) == 0 && len(errs) == 0 {
		errs = append(errs, errors.New("nothing to watch: give --path NAME=DIR or a --config.file with paths"))
	}
	if err := errors.Join(errs...); err != nil {
		return ValidatedConfig{}, err
	}
	return ValidatedConfig{targets: targets, process: Process{Workers: c.Workers, WalkNice: c.WalkNice,
		MaxConcurrentWalks: c.MaxConcurrentWalks, MaxHardlinks: c.MaxHardlinks,
		StatfsInterval: c.StatfsInterval, StatfsTimeout: c.StatfsTimeout}}, nil
}

// nameRE is what a path name (a label value) may look like.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$`)

func checkName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("name %q: must be 1 to 64 letters, digits, '_', '.' or '-', not starting with '.' or '-'", name)
	}
	return nil
}

// ParsePathFlag parses a --path value, NAME=DIR. A relative DIR is taken
// from the working directory.
func ParsePathFlag(v string) (Target, error) {
	name, dir, ok := strings.Cut(v, "=")
	if !ok {
		return Target{}, fmt.Errorf("--path %q: want NAME=DIR", v)
	}
	if err := checkName(name); err != nil {
		return Target{}, fmt.Errorf("--path %q: %w", v, err)
	}
	if dir == "" {
		return Target{}, fmt.Errorf("--path %q: the directory is empty", v)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Target{}, fmt.Errorf("--path %q: %w", v, err)
	}
	return Target{Name: name, Dir: abs}, nil
}

const (
	maxDepth = 16
	maxTop   = 1000
)

// check validates settings; prefix names where they came from.
func (s Settings) check(prefix string) error {
	var errs []error
	if s.Interval < time.Second {
		errs = append(errs, fmt.Errorf("%sinterval %s: must be at least 1s", prefix, s.Interval))
	}
	if s.Budget <= 0 {
		errs = append(errs, fmt.Errorf("%sbudget %s: must be positive", prefix, s.Budget))
	}
	if s.SubdirDepth < 0 || s.SubdirDepth > maxDepth {
		errs = append(errs, fmt.Errorf("%ssubdir-depth %d: must be between 0 and %d", prefix, s.SubdirDepth, maxDepth))
	}
	if s.TopSubdirs < 1 || s.TopSubdirs > maxTop {
		errs = append(errs, fmt.Errorf("%stop-subdirs %d: must be between 1 and %d", prefix, s.TopSubdirs, maxTop))
	}
	if s.TopExtensions < 1 || s.TopExtensions > maxTop {
		errs = append(errs, fmt.Errorf("%stop-extensions %d: must be between 1 and %d", prefix, s.TopExtensions, maxTop))
	}
	return errors.Join(errs...)
}
