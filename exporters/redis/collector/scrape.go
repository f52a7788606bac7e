package collector

import (
	"context"
	"errors"
	"time"

	"github.com/outrigger/outrigger/exporters/redis/info"
	"github.com/outrigger/outrigger/internal/promkit"
	"github.com/redis/go-redis/v9"
)

// errDown is what collectors after a failed INFO return without sending
// anything: the target did not answer, there is no point asking again.
var errDown = errors.New("skipped: redis did not answer INFO")

// scrape is the state of one collection of one target.
type scrape struct {
	t           *Target
	started     time.Time
	cmdDeadline time.Time

	// Set by collectInfo, read by the collectors after it (the runner runs
	// them in order, one at a time).
	in     *info.Info
	up     bool
	failed bool
}

// cmdCtx bounds Redis commands to the scrape's command deadline.
func (s *scrape) cmdCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.cmdDeadline.IsZero() {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, s.cmdDeadline)
}

// do runs fn on the connection under the command deadline.
func (s *scrape) do(ctx context.Context, fn func(ctx context.Context, cl *redis.Client) error) error {
	if !s.up {
		return errDown
	}
	ctx, cancel := s.cmdCtx(ctx)
	defer cancel()
	err := s.t.conn.With(ctx, fn)
	if err != nil && !errors.Is(err, promkit.ErrSkipped) {
		s.failed = true
	}
	return err
}
