package pipeline

import (
	"context"
	"sync"
)

// budget caps the bytes of events read and not yet acknowledged.
type budget struct {
	mu    sync.Mutex
	used  int64
	limit int64
	// waiting counts the goroutines waiting for room: a release wakes them
	// (closes wake) only when there are any.
	waiting int
	wake    chan struct{}
	onSet   func(int64)
}

func newBudget(limit int64, onSet func(int64)) *budget {
	return &budget{limit: limit, wake: make(chan struct{}), onSet: onSet}
}

// acquire waits until n bytes fit (a single oversized request is let
// through when nothing else is held, so a huge line cannot stall forever).
func (b *budget) acquire(ctx context.Context, n int64) error {
	waited := false
	for {
		b.mu.Lock()
		if waited {
			b.waiting--
		}
		if b.used+n <= b.limit || b.used == 0 {
			b.used += n
			used := b.used
			b.mu.Unlock()
			b.onSet(used)
			return nil
		}
		wake := b.wake
		b.waiting++
		waited = true
		b.mu.Unlock()
		select {
		case <-ctx.Done():
			b.mu.Lock()
			b.waiting--
			b.mu.Unlock()
			return ctx.Err()
		case <-wake:
		}
	}
}

func (b *budget) release(n int64) {
	b.mu.Lock()
	b.used -= n
	used := b.used
	if b.waiting > 0 {
		close(b.wake)
		b.wake = make(chan struct{})
	}
	b.mu.Unlock()
	b.onSet(used)
}
