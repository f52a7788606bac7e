package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/testkit"
)

// TestFileNameNotUTF8: a file whose name is not UTF-8 is shipped and its
// lag is reported with the name made valid UTF-8; the other files' lag
// stays in the family.
func TestFileNameNotUTF8(t *testing.T) {
	dir := testkit.TempDir(t, "shipper")
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	os.WriteFile(filepath.Join(logs, "ok.log"), []byte(`{"msg":"from ok"}`+"\n"), 0o644)
	os.WriteFile(filepath.Join(logs, "bad\xff.log"), []byte(`{"msg":"from bad"}`+"\n"), 0o644)
	s := startShipper(t, dir, "--path="+logs+"/*.log")
	testkit.Eventually(t, 10*time.Second, "both files shipped", func() error {
		if log := s.Log(); !strings.Contains(log, "from ok") || !strings.Contains(log, "from bad") {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	code, body := testkit.Get(t, "http://"+s.addr+"/metrics", nil)
	if code != 200 {
		t.Fatalf("/metrics: %d\n%s", code, body)
	}
	fams := testkit.Families(t, body)
	for _, path := range []string{filepath.Join(logs, "ok.log"), filepath.Join(logs, "bad\uFFFD.log")} {
		if _, ok := testkit.Value(fams, "log_shipper_file_lag_bytes", map[string]string{"path": path}); !ok {
			t.Errorf("no log_shipper_file_lag_bytes{path=%q}:\n%s", path, body)
		}
	}
}
