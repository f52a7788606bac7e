package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func flagDefaults() Settings {
	return Settings{Interval: 5 * time.Minute, Budget: 10 * time.Minute, SubdirDepth: 1, TopSubdirs: 10, TopExtensions: 10}
}

func validConfig() Config {
	return Config{Defaults: flagDefaults(), Workers: 4, MaxConcurrentWalks: 1, StatfsInterval: 15 * time.Second,
		StatfsTimeout: 5 * time.Second, MaxHardlinks: 1000}
}

func TestGoodFileMergesFlagsFileDefaultsAndPaths(t *testing.T) {
	c := validConfig()
	c.File = filepath.Join("testdata", "good.yml")
	c.Paths = []string{"tmp=/tmp"}
	vc, err := c.Validate()
	if err != nil {
		t.Fatal(err)
	}
	fileDefaults := Settings{Interval: 2 * time.Minute, Budget: time.Minute, SubdirDepth: 1, TopSubdirs: 10, TopExtensions: 5}
	want := []Target{
		{Name: "tmp", Dir: "/tmp", Settings: flagDefaults()},
		{Name: "screenshots", Dir: "/data/screenshots", Settings: Settings{Interval: 30 * time.Second, Budget: time.Minute,
			SubdirDepth: 2, TopSubdirs: 20, TopExtensions: 5}},
		{Name: "logs", Dir: "/app/logs", Settings: fileDefaults},
		{Name: "backups", Dir: "/var/backups", Settings: Settings{Interval: 2 * time.Minute, Budget: time.Minute,
			SubdirDepth: 0, TopSubdirs: 10, TopExtensions: 5}},
	}
	if got := vc.Targets(); !reflect.DeepEqual(got, want) {
		t.Errorf("targets:\n got %+v\nwant %+v", got, want)
	}
}

func TestBadFilesFailWithLineNumbers(t *testing.T) {
	cases := map[string]string{
		"unknown-field.yml":  "parsing YAML: yaml: unmarshal errors:\n  line 4: field intervall not found in type config.filePath",
		"bad-duration.yml":   "parsing YAML: yaml: unmarshal errors:\n  line 2: cannot unmarshal !!str `five mi...` into time.Duration",
		"relative-path.yml":  `line 5: paths[1]: path "data/here": must be absolute`,
		"bad-name.yml":       `line 2: paths[0]: name "my logs": must be 1 to 64 letters, digits, '_', '.' or '-', not starting with '.' or '-'`,
		"missing-path.yml":   "line 2: paths[0]: path is missing",
		"short-interval.yml": "line 2: paths[0] (logs): interval 10ms: must be at least 1s\ntop-subdirs 0: must be between 1 and 1000",
		"bad-defaults.yml":   "line 2: defaults: subdir-depth 99: must be between 0 and 16",
		"two-documents.yml":  "parsing YAML: line 4: only one YAML document is allowed",
		"not-a-list.yml":     "parsing YAML: yaml: unmarshal errors:\n  line 2: cannot unmarshal !!map into []config.filePath",
		"duplicate-name.yml": `path name "logs" is used twice (in --path or the config file)`,
	}
	entries, err := os.ReadDir(filepath.Join("testdata", "bad"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(cases) {
		t.Errorf("testdata/bad has %d files, the table %d: keep them in step", len(entries), len(cases))
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			c := validConfig()
			c.File = filepath.Join("testdata", "bad", name)
			_, err := c.Validate()
			if err == nil {
				t.Fatal("no error")
			}
			got := strings.TrimPrefix(err.Error(), "config file "+c.File+": ")
			if got != want {
				t.Errorf("error:\n got %q\nwant %q", got, want)
			}
		})
	}
}

