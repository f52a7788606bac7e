// Package backoff is the retry pacing every daemon shares (the shipper's
// outputs, celery-exporter's reconnects): an exponential backoff with jitter,
// from a minimum to a maximum step.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff paces the retries of one request. The zero value is not usable:
// make one with New for every request that may be retried.
type Backoff struct {
	min, step, max time.Duration
}

// New starts at min and doubles up to max.
func New(min, max time.Duration) Backoff {
	return Backoff{min: min, step: min, max: max}
}

// Reset starts again from the minimum, after a success.
func (b *Backoff) Reset() { b.step = b.min }

// Wait sleeps between half the current step and the whole of it ("equal
// jitter", so retries of many shippers spread out but never come back at
// once), then doubles the step up to the maximum. It returns false, at
// once, when ctx ends first.
func (b *Backoff) Wait(ctx context.Context) bool {
	wait := b.step/2 + rand.N(b.step/2+1)
	b.step = min(b.step*2, b.max)
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
