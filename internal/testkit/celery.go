package testkit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// celeryPython is Debian's interpreter, the one python3-celery is installed
// for; a python3 earlier on PATH (pyenv) cannot import celery.
const celeryPython = "/usr/bin/python3"

// CeleryTasksModule is the module name of the tasks StartCeleryWorker and
// SendTasks use; task names are CeleryTasksModule + "." + function.
const CeleryTasksModule = "outrigger_tasks"

// Task names of the test tasks module.
const (
	TaskAdd    = CeleryTasksModule + ".add"    // add(x, y): succeeds with x+y
	TaskBoom   = CeleryTasksModule + ".boom"   // boom(): raises ValueError("kaboom")
	TaskFlaky  = CeleryTasksModule + ".flaky"  // flaky(failures=1): retries `failures` times (0.2 s apart), then succeeds
	TaskReject = CeleryTasksModule + ".reject" // reject(): acks_late, raises Reject(requeue=False)
	TaskSleep  = CeleryTasksModule + ".sleep"  // sleep(seconds): sleeps, returns seconds
)

const celeryTasksSource = `import json, os, time
from celery import Celery
from celery.exceptions import Reject

app = Celery("outrigger_tasks", broker=os.environ["CELERY_BROKER_URL"])
app.conf.update(
    task_send_sent_event=os.environ.get("OUTRIGGER_SENT_EVENTS", "1") == "1",
    broker_transport_options=json.loads(os.environ.get("OUTRIGGER_TRANSPORT_OPTIONS") or "{}"),
    task_create_missing_queues=True,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)

@app.task
def add(x, y):
    return x + y

@app.task
def boom():
    raise ValueError("kaboom")

@app.task(bind=True, max_retries=5)
def flaky(self, failures=1):
    if self.request.retries < failures:
        raise self.retry(exc=RuntimeError("try again"), countdown=0.2)
    return "ok after retry"

# Reject needs acks_late: only an unacknowledged message can be rejected
# (and only then does the worker send task-rejected).
@app.task(acks_late=True)
def reject():
    raise Reject("rejected by test", requeue=False)

@app.task
def sleep(seconds):
    time.sleep(seconds)
    return seconds
`

// The client reads one JSON operation a line on stdin and prints one JSON
// answer a line: {"op": "send", ...} -> {"id": ...}, {"op": "revoke", "id": ...}.
const celeryClientSource = `import json, sys
from outrigger_tasks import app

out = []
with app.connection_for_write() as conn:
    for line in sys.stdin:
        op = json.loads(line)
        if op["op"] == "send":
            opts = {k: op[k] for k in ("queue", "priority", "countdown", "eta", "expires") if op.get(k) is not None}
            r = app.send_task(op["task"], args=op.get("args") or [], kwargs=op.get("kwargs") or {},
                              connection=conn, **opts)
            out.append({"id": r.id})
        elif op["op"] == "revoke":
            app.control.revoke(op["id"], connection=conn, terminate=op.get("terminate", False))
            out.append({"id": op["id"]})
        else:
            raise SystemExit("unknown op %r" % op)
for o in out:
    print(json.dumps(o))
`

// CeleryOptions shape a Celery worker (or a client sending tasks).
type CeleryOptions struct {
	// BrokerURL, e.g. Redis.URL(0) or RabbitMQ.URL().
	BrokerURL string
	// Hostname is the worker's node name (-n), e.g. "w1@test"; default
	// "w<port-ish>@outrigger".
	Hostname string
	// Queues the worker consumes (-Q); default "celery".
	Queues []string
	// Concurrency of the prefork pool (-c); default 2.
	Concurrency int
	// NoEvents leaves out -E: the worker sends heartbeats but no task events.
	NoEvents bool
	// NoSentEvents turns task_send_sent_event off in clients (and in the
	// worker's own retries).
	NoSentEvents bool
	// TransportOptions become broker_transport_options (e.g.
	// {"global_keyprefix": "pfx:", "priority_steps": [0,1,...]}).
	TransportOptions map[string]any
	// Args are extra worker arguments.
	Args []string
}

// CeleryWorker is a running `python3 -m celery worker` owned by a test.
type CeleryWorker struct {
	Hostname string
	dir      string
	env      []string
	proc     *Process
}

// celeryDir writes the tasks and client modules into a temp dir.
func celeryDir(t TB, opts CeleryOptions) (string, []string) {
	t.Helper()
	if _, err := os.Stat(celeryPython); err != nil {
		t.Fatalf("%s is missing: apt-get install -y python3-celery python3-redis", celeryPython)
	}
	dir := TempDir(t, "celery")
	writeFile(t, filepath.Join(dir, CeleryTasksModule+".py"), celeryTasksSource)
	writeFile(t, filepath.Join(dir, "outrigger_client.py"), celeryClientSource)
	topts := "{}"
	if opts.TransportOptions != nil {
		b, err := json.Marshal(opts.TransportOptions)
		if err != nil {
			t.Fatal(err)
		}
		topts = string(b)
	}
	sent := "1"
	if opts.NoSentEvents {
		sent = "0"
	}
	env := []string{
		"CELERY_BROKER_URL=" + opts.BrokerURL,
		"OUTRIGGER_TRANSPORT_OPTIONS=" + topts,
		"OUTRIGGER_SENT_EVENTS=" + sent,
		"PYTHONPATH=" + dir,
		"PYTHONDONTWRITEBYTECODE=1",
		"PYTHONUNBUFFERED=1",
		"HOME=" + dir,
	}
	return dir, env
}

