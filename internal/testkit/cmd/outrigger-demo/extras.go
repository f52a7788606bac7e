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

	s.rabbit = testkit.StartRabbitMQ(t, testkit.RabbitMQOptions{})
	celery := testkit.CeleryOptions{BrokerURL: s.rabbit.URL(), Hostname: "worker1@demo"}
	testkit.StartCeleryWorker(t, celery)
	// Some work for the Celery panels: successes, a failure, a retry, and a
	// backlog on a queue nobody consumes.
	tasks := []testkit.CeleryTask{{Name: testkit.TaskBoom}, {Name: testkit.TaskFlaky, Kwargs: map[string]any{"failures": 1}}}
	for i := range 20 {
		tasks = append(tasks, testkit.CeleryTask{Name: testkit.TaskAdd, Args: []any{i, i}},
			testkit.CeleryTask{Name: testkit.TaskAdd, Args: []any{i, 1}, Queue: "reports"})
	}
	testkit.SendTasks(t, celery, tasks...)
	return []string{"RabbitMQ           " + s.rabbit.URL() + " (Celery worker worker1@demo, queue celery; 20 tasks waiting in reports)",
		"screenshots        " + filepath.Join(s.workDir, "screenshots"), "logs               " + filepath.Join(s.workDir, "logs")}
}
