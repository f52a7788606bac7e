package registry

import (
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestSaveAndReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "registry.json")
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	r.Put(Entry{ID: "a", Path: "/app/logs/app.log", Dev: 1, Inode: 2, FingerprintLen: 10, Fingerprint: "ff"})
	r.Commit("a", 100, map[string]int64{"loki": 100, "es": 150})
	r.Commit("gone", 5, nil) // unknown ids are ignored
	if err := r.Save(); err != nil {
		t.Fatal(err)
	}
	r2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	es := r2.Entries()
	if len(es) != 1 || es[0].Offset != 100 || es[0].Outputs["es"] != 150 || es[0].Path != "/app/logs/app.log" {
		t.Fatalf("%+v", es)
	}
	if r2.SavedAt().IsZero() {
		t.Error("SavedAt unknown after reopening")
	}
	// No temporary file is left behind.
	names, _ := os.ReadDir(dir)
	if len(names) != 1 {
		t.Errorf("files left: %v", names)
	}
	r2.MarkEnded("a")
	r2.Delete("a")
	if err := r2.Save(); err != nil {
		t.Fatal(err)
	}
	r3, _ := Open(path)
	if len(r3.Entries()) != 0 {
		t.Error("deleted entry came back")
	}
}

func TestCorruptRegistryIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "registry.json")
	os.WriteFile(path, []byte("{not json"), 0o600)
	if _, err := Open(path); err == nil {
		t.Fatal("a corrupt registry must stop the start, not reset every offset")
	}
}
