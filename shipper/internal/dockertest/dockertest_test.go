package dockertest

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

func client(s *Server) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", s.Socket)
	}}}
}

func TestEngineAPIAndJSONFileLogs(t *testing.T) {
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := client(s)
	api := s.Start(Container{Name: "stack-api-1", Image: "api:1", Labels: map[string]string{"com.docker.compose.project": "stack", "com.docker.compose.service": "api", "logs": "ship"}})
	s.Start(Container{Name: "stack-db-1", Image: "postgres:15", Labels: map[string]string{"com.docker.compose.project": "stack"}})

	resp, err := c.Get("http://docker/v1.47/containers/json?filters=" + url.QueryEscape(`{"label":["logs=ship"]}`))
	if err != nil {
		t.Fatal(err)
	}
	var list []struct {
		Id    string
		Names []string
	}
	json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	if len(list) != 1 || list[0].Id != api || list[0].Names[0] != "/stack-api-1" {
		t.Fatalf("label filter listed %+v", list)
	}

	// Follow the logs, then write two lines.
	req, _ := http.NewRequest("GET", "http://docker/containers/"+api+"/logs?stdout=1&stderr=1&follow=1&timestamps=1", nil)
	lresp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer lresp.Body.Close()
	events, err := c.Get("http://docker/events?filters=" + url.QueryEscape(`{"type":["container"]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer events.Body.Close()
	s.Log(api, "stdout", `{"level":"INFO","message":"hello"}`)
	s.Log(api, "stderr", "boom")
	for i, want := range []struct {
		stream byte
		text   string
	}{{1, `{"level":"INFO","message":"hello"}`}, {2, "boom"}} {
		var hdr [8]byte
		if _, err := io.ReadFull(lresp.Body, hdr[:]); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		payload := make([]byte, binary.BigEndian.Uint32(hdr[4:]))
		io.ReadFull(lresp.Body, payload)
		ts, text, _ := strings.Cut(strings.TrimSuffix(string(payload), "\n"), " ")
		if hdr[0] != want.stream || text != want.text {
			t.Fatalf("frame %d = stream %d %q", i, hdr[0], payload)
		}
		if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
			t.Fatalf("frame %d timestamp %q: %v", i, ts, err)
		}
	}

	var inspect struct {
		LogPath string
		Config  struct{ Labels map[string]string }
	}
	resp, _ = c.Get("http://docker/containers/" + api + "/json")
	json.NewDecoder(resp.Body).Decode(&inspect)
	resp.Body.Close()
	b, err := os.ReadFile(inspect.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var rec struct{ Log, Stream, Time string }
	json.Unmarshal([]byte(lines[1]), &rec)
	if len(lines) != 2 || rec.Log != "boom\n" || rec.Stream != "stderr" || inspect.Config.Labels["com.docker.compose.service"] != "api" {
		t.Fatalf("json-file log %q, inspect %+v", b, inspect)
	}

	s.Remove(api)
	if _, err := os.Stat(inspect.LogPath); !os.IsNotExist(err) {
		t.Fatal("docker rm left the log file")
	}
	br := bufio.NewReader(events.Body)
	var actions []string
	for len(actions) < 2 {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		var e event
		json.Unmarshal([]byte(line), &e)
		actions = append(actions, e.Action)
	}
	if actions[0] != "die" || actions[1] != "destroy" {
		t.Fatalf("events after rm = %v", actions)
	}
}

// TestLongLinesAreSplitAsTheEngineDoes: a line over 16 KiB becomes 16 KiB
// json-file records and stream frames, the newline only in the last.
func TestLongLinesAreSplitAsTheEngineDoes(t *testing.T) {
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	id := s.Start(Container{Name: "c"})
	long := strings.Repeat("0123456789abcdef", 2600) // 41,600 bytes: three pieces
	s.Log(id, "stdout", long)
	b, err := os.ReadFile(s.byID[id].logPath)
	if err != nil {
		t.Fatal(err)
	}
	var joined strings.Builder
	recs := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	for i, line := range recs {
		var r struct{ Log string }
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		last := i == len(recs)-1
		if len(r.Log) > MaxRecordBytes || strings.HasSuffix(r.Log, "\n") != last || (!last && len(r.Log) != MaxRecordBytes) {
			t.Errorf("record %d of %d: %d bytes, newline %v", i, len(recs), len(r.Log), strings.HasSuffix(r.Log, "\n"))
		}
		joined.WriteString(r.Log)
	}
	if len(recs) != 3 || joined.String() != long+"\n" {
		t.Fatalf("%d records joining to %d bytes, want 3 joining to the line", len(recs), joined.Len())
	}
	resp, err := client(s).Get("http://docker/containers/" + id + "/logs?stdout=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	frames := 0
	joined.Reset()
	for {
		var hdr [8]byte
		if _, err := io.ReadFull(resp.Body, hdr[:]); err != nil {
			break
		}
		payload := make([]byte, binary.BigEndian.Uint32(hdr[4:]))
		io.ReadFull(resp.Body, payload)
		frames++
		joined.Write(payload)
	}
	if frames != 3 || joined.String() != long+"\n" {
		t.Fatalf("%d frames joining to %d bytes, want 3 joining to the line", frames, joined.Len())
	}
}
