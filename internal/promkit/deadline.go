package promkit

import (
	"context"
	"net/http"
	"strconv"
	"time"
)

// TimeoutHeader is the header in which Prometheus sends its scrape timeout.
const TimeoutHeader = "X-Prometheus-Scrape-Timeout-Seconds"

// Deadline turns a scrape request into a context that ends in time for the
// answer to reach Prometheus before it gives up.
type Deadline struct {
	// Offset is taken off Prometheus's timeout to leave time for the answer.
	Offset time.Duration
	// Max bounds every scrape, and is the whole budget of a scrape that sent
	// no timeout header (curl, a browser, an old Prometheus).
	Max time.Duration
}

// Timeout returns the budget for a request.
func (d Deadline) Timeout(r *http.Request) time.Duration {
	budget := d.Max
	if v := r.Header.Get(TimeoutHeader); v != "" {
		if secs, err := strconv.ParseFloat(v, 64); err == nil && secs > 0 {
			t := time.Duration(secs * float64(time.Second))
			if t-d.Offset > 0 {
				t -= d.Offset
			} else {
				t /= 2
			}
			if budget <= 0 || t < budget {
				budget = t
			}
		}
	}
	if budget <= 0 {
		budget = 10 * time.Second
	}
	return budget
}

// Context returns the request's context cut to the scrape budget.
func (d Deadline) Context(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), d.Timeout(r))
}
