package monitor

import (
	"os"
	"path/filepath"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/outrigger/outrigger/exporters/storage/config"
	"github.com/outrigger/outrigger/internal/testkit"
)

// File and directory names are bytes: a subdirectory or extension that is
// not UTF-8 is served with U+FFFD in place of the bad bytes, beside the
// other series of its family.
func TestNonUTF8NamesServedAsValidUTF8(t *testing.T) {
	root := t.TempDir()
	for _, p := range []string{"caf\xe9/a.p\xffg", "caf\xe9/b.txt", "plain/c.txt"} {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f := start(t, Options{}, config.Target{Name: "shots", Dir: root, Settings: settings(time.Hour)})
	f.waitFirst(t)
	fams, body, _ := f.scrape(t)
	if !utf8.Valid(body) {
		t.Error("the exposition is not valid UTF-8")
	}
	for _, c := range []struct {
		family string
		labels map[string]string
		want   float64
	}{
		{"storage_subdir_files", map[string]string{"path": "shots", "subdir": "caf\uFFFD"}, 2},
		{"storage_subdir_files", map[string]string{"path": "shots", "subdir": "plain"}, 1},
		{"storage_extension_files", map[string]string{"path": "shots", "extension": ".p\uFFFDg"}, 1},
		{"storage_extension_files", map[string]string{"path": "shots", "extension": ".txt"}, 2},
	} {
		if got := testkit.MustValue(t, fams, c.family, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.family, c.labels, got, c.want)
		}
	}
}
