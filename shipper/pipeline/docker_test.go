package pipeline_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/testkit"
	"github.com/outrigger/outrigger/shipper/config"
	"github.com/outrigger/outrigger/shipper/internal/lokitest"
)

// TestContainerRecordsJoined reads a json-file log written the way the
// engine splits long lines (16 KiB parts without a newline, the last with
// one): each line arrives whole, once, in its stream (stdout or stderr),
// also when the last part is written after a pause.
func TestContainerRecordsJoined(t *testing.T) {
	h := newHarness(t, lokitest.Options{})
	h.mutate = func(f *config.File) {
		f.Inputs[0].DockerJSON = true
		f.Inputs[0].Labels = map[string]string{"job": "c"}
		f.Inputs[0].FilenameLabel = new(string)
	}
	path := h.path("c-json.log")
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	rec := func(text, stream string) {
		b, _ := json.Marshal(map[string]string{"log": text, "stream": stream, "time": h.loki.Now().UTC().Format(time.RFC3339Nano)})
		fh.Write(append(b, '\n'))
	}
	long := lokitest.Line(2, h.loki.Now(), 40<<10)
	rec(lokitest.Line(1, h.loki.Now(), 200)+"\n", "stdout")
	rec(long[:16<<10], "stdout")
	rec(long[16<<10:32<<10], "stdout")
	h.start()
	// Everything written so far is read and the first line shipped: the long
	// line's two parts are held, not shipped in part.
	fi, err := fh.Stat()
	if err != nil {
		t.Fatal(err)
	}
	h.waitCounter(float64(fi.Size()), "the partial records read", "log_shipper_read_bytes_total")
	testkit.Eventually(t, 10*time.Second, "the first line shipped", func() error {
		if n := h.loki.Count(); n != 1 {
			return fmt.Errorf("%d entries", n)
		}
		return nil
	})
	rec(long[32<<10:]+"\n", "stdout")
	rec(`{"level":"error","seq":1}`+"\n", "stderr")
	rec(lokitest.Line(3, h.loki.Now(), 200)+"\n", "stdout")
	want := map[string]int{`{job="c", stream="stdout"}`: 3, `{job="c", stream="stderr"}`: 1}
	h.loki.WaitExactlyOnce(t, 10*time.Second, want)
	got := h.loki.Streams()[`{job="c", stream="stdout"}`]
	if got[1].Line != long || !strings.Contains(filepath.Base(path), "json") {
		t.Errorf("joined line of %d bytes, want %d", len(got[1].Line), len(long))
	}
}
