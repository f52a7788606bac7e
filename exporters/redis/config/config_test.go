package config

import (
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func base(file string) Config {
	return Config{
		Default:     Target{Addr: "redis://localhost:6379"},
		File:        file,
		ClientName:  "outrigger-redis-exporter",
		ClientsTopN: 10,
		SlowlogTop:  5,
		Scan:        Scan{Interval: 10 * time.Second, Budget: time.Second, Batch: 1000},
	}
}

func TestGoodFile(t *testing.T) {
	v, err := base("testdata/good.yml").Validate()
	if err != nil {
		t.Fatal(err)
	}
	ts := v.Targets()
	if len(ts) != 3 || ts[0].Name() != DefaultTarget || ts[1].Name() != "cache" {
		t.Fatalf("targets = %+v", ts)
	}
	cache := ts[1]
	if o := cache.RedisOptions(); o.Username != "exporter" || o.Password != "s3cr3t" {
		t.Errorf("credentials not taken from the file: user %q", o.Username)
	}
	if o := ts[0].RedisOptions(); o.Username != "" || o.Password != "" {
		t.Errorf("the default target got credentials of the file: user %q", o.Username)
	}
	if strings.Contains(cache.Fingerprint(), "s3cr3t") {
		t.Error("fingerprint holds the password")
	}
	if g, k := cache.KeyGroups(), cache.Keys(); g[0].Name != "cache:*" || g[1].DB != 1 || k[0].Key != "celery" {
		t.Errorf("key groups %+v, keys %+v", g, k)
	}
	if o := ts[2].RedisOptions(); o.Network != "unix" || o.Addr != "/run/redis.sock" {
		t.Errorf("unix target: %s %s", o.Network, o.Addr)
	}
}

func TestBadFiles(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"unknown-field.yml", []string{"line 4: field pasword not found"}},
		{"no-addr.yml", []string{`line 5: target "b" has no addr`}},
		{"reserved.yml", []string{`line 2: target name "default" is reserved`}},
		{"bad-group.yml", []string{`testdata/bad-group.yml:2: target "cache": key group 1 has no pattern`}},
		{"duplicate.yml", []string{`testdata/duplicate.yml:4: target name "cache" already used at line 2`}},
		{"secret-in-url.yml", []string{`testdata/secret-in-url.yml:2: target "cache": parsing address redis://127.0.0.1:6379/notadb`}},
		{"missing.yml", []string{"reading config file: open testdata/missing.yml: no such file or directory"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := base("testdata/" + tt.file).Validate()
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

func TestFlagSpecs(t *testing.T) {
	groups, err := ParseKeyGroups([]string{"cache:*,db3=session:*", "celery"})
	if err != nil {
		t.Fatal(err)
	}
	want := []KeyGroup{{"cache:*", 0, "cache:*"}, {"session:*", 3, "session:*"}, {"celery", 0, "celery"}}
	if len(groups) != 3 || groups[0] != want[0] || groups[1] != want[1] || groups[2] != want[2] {
		t.Errorf("ParseKeyGroups = %+v", groups)
	}
	for _, bad := range []string{"dbx=foo", "db1="} {
		if _, err := ParseSingleKeys([]string{bad}); err == nil {
			t.Errorf("ParseSingleKeys(%q) accepted", bad)
		}
	}
	keys, _ := ParseSingleKeys([]string{"db2=queue", "key=with=equals"})
	if keys[0] != (SingleKey{2, "queue"}) || keys[1] != (SingleKey{0, "key=with=equals"}) {
		t.Errorf("ParseSingleKeys = %+v", keys)
	}
}

// TestKeyFlags: Validate parses --keys.group and --keys.length into the
// default target, and names the flag of a bad value.
func TestKeyFlags(t *testing.T) {
	c := base("")
	c.KeyGroupFlags = []string{"cache:*,db3=session:*"}
	c.KeyFlags = []string{"db2=queue"}
	v, err := c.Validate()
	if err != nil {
		t.Fatal(err)
	}
	def := v.Targets()[0]
	if g := def.KeyGroups(); len(g) != 2 || g[1] != (KeyGroup{"session:*", 3, "session:*"}) {
		t.Errorf("key groups %+v", g)
	}
	if k := def.Keys(); len(k) != 1 || k[0] != (SingleKey{2, "queue"}) {
		t.Errorf("keys %+v", k)
	}
	if s := v.Scrape(); s.ClientsTopN != 10 || s.SlowlogTop != 5 || s.ClientName != "outrigger-redis-exporter" || s.Scan.Batch != 1000 {
		t.Errorf("scrape options %+v", s)
	}
	c.KeyGroupFlags, c.KeyFlags = []string{"dbx=foo"}, []string{"db1="}
	_, err = c.Validate()
	if err == nil || !strings.Contains(err.Error(), `--keys.group "dbx=foo"`) || !strings.Contains(err.Error(), `--keys.length "db1="`) {
		t.Errorf("bad key flags: %v", err)
	}
}

func TestBadFlags(t *testing.T) {
	c := base("")
	c.ClientName = "has space"
	c.Default.Addr = "redis://:pw@host:notaport"
	c.Default.PasswordFile = "/nonexistent"
	_, err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "--redis.client-name") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), ":pw@") {
		t.Errorf("error shows the password: %v", err)
	}
}

// FuzzParse: no config file content makes the parser panic.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"targets:\n  - name: a\n    addr: x\n", "targets: {}\n", "- 1\n", "targets:\n  - key_groups: [{pattern: '*'}]\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = Parse(b)
	})
}
