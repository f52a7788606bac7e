package promkit

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// Signals returns a context cancelled on SIGTERM or SIGINT, and calls reload
// on every SIGHUP (a failed reload is logged; the daemon keeps its old config
// and keeps running). stop releases the signal handlers.
func Signals(parent context.Context, logger *slog.Logger, reload func() error) (ctx context.Context, stop func()) {
	ctx, cancel := signal.NotifyContext(parent, syscall.SIGTERM, os.Interrupt)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if reload == nil {
					logger.Info("SIGHUP received; this daemon has no config file to reload")
					continue
				}
				if err := reload(); err != nil {
					logger.Error("reloading configuration failed; keeping the previous one", "err", err)
					continue
				}
				logger.Info("configuration reloaded")
			}
		}
	}()
	return ctx, func() {
		signal.Stop(hup)
		cancel()
		<-done
	}
}
