package testkit

import (
	"strings"
	"testing"
	"time"
)

func TestRabbitMQAndCeleryWorker(t *testing.T) {
	rmq := StartRabbitMQ(t, RabbitMQOptions{Management: true})
	opts := CeleryOptions{BrokerURL: rmq.URL()}
	ids := SendTasks(t, opts,
		CeleryTask{Name: TaskAdd, Args: []any{1, 2}, Queue: "backlog", Priority: Priority(7)},
		CeleryTask{Name: TaskAdd, Args: []any{1, 2}, Queue: "backlog", Countdown: 60},
		CeleryTask{Name: TaskAdd, Args: []any{1, 2}, Queue: "backlog"})
	if len(ids) != 3 {
		t.Fatalf("SendTasks returned %d ids, want 3", len(ids))
	}
	if q := rmq.Queues(t)["backlog"]; q.Ready != 3 || q.Consumers != 0 {
		t.Fatalf("queue backlog = %+v, want 3 ready and no consumer", q)
	}
	if got := rmq.ManagementQueue(t, "backlog")["name"]; got != "backlog" {
		t.Fatalf("management API answered name %v", got)
	}

	w := StartCeleryWorker(t, CeleryOptions{BrokerURL: rmq.URL(), Hostname: "tk1@test"})
	id := SendTasks(t, opts, CeleryTask{Name: TaskAdd, Args: []any{2, 3}})[0]
	Eventually(t, 30*time.Second, "worker ran the task", func() error {
		if !strings.Contains(w.Log(), id+"] succeeded") {
			return errString("task " + id + " not succeeded yet")
		}
		return nil
	})
	if q := rmq.Queues(t)["celery"]; q.Consumers != 1 {
		t.Fatalf("queue celery = %+v, want one consumer", q)
	}
	w.Kill()
	if w.proc.Running() {
		t.Fatal("worker still running after Kill")
	}
}

func TestCeleryWorkerOnRedisWithPriorities(t *testing.T) {
	r := StartRedis(t, RedisOptions{})
	opts := CeleryOptions{BrokerURL: r.URL(0)}
	var tasks []CeleryTask
	for p := 0; p <= 9; p++ {
		tasks = append(tasks, CeleryTask{Name: TaskAdd, Args: []any{p, p}, Queue: "backlog", Priority: Priority(p)})
	}
	SendTasks(t, opts, tasks...)
	// kombu's default priority steps [0, 3, 6, 9]: 0 -> "backlog", 1-3 -> step 3, ...
	total := 0
	for _, key := range []string{"backlog", "backlog\x06\x163", "backlog\x06\x166", "backlog\x06\x169"} {
		n := r.MustDo(t, "LLEN", key)
		if n == "0" {
			t.Errorf("LLEN %q = 0: the priority list is unused", key)
		}
		var v int
		for _, c := range n {
			v = v*10 + int(c-'0')
		}
		total += v
	}
	if total != 10 {
		t.Fatalf("priority lists hold %d messages, want 10", total)
	}
	w := StartCeleryWorker(t, CeleryOptions{BrokerURL: r.URL(0), Hostname: "tk2@test", Queues: []string{"backlog"}})
	Eventually(t, 30*time.Second, "worker drained the queue", func() error {
		if n := strings.Count(w.Log(), "] succeeded"); n != 10 {
			return errString("succeeded " + string(rune('0'+n)))
		}
		return nil
	})
	w.Stop(t)
}

type errString string

func (e errString) Error() string { return string(e) }
