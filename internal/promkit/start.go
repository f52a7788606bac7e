package promkit

import (
	"context"
	"fmt"
	"io"

	"github.com/alecthomas/kingpin/v2"
)

// Parse is the start every daemon's main shares: it parses args, validates
// the common flags and answers --web.healthcheck, before the daemon reads
// any configuration of its own. When done is true main exits with code at
// once (a usage error is 2, a failed probe 1, a passed one 0), having run
// nothing of the daemon; the error is already written to stderr.
func Parse(app *kingpin.Application, f *Flags, args []string, stderr io.Writer) (v ValidatedConfig, code int, done bool) {
	if _, err := app.Parse(args); err != nil {
		fmt.Fprintf(stderr, "%s: %v (see --help)\n", app.Name, err)
		return v, 2, true
	}
	v, err := f.Config().Validate()
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", app.Name, err)
		return v, 2, true
	}
	// The probe runs beside the daemon, with its environment and volumes,
	// and must touch nothing of it.
	if code, done := HealthCheck(context.Background(), v, stderr); done {
		return v, code, true
	}
	return v, 0, false
}
