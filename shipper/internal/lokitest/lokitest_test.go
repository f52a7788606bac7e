package lokitest

import (
	"testing"

	"go.uber.org/goleak"
	"google.golang.org/protobuf/encoding/protowire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func appendMsg(b []byte, num protowire.Number, msg []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, msg)
}

func samplePush() []byte {
	var ts []byte
	ts = protowire.AppendTag(ts, 1, protowire.VarintType)
	ts = protowire.AppendVarint(ts, 1795309323)
	ts = protowire.AppendTag(ts, 2, protowire.VarintType)
	ts = protowire.AppendVarint(ts, 456)
	var md []byte
	md = appendMsg(md, 1, []byte("trace_id"))
	md = appendMsg(md, 2, []byte("abc"))
	var entry []byte
	entry = appendMsg(entry, 1, ts)
	entry = appendMsg(entry, 2, []byte(`{"msg":"hi"}`))
	entry = appendMsg(entry, 3, md)
	var stream []byte
	stream = appendMsg(stream, 1, []byte(`{job="app"}`))
	stream = appendMsg(stream, 2, entry)
	stream = protowire.AppendTag(stream, 3, protowire.VarintType) // the hash field Loki ignores
	stream = protowire.AppendVarint(stream, 99)
	return appendMsg(nil, 1, stream)
}

func TestDecodePushRequest(t *testing.T) {
	streams, err := DecodePushRequest(samplePush())
	if err != nil {
		t.Fatal(err)
	}
	if len(streams) != 1 || streams[0].Labels != `{job="app"}` || len(streams[0].Entries) != 1 {
		t.Fatalf("%+v", streams)
	}
	e := streams[0].Entries[0]
	if e.TimeNs != 1795309323000000456 || e.Line != `{"msg":"hi"}` || len(e.Metadata) != 1 || e.Metadata[0] != (Label{"trace_id", "abc"}) {
		t.Fatalf("%+v", e)
	}
	if _, err := DecodePushRequest(samplePush()[:10]); err == nil {
		t.Error("truncated request decoded")
	}
}

func TestParseLabels(t *testing.T) {
	ls, err := ParseLabels(`{app="api", env="a \"q\" b"}`)
	if err != nil || len(ls) != 2 || ls[1].Value != `a "q" b` {
		t.Fatalf("%v %v", ls, err)
	}
	for _, bad := range []string{`{}`, `app="x"`, `{1a="x"}`, `{a=x}`, `{a="x" b="y"}`} {
		if err := validLabels(bad, 15); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// FuzzDecodePushRequest: the fake's decoder never panics on any body.
func FuzzDecodePushRequest(f *testing.F) {
	f.Add(samplePush())
	f.Add([]byte{0x0a, 0x05, 0x0a, 0x03, 'a', 'b'})
	f.Fuzz(func(_ *testing.T, b []byte) {
		streams, err := DecodePushRequest(b)
		if err == nil {
			for _, s := range streams {
				_, _ = ParseLabels(s.Labels)
			}
		}
	})
}
