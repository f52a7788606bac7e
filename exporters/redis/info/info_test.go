package info

import (
	"os"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const replicaSample = "# Replication\r\nrole:master\r\nconnected_slaves:2\r\n" +
	"slave0:ip=10.0.0.2,port=6380,state=online,offset=1234,lag=0\r\n" +
	"slave1:ip=10.0.0.3,port=6381,state=wait_bgsave,offset=0,lag=3\r\n" +
	"slave_read_only:1\r\n"

func sample(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("testdata/info-7.0.txt")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseRealInfo(t *testing.T) {
	in := Parse(sample(t))
	tests := []struct {
		key  string
		want float64
	}{
		{"used_memory", 1315368},
		{"maxclients", 10000},
		{"rdb_last_bgsave_status", 1},
		{"used_memory_peak_perc", 98.65},
		{"keyspace_hits", 6},
		{"mem_fragmentation_ratio", 9.92},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			got, ok := in.Float(tt.key)
			if !ok || got != tt.want {
				t.Errorf("Float(%q) = %v, %v; want %v", tt.key, got, ok, tt.want)
			}
		})
	}
	if v, _ := in.Get("redis_version"); ParseVersion(v) != (Version{7, 0, 15}) {
		t.Errorf("version %q parsed as %v", v, ParseVersion(v))
	}
	if f := in.Fields[in.index["used_memory"]]; f.Section != "memory" {
		t.Errorf("used_memory in section %q, want memory", f.Section)
	}
	cs := in.CommandStats()
	if len(cs) != 16 || cs[0] != (CommandStat{Cmd: "client|setname", Calls: 2, Usec: 10}) {
		t.Errorf("commandstats: %d entries, first %+v", len(cs), cs[0])
	}
	for _, c := range cs {
		if c.Cmd == "incr" && c.FailedCalls != 1 {
			t.Errorf("incr failed_calls = %v, want 1", c.FailedCalls)
		}
	}
	es := in.ErrorStats()
	if len(es) != 2 || es[1] != (ErrorStat{"WRONGTYPE", 1}) {
		t.Errorf("errorstats = %+v", es)
	}
	ls := in.LatencyStats()
	if len(ls) != 16 || ls[0].Cmd != "client|setname" || ls[0].Percentiles["99.9"] != 5.023 {
		t.Errorf("latencystats = %+v", ls)
	}
	ks := in.Keyspaces()
	if len(ks) != 2 || ks[1] != (Keyspace{DB: 1, Keys: 1}) {
		t.Errorf("keyspace = %+v", ks)
	}
}

func TestReplicas(t *testing.T) {
	in := Parse(replicaSample)
	got := in.Replicas()
	want := []Replica{{"10.0.0.2", "6380", "online", 1234, 0}, {"10.0.0.3", "6381", "wait_bgsave", 0, 3}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("Replicas() = %+v, want %+v", got, want)
	}
}

func TestParseNumber(t *testing.T) {
	tests := []struct {
		in   string
		want float64
		ok   bool
	}{
		{"ok", 1, true}, {"err", 0, true}, {"up", 1, true}, {"down", 0, true},
		{"12.5%", 12.5, true}, {"-1", -1, true}, {"1.25M", 0, false}, {"", 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseNumber(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseNumber(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestVersion(t *testing.T) {
	if !ParseVersion("7.2.0").AtLeast(7, 2) || ParseVersion("7.0.15").AtLeast(7, 2) || !ParseVersion("8.0.1").AtLeast(7, 2) {
		t.Error("AtLeast is wrong")
	}
	if ParseVersion("255.255.255-rc1") != (Version{255, 255, 255}) {
		t.Error("odd version")
	}
}

// FuzzParse checks that no INFO text can make the parser panic, and that
// what it parses is consistent: every field it reports is findable by Get.
func FuzzParse(f *testing.F) {
	f.Add(sample(f))
	f.Add(replicaSample)
	f.Add("# Keyspace\ndb0:keys=1,expires=0,avg_ttl=0\ndbx:keys=\n:\n")
	f.Add("cmdstat_:calls\nerrorstat_E:count=x\nlatency_percentiles_usec_get:p50,p=1\n")
	f.Fuzz(func(t *testing.T, text string) {
		in := Parse(text)
		for _, fl := range in.Fields {
			if fl.Key == "" || strings.Contains(fl.Key, "\n") {
				t.Fatalf("bad key %q", fl.Key)
			}
			if _, ok := in.Get(fl.Key); !ok {
				t.Fatalf("Get(%q) missing", fl.Key)
			}
		}
		in.CommandStats()
		in.ErrorStats()
		in.LatencyStats()
		in.Keyspaces()
		in.Replicas()
		if v, ok := in.Get("redis_version"); ok {
			ParseVersion(v)
		}
	})
}
