package testkit

import (
	"fmt"
	"os"
	"time"
)

// ClockShiftEnv names the environment variable that moves every test clock
// ahead (a Go duration, e.g. "8760h" for a year). `make test` runs the
// date-sensitive packages a second time with it set, so a test that pairs a
// fixed date with a clock fails today instead of on the day the date ages out
// of a window. Only tests and the fakes read it; no daemon does.
const ClockShiftEnv = "OUTRIGGER_TEST_CLOCK_SHIFT"

var clockShift = func() time.Duration {
	v := os.Getenv(ClockShiftEnv)
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		panic(fmt.Sprintf("%s=%q: not a Go duration (e.g. 8760h): %v", ClockShiftEnv, v, err))
	}
	return d
}()

// ClockShift is how far the test clocks run ahead of the real one.
func ClockShift() time.Duration { return clockShift }

// Now is the clock tests and fakes share: the real time moved ahead by
// ClockShift. Inject it (or a fixed time taken from it) into the code under
// test whenever test data meets a clock: a receiver's age window, "today",
// a budget reset, a TTL. A service that keeps its own real clock (PostgreSQL's
// now(), a real Loki) is met with times from time.Now instead.
func Now() time.Time { return time.Now().Add(clockShift) }
