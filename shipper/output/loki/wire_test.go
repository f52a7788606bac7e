package loki

import (
	"bytes"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/grafana/loki/pkg/push"
	"github.com/klauspost/compress/s2"

	"github.com/outrigger/outrigger/shipper/event"
)

// TestEncoderMatchesLokisTypes decodes the encoder's bytes with Loki's own
// generated types (the ones its distributor uses), compares every field, and
// requires the very bytes Loki's marshaller writes for the same request; the
// snappy block the output sends decodes with the snappy Loki uses.
func TestEncoderMatchesLokisTypes(t *testing.T) {
	a := &event.Stream{Labels: `{filename="/app/logs/api.log", job="api"}`}
	b := &event.Stream{Labels: `{job="worker", level="error"}`}
	at := func(s string) int64 {
		ts, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return ts.UnixNano()
	}
	streams := []*streamBatch{
		{stream: a, entries: []*event.Event{
			{TimeNs: at("2026-03-10T12:00:00.123456789Z"), Line: []byte(`{"level":"info","msg":"GET /api/items 200"}`),
				Metadata: []event.Label{{Name: "request_id", Value: "req-1"}, {Name: "trace_id", Value: "4bf92f3577b34da6"}}},
			{TimeNs: at("2026-03-10T12:00:01Z"), Line: []byte("ünïcödé \u2603 and a tab\t")},
			{TimeNs: 0, Line: nil}, // the epoch and an empty line
		}},
		{stream: b, entries: []*event.Event{
			{TimeNs: at("1969-12-31T23:59:59.5Z"), Line: []byte("before the epoch"), Metadata: []event.Label{{Name: "k", Value: ""}}},
		}},
	}
	var enc encoder
	raw := enc.appendPushRequest(nil, streams)

	var got push.PushRequest
	if err := got.Unmarshal(raw); err != nil {
		t.Fatalf("Loki's PushRequest does not decode our bytes: %v", err)
	}
	want := push.PushRequest{}
	for _, s := range streams {
		ps := push.Stream{Labels: s.stream.Labels}
		for _, e := range s.entries {
			pe := push.Entry{Timestamp: time.Unix(0, e.TimeNs).UTC(), Line: string(e.Line)}
			for _, m := range e.Metadata {
				pe.StructuredMetadata = append(pe.StructuredMetadata, push.LabelAdapter{Name: m.Name, Value: m.Value})
			}
			ps.Entries = append(ps.Entries, pe)
		}
		want.Streams = append(want.Streams, ps)
	}
	if len(got.Streams) != len(want.Streams) {
		t.Fatalf("%d streams decoded, want %d", len(got.Streams), len(want.Streams))
	}
	for i, ws := range want.Streams {
		gs := got.Streams[i]
		if gs.Labels != ws.Labels || len(gs.Entries) != len(ws.Entries) {
			t.Fatalf("stream %d: %q with %d entries, want %q with %d", i, gs.Labels, len(gs.Entries), ws.Labels, len(ws.Entries))
		}
		for j, we := range ws.Entries {
			ge := gs.Entries[j]
			if !ge.Timestamp.Equal(we.Timestamp) || ge.Line != we.Line || len(ge.StructuredMetadata) != len(we.StructuredMetadata) {
				t.Errorf("stream %d entry %d: %v %q %v, want %v %q %v", i, j, ge.Timestamp, ge.Line, ge.StructuredMetadata, we.Timestamp, we.Line, we.StructuredMetadata)
				continue
			}
			for k, wm := range we.StructuredMetadata {
				if ge.StructuredMetadata[k] != wm {
					t.Errorf("stream %d entry %d metadata %d: %v, want %v", i, j, k, ge.StructuredMetadata[k], wm)
				}
			}
		}
	}
	golden, err := want.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw, golden) {
		t.Errorf("our bytes differ from Loki's marshalling of the same request:\n ours %x\nLoki's %x", raw, golden)
	}

	// The body on the wire: a snappy block, as Loki's snappy reads it.
	body := s2.EncodeSnappy(nil, raw)
	dec, err := snappy.Decode(nil, body)
	if err != nil || !bytes.Equal(dec, raw) {
		t.Fatalf("Loki's snappy does not read our block: %v", err)
	}
}
