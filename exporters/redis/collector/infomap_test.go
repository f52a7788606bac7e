package collector

import (
	"strings"
	"testing"

	"github.com/outrigger/outrigger/exporters/redis/info"
	"github.com/outrigger/outrigger/internal/testkit"
)

// TestInfoTableComplete: every numeric field of INFO ALL and CLUSTER INFO
// that the Redis of the tests shows (standalone and cluster) has its family
// declared in a table, so that a grep for any name this exporter produces
// lands on its declaration; only a newer server's fields take the
// redis_<key> fallback.
func TestInfoTableComplete(t *testing.T) {
	t.Parallel()
	for _, cluster := range []bool{false, true} {
		r := testkit.StartRedis(t, testkit.RedisOptions{Cluster: cluster})
		for _, f := range infoOf(t, r).Fields {
			if _, ok := info.ParseNumber(f.Value); !ok || skipField(f) {
				continue
			}
			_, known := infoFields[f.Key]
			_, master := masterFields[f.Key]
			if !known && !master {
				t.Errorf("INFO %s (%s) is not in infoFields: it would be exported as %s", f.Key, f.Section, fallbackName(f.Key))
			}
		}
		if !cluster {
			continue
		}
		for _, f := range info.Parse(r.MustDo(t, "CLUSTER", "INFO")).Fields {
			if _, ok := info.ParseNumber(f.Value); !ok || !strings.HasPrefix(f.Key, "cluster_") {
				continue
			}
			if _, ok := clusterFields[f.Key]; !ok {
				t.Errorf("CLUSTER INFO %s is not in clusterFields", f.Key)
			}
		}
	}
}

// TestTablesHoldFullNames: the tables declare redis_ names, and no two keys
// share a family unless they are one field renamed.
func TestTablesHoldFullNames(t *testing.T) {
	shared := map[string]bool{"redis_slave_priority": true, "redis_slave_read_only": true}
	seen := map[string]string{}
	for _, table := range []map[string]infoField{infoFields, masterFields, clusterFields} {
		for key, f := range table {
			if key != f.key || !strings.HasPrefix(f.fam.Name(), "redis_") {
				t.Errorf("entry %q: key %q, family %q", key, f.key, f.fam.Name())
			}
			if prev, dup := seen[f.fam.Name()]; dup && !shared[f.fam.Name()] {
				t.Errorf("%s is the family of both %s and %s", f.fam.Name(), prev, key)
			}
			seen[f.fam.Name()] = key
		}
	}
}

func TestFallbackName(t *testing.T) {
	for key, want := range map[string]string{
		"new_field":      "redis_new_field",
		"Mixed-Case.x":   "redis_mixed_case_x",
		"9lives":         "redis__lives",
		"errorstat_ERR2": "redis_errorstat_err2",
	} {
		if got := fallbackName(key); got != want {
			t.Errorf("fallbackName(%q) = %q, want %q", key, got, want)
		}
	}
}
