package main

import (
	"os"
	"path/filepath"

	"github.com/outrigger/outrigger/internal/testkit"
)

// startExtras prepares what the daemons watch beyond the databases: a
// screenshot store and a log directory. It returns lines for the summary.
func startExtras(t testkit.TB, _ string, s *services) []string {
	for _, dir := range []string{"screenshots/2026-11-22", "logs"} {
		if err := os.MkdirAll(filepath.Join(s.workDir, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for i, name := range []string{"a.png", "b.png", "c.png"} {
		data := make([]byte, (i+1)*100_000)
		if err := os.WriteFile(filepath.Join(s.workDir, "screenshots/2026-11-22", name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	line := `{"timestamp":"2026-11-22T10:00:00Z","level":"INFO","service":"api","message":"demo started"}` + "\n"
	if err := os.WriteFile(filepath.Join(s.workDir, "logs", "app.log"), []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	s.pg.PSQL(t, "postgres", "CREATE DATABASE litellm")
	return []string{"screenshots        " + filepath.Join(s.workDir, "screenshots"), "logs               " + filepath.Join(s.workDir, "logs")}
}