func TestPathFlags(t *testing.T) {
	cwd, _ := os.Getwd()
	cases := []struct {
		in, name, dir, err string
	}{
		{in: "shots=/data/shots", name: "shots", dir: "/data/shots"},
		{in: "a=b=c", name: "a", dir: filepath.Join(cwd, "b=c")},
		{in: "rel=some/dir/", name: "rel", dir: filepath.Join(cwd, "some/dir")},
		{in: "/data/shots", err: `--path "/data/shots": want NAME=DIR`},
		{in: "=/x", err: `--path "=/x": name "": must be 1 to 64 letters, digits, '_', '.' or '-', not starting with '.' or '-'`},
		{in: "x=", err: `--path "x=": the directory is empty`},
		{in: "bad name=/x", err: `--path "bad name=/x": name "bad name": must be 1 to 64 letters, digits, '_', '.' or '-', not starting with '.' or '-'`},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParsePathFlag(tc.in)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got.Name != tc.name || got.Dir != tc.dir {
				t.Errorf("got %+v, %v; want %s=%s", got, err, tc.name, tc.dir)
			}
		})
	}
}

func TestValidateRejectsBadFlagsAndNothingToWatch(t *testing.T) {
	cases := []struct {
		name   string
		modify func(*Config)
		want   string
	}{
		{"nothing to watch", func(*Config) {}, "nothing to watch: give --path NAME=DIR or a --config.file with paths"},
		{"zero workers", func(c *Config) { c.Workers = 0; c.Paths = []string{"a=/a"} }, "--walk.workers 0: must be between 1 and 256"},
		{"nice out of range", func(c *Config) { c.WalkNice = 20; c.Paths = []string{"a=/a"} }, "--walk.nice 20: must be between 0 and 19"},
		{"negative budget", func(c *Config) { c.Defaults.Budget = -time.Second; c.Paths = []string{"a=/a"} }, "--walk.budget -1s: must be positive"},
		{"statfs", func(c *Config) { c.StatfsTimeout = 0; c.Paths = []string{"a=/a"} }, "--statfs.timeout 0s: must be positive"},
		{"same name twice", func(c *Config) { c.Paths = []string{"a=/a", "a=/b"} }, `path name "a" is used twice (in --path or the config file)`},
		{"missing file", func(c *Config) { c.File = "testdata/nope.yml" }, "reading config file: open testdata/nope.yml: no such file or directory"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.modify(&c)
			_, err := c.Validate()
			if err == nil || err.Error() != tc.want {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestEmptyFileWithFlagPathsIsValid(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.yml")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	c := validConfig()
	c.File, c.Paths = empty, []string{"x=/x"}
	vc, err := c.Validate()
	if err != nil || len(vc.Targets()) != 1 {
		t.Fatalf("got %v, %v", vc.Targets(), err)
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range []string{"testdata/good.yml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	bad, _ := filepath.Glob("testdata/bad/*.yml")
	for _, p := range bad {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		targets, err := Parse(data, flagDefaults())
		if err != nil {
			return
		}
		for _, tg := range targets {
			if checkName(tg.Name) != nil || !filepath.IsAbs(tg.Dir) || tg.check("") != nil {
				t.Fatalf("Parse accepted an invalid target %+v", tg)
			}
		}
	})
}

func FuzzParsePathFlag(f *testing.F) {
	for _, s := range []string{"shots=/data/shots", "a=b=c", "=", "x", "logs=/app/logs/", "é=/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := ParsePathFlag(s)
		if err != nil {
			return
		}
		if checkName(tg.Name) != nil || !filepath.IsAbs(tg.Dir) {
			t.Fatalf("accepted %q as %+v", s, tg)
		}
	})
}

// The process-wide settings reach the monitor as given; --once waits for the
// longest budget of any path plus the statfs timeout and a margin.
func TestProcessSettingsAndOnceTimeout(t *testing.T) {
	c := validConfig()
	c.WalkNice = 7
	c.File = filepath.Join("testdata", "good.yml")
	c.Paths = []string{"tmp=/tmp"}
	vc, err := c.Validate()
	if err != nil {
		t.Fatal(err)
	}
	want := Process{Workers: 4, WalkNice: 7, MaxConcurrentWalks: 1, MaxHardlinks: 1000, StatfsInterval: 15 * time.Second, StatfsTimeout: 5 * time.Second}
	if got := vc.Process(); got != want {
		t.Errorf("Process() = %+v, want %+v", got, want)
	}
	// The flag path's budget (10m) is the longest; the file's are 1m.
	if got := vc.OnceTimeout(); got != 10*time.Minute+5*time.Second+10*time.Second {
		t.Errorf("OnceTimeout() = %s", got)
	}
}
