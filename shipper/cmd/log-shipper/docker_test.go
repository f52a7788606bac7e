package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/testkit"
	"github.com/outrigger/outrigger/shipper/internal/dockertest"
	"github.com/outrigger/outrigger/shipper/internal/lokitest"
)

// TestDockerContainers follows a compose service's container through the
// fake engine: lines before the shipper starts, a container stop and
// restart, a SIGKILL of the shipper, a re-creation of the container while
// the shipper is down and another while it runs. Loki ends up with every
// line once, in order, in one stream per output stream named by compose
// project, service, container name and image (not by id); a container
// without the chosen label is not followed.
func TestDockerContainers(t *testing.T) {
	dir := testkit.TempDir(t, "shipper")
	engine, err := dockertest.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer engine.Close()
	loki := lokitest.Start(t, lokitest.Options{})
	labels := map[string]string{"com.docker.compose.project": "stack", "com.docker.compose.service": "api", "logs": "ship"}
	api := engine.Start(dockertest.Container{Name: "stack-api-1", Image: "api:1", Labels: labels})
	db := engine.Start(dockertest.Container{Name: "stack-db-1", Image: "postgres:15", Labels: map[string]string{"com.docker.compose.project": "stack", "com.docker.compose.service": "db"}})
	base := loki.Now().Add(-10 * time.Minute)
	out, errs := 0, 0
	logOut := func(id string, n int) {
		for range n {
			out++
			engine.Log(id, "stdout", lokitest.Line(out, base.Add(time.Duration(out)*time.Millisecond), 200))
		}
	}
	logErr := func(id string, n int) {
		for range n {
			errs++
			engine.Log(id, "stderr", fmt.Sprintf(`{"timestamp":"%s","level":"error","seq":%d}`, base.Add(time.Duration(errs)*time.Millisecond).UTC().Format(time.RFC3339Nano), errs))
		}
	}
	stream := func(s string) string {
		return `{compose_project="stack", compose_service="api", container="stack-api-1", image="api:1", stream="` + s + `"}`
	}
	want := func() map[string]int { return map[string]int{stream("stdout"): out, stream("stderr"): errs} }
	logOut(api, 100)
	logErr(api, 5)
	engine.Log(db, "stdout", "not followed")

	s := startShipper(t, dir, "--docker.host="+engine.Host, "--docker.label=logs=ship", "--loki.url="+loki.URL+"/loki/api/v1/push")
	loki.WaitExactlyOnce(t, 20*time.Second, want())

	// Restart: same id, same log file, the position is kept.
	engine.Stop(api)
	engine.Restart(api)
	logOut(api, 100)
	loki.WaitExactlyOnce(t, 20*time.Second, want())

	// The shipper dies mid-stream and comes back.
	logOut(api, 300)
	time.Sleep(50 * time.Millisecond)
	s.Kill()
	s.Start(t)
	s.waitUp(t)
	loki.WaitExactlyOnce(t, 20*time.Second, want())
	// It dies again; the container is re-created (a new id and log file)
	// while it is down. A removed container's unread lines are gone with
	// its log file, so the old one was read to its end first.
	s.Kill()
	engine.Remove(api)
	api = engine.Start(dockertest.Container{Name: "stack-api-1", Image: "api:1", Labels: labels})
	logOut(api, 100)
	logErr(api, 3)
	s.Start(t)
	s.waitUp(t)
	loki.WaitExactlyOnce(t, 20*time.Second, want())

	// Re-created while the shipper runs.
	logOut(api, 50)
	engine.Remove(api)
	api = engine.Start(dockertest.Container{Name: "stack-api-1", Image: "api:1", Labels: labels})
	logOut(api, 50)
	loki.WaitExactlyOnce(t, 30*time.Second, want())
	if engine.Requests("events") == 0 || engine.Requests("list") == 0 {
		t.Errorf("the engine's events and list endpoints were not used: %d, %d", engine.Requests("events"), engine.Requests("list"))
	}
	t.Logf("%d stdout and %d stderr lines; %+v", out, errs, loki.Stats())
}