// StartCeleryWorker runs a real Celery worker (Debian's python3-celery) with
// the test tasks module, and waits until it is ready to consume. It is
// stopped at cleanup.
func StartCeleryWorker(t TB, opts CeleryOptions) *CeleryWorker {
	t.Helper()
	dir, env := celeryDir(t, opts)
	if opts.Hostname == "" {
		opts.Hostname = fmt.Sprintf("w%d@outrigger", time.Now().UnixNano()%100000)
	}
	if len(opts.Queues) == 0 {
		opts.Queues = []string{"celery"}
	}
	if opts.Concurrency == 0 {
		opts.Concurrency = 2
	}
	args := []string{"-m", "celery", "-A", CeleryTasksModule, "worker", "-n", opts.Hostname,
		"-Q", strings.Join(opts.Queues, ","), "-c", fmt.Sprint(opts.Concurrency), "-l", "INFO",
		"--without-mingle", "--without-gossip"}
	if !opts.NoEvents {
		args = append(args, "-E")
	}
	args = append(args, opts.Args...)
	w := &CeleryWorker{Hostname: opts.Hostname, dir: dir, env: env}
	w.proc = &Process{Name: "celery worker " + opts.Hostname, Path: celeryPython, Args: args, Env: env, Dir: dir,
		LogPath: filepath.Join(dir, "worker.log"), StopSignal: syscall.SIGTERM}
	t.Cleanup(func() {
		w.proc.dumpOnFailure(t)
		w.proc.Kill()
	})
	w.proc.Start(t)
	Eventually(t, 60*time.Second, "celery worker "+opts.Hostname+" ready", func() error {
		if !w.proc.Running() {
			t.Fatalf("celery worker exited:\n%s", w.proc.Log())
		}
		if !strings.Contains(w.proc.Log(), " ready.") {
			return fmt.Errorf("no 'ready.' in its log yet")
		}
		return nil
	})
	return w
}

// Stop shuts the worker down warmly (SIGTERM: it finishes running tasks and
// sends worker-offline).
func (w *CeleryWorker) Stop(t TB) {
	t.Helper()
	w.proc.Stop(t)
}

// Kill ends the worker and its pool processes with SIGKILL: no
// worker-offline event is sent.
func (w *CeleryWorker) Kill() { w.proc.Kill() }

// Log returns what the worker logged so far.
func (w *CeleryWorker) Log() string { return w.proc.Log() }

// CeleryTask is one task to send.
type CeleryTask struct {
	Name      string         `json:"task"`
	Args      []any          `json:"args,omitempty"`
	Kwargs    map[string]any `json:"kwargs,omitempty"`
	Queue     string         `json:"queue,omitempty"`
	Priority  *int           `json:"priority,omitempty"`
	Countdown float64        `json:"countdown,omitempty"`
}

// Priority is a helper for CeleryTask.Priority.
func Priority(p int) *int { return &p }

// SendTasks publishes tasks with Celery's own client (app.send_task) and
// returns their ids in order. With opts.NoSentEvents unset the client also
// sends task-sent events.
func SendTasks(t TB, opts CeleryOptions, tasks ...CeleryTask) []string {
	t.Helper()
	var in bytes.Buffer
	for _, task := range tasks {
		b, err := json.Marshal(struct {
			Op string `json:"op"`
			CeleryTask
		}{"send", task})
		if err != nil {
			t.Fatal(err)
		}
		in.Write(append(b, '\n'))
	}
	return celeryClient(t, opts, &in)
}

// RevokeTask revokes a task by id (a broadcast every worker acts on).
func RevokeTask(t TB, opts CeleryOptions, id string, terminate bool) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"op": "revoke", "id": id, "terminate": terminate})
	celeryClient(t, opts, bytes.NewReader(append(b, '\n')))
}

func celeryClient(t TB, opts CeleryOptions, in io.Reader) []string {
	t.Helper()
	dir, env := celeryDir(t, opts)
	cmd := exec.Command(celeryPython, filepath.Join(dir, "outrigger_client.py"))
	cmd.Dir, cmd.Env, cmd.Stdin = dir, append(os.Environ(), env...), in
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("celery client: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	var ids []string
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		if line == "" {
			continue
		}
		var o struct{ ID string }
		if err := json.Unmarshal([]byte(line), &o); err != nil {
			t.Fatalf("celery client printed %q: %v", line, err)
		}
		ids = append(ids, o.ID)
	}
	return ids
}
