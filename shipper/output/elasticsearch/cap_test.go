package elasticsearch

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/outrigger/outrigger/shipper/output"
)

// TestResponseSizeCap: an answer longer than its cap is an error, read no
// further than the cap (a server that streams 256 MiB does not fill memory).
func TestResponseSizeCap(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat(" ", 64<<10))
		for range 1 << 12 { // 256 MiB unless the client hangs up
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	o, err := New(Config{Hosts: []string{srv.URL}, Index: mustPattern(t, "app")}, 0, output.NewMetrics(nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path  string
		limit int64
	}{{"/", maxResponseBytes}, {"/_license", maxResponseBytes}, {"/_bulk?filter_path=errors", maxBulkResponseBytes}} {
		_, _, err := o.do(context.Background(), http.MethodGet, tt.path, nil, false)
		if !errors.Is(err, errResponseTooLarge) {
			t.Errorf("%s: %v, want a response-too-large error", tt.path, err)
		}
	}
}
