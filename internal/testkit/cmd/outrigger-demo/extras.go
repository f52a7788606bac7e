package main

import (
	"os"
	"path/filepath"

	"github.com/outrigger/outrigger/internal/testkit"
)

// startExtras prepares what the daemons watch beyond the databases: a
// screenshot store and a log directory. It returns lines for the summary.
func startExtras(t testkit.TB, root string, s *services) []string {
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
	startLogWriter(t, filepath.Join(s.workDir, "logs", "api.log"))
	// LiteLLM's tables as the proxy creates them, with a key at 85 % of its
	// budget so the cost alert has something to say.
	s.pg.PSQL(t, "postgres", "CREATE DATABASE litellm")
	schema, err := os.ReadFile(filepath.Join(root, "exporters", "litellm-cost", "testdata", "schema.sql"))
	if err != nil {
		t.Fatal(err)
	}
	s.pg.PSQL(t, "litellm", string(schema))
	s.pg.PSQL(t, "litellm", `INSERT INTO "LiteLLM_VerificationToken" (token, key_alias, spend, max_budget, budget_duration, budget_reset_at)
		VALUES ('demo-hashed-token', 'agent-prod', 85, 100, '30d', now() + interval '10 days');
		INSERT INTO "LiteLLM_DailyUserSpend" (id, user_id, date, api_key, model, model_group, custom_llm_provider,
		  prompt_tokens, completion_tokens, spend, api_requests, successful_requests, failed_requests, updated_at)
		VALUES ('d1', 'u1', current_date, 'demo-hashed-token', 'gpt-4o', 'gpt-4o', 'openai', 12000, 3000, 12.5, 100, 98, 2, now())`)

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
