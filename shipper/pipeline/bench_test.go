package pipeline_test

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/testkit"
	"github.com/outrigger/outrigger/shipper/config"
	"github.com/outrigger/outrigger/shipper/internal/estest"
	"github.com/outrigger/outrigger/shipper/internal/lokitest"
	"github.com/outrigger/outrigger/shipper/pipeline"
)

// BenchmarkPipeline ships b.N lines of 256 bytes from one file to a
// counting receiver (for profiling; bench/shipper measures the binary).
func BenchmarkPipeline(b *testing.B) {
	srv := lokitest.Start(b, lokitest.Options{CountOnly: true})
	benchPipeline(b, config.Outputs{Loki: &config.Loki{URL: srv.URL + "/loki/api/v1/push"}}, srv.Count)
}

// BenchmarkPipelineElasticsearch is BenchmarkPipeline into the count-only
// Elasticsearch bulk receiver.
func BenchmarkPipelineElasticsearch(b *testing.B) {
	srv := estest.New(estest.ES8)
	srv.CountOnly = true
	defer srv.Close()
	benchPipeline(b, config.Outputs{Elasticsearch: &config.Elasticsearch{Hosts: []string{srv.URL}, Index: "app-%{+yyyy.MM.dd}"}}, srv.Count)
}

// benchLineSize is the line size of the pipeline benchmarks (BENCH_LINE_SIZE).
var benchLineSize = func() int {
	if n, err := strconv.Atoi(os.Getenv("BENCH_LINE_SIZE")); err == nil {
		return n
	}
	return 256
}()

// benchPipeline writes b.N lines to one file and times the pipeline until
// the receiver counted them all.
func benchPipeline(b *testing.B, outputs config.Outputs, received func() int) {
	dir := b.TempDir()
	f, _ := os.Create(filepath.Join(dir, "app.log"))
	w := bufio.NewWriterSize(f, 1<<20)
	base := testkit.Now().Add(-30 * time.Minute)
	for i := range b.N {
		w.WriteString(lokitest.Line(i+1, base.Add(time.Duration(i)*time.Microsecond), benchLineSize) + "\n")
	}
	w.Flush()
	f.Close()
	cf := &config.File{Registry: config.Registry{Path: filepath.Join(dir, "reg.json")},
		Inputs: []config.Input{{Paths: []string{filepath.Join(dir, "*.log")}}}, Outputs: outputs}
	v, err := cf.Validate()
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := v.Build(nil, slogDiscard())
	if err != nil {
		b.Fatal(err)
	}
	p, err := pipeline.New(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	for received() < b.N {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	cancel()
	<-done
}
