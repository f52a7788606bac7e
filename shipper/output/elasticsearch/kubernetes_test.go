package elasticsearch

import (
	"encoding/json"
	"testing"

	"github.com/outrigger/outrigger/shipper/event"
	"github.com/outrigger/outrigger/shipper/process"
)

func TestKubernetesFields(t *testing.T) {
	b := NewDocBuilder(false, "container", "")
	b.Kubernetes = true
	ev := &event.Event{Line: []byte(`{"msg":"hi"}`), TimeNs: 1, Stream: process.NewStream([]event.Label{
		{Name: "namespace", Value: "shop"}, {Name: "pod", Value: "api-1"}, {Name: "container", Value: "app"},
		{Name: "node", Value: "n1"}, {Name: "stream", Value: "stderr"}, {Name: "app", Value: "api"}})}
	doc, _ := b.AppendLine(nil, ev, nil)
	var got map[string]any
	if err := json.Unmarshal(doc, &got); err != nil {
		t.Fatalf("%s: %v", doc, err)
	}
	want := `{"@timestamp":"1970-01-01T00:00:00.000Z","kubernetes":{"namespace":"shop","pod":{"name":"api-1"},"container":{"name":"app"},"node":{"name":"n1"},"labels":{"app":"api"}},"stream":"stderr","msg":"hi"}`
	if string(doc) != want {
		t.Errorf("got  %s\nwant %s", doc, want)
	}
	plain := &event.Event{Line: []byte("raw"), Stream: process.NewStream([]event.Label{{Name: "job", Value: "x"}})}
	if doc, _ := b.AppendLine(nil, plain, nil); string(doc) != `{"@timestamp":"1970-01-01T00:00:00.000Z","message":"raw"}` {
		t.Errorf("a file's labels became kubernetes fields: %s", doc)
	}
}
