package backoff

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Each wait lies between half the step and the step; the step doubles up to
// the maximum and stays there.
func TestWaitsGrowWithJitterUpToTheMaximum(t *testing.T) {
	b := New(4*time.Millisecond, 20*time.Millisecond)
	for i, step := range []time.Duration{4, 8, 16, 20, 20} {
		step *= time.Millisecond
		start := time.Now()
		if !b.Wait(t.Context()) {
			t.Fatal("Wait returned false without a cancelled context")
		}
		if took := time.Since(start); took < step/2 || took > step+50*time.Millisecond {
			t.Errorf("wait %d took %s, want between %s and %s", i, took, step/2, step)
		}
	}
	if b.step != 20*time.Millisecond {
		t.Errorf("step %s after the maximum, want 20ms", b.step)
	}
}

// Reset brings the step back to the minimum.
func TestResetStartsAgainFromTheMinimum(t *testing.T) {
	b := New(time.Millisecond, 20*time.Millisecond)
	for range 3 {
		b.Wait(t.Context())
	}
	if b.step != 8*time.Millisecond {
		t.Fatalf("step %s after three waits, want 8ms", b.step)
	}
	b.Reset()
	if b.step != time.Millisecond {
		t.Errorf("step %s after Reset, want 1ms", b.step)
	}
}

// A cancelled context ends the wait at once.
func TestWaitEndsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	b := New(time.Hour, time.Hour)
	start := time.Now()
	if b.Wait(ctx) {
		t.Fatal("Wait returned true after the context ended")
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("a cancelled wait took %s", took)
	}
}
