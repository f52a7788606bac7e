package process

import (
	"encoding/json"
	"testing"

	"github.com/outrigger/outrigger/shipper/event"
)

// TestRenameOntoExistingKey: the renamed value wins and the key it lands on
// is dropped, wherever it stood; no key is emitted twice.
func TestRenameOntoExistingKey(t *testing.T) {
	p := New(Config{JSON: true, Renames: []Rename{{From: "msg", To: "message"}, {From: "lvl", To: "level"}}})
	st := p.NewState("/x.log")
	for _, tt := range []struct{ in, want string }{
		{`{"message":"old","msg":"new"}`, `{"message":"new"}`},
		{`{"msg":"new","message":"old","n":1}`, `{"message":"new","n":1}`},
		{`{"lvl":"info","level":"x","msg":"m","message":"o"}`, `{"level":"info","message":"m"}`},
		{`{"msg":"m"}`, `{"message":"m"}`},
		{`{"message":"kept"}`, `{"message":"kept"}`},
	} {
		var ev event.Event
		p.Process(st, []byte(tt.in), &ev)
		if string(ev.Line) != tt.want {
			t.Errorf("%s\n got %s\nwant %s", tt.in, ev.Line, tt.want)
		}
		var m map[string]any
		if err := json.Unmarshal(ev.Line, &m); err != nil {
			t.Error(err)
		}
	}
}
