// Command promkit is the toolkit floor as Outrigger's daemons build it:
// promkit's flags and server, a runner with no collectors, and promkit's own
// Go and process metrics. The difference to the exporters is their own work.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"github.com/alecthomas/kingpin/v2"
	"github.com/outrigger/outrigger/internal/promkit"
)

func main() {
	app := kingpin.New("promkit", "Serves its own metrics and nothing else.")
	common := promkit.AddFlags(app, promkit.Defaults{Service: "promkit-floor", ListenAddress: ":9999", EnvPrefix: "FLOOR_"})
	kingpin.MustParse(app.Parse(os.Args[1:]))
	vc, err := common.Config().Validate()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	runner := &promkit.Runner{Namespace: "floor"}
	srv, err := promkit.NewServer(vc, promkit.Options{Namespace: "floor",
		Target: func(*http.Request) (string, promkit.StartFunc, error) { return "", runner.Start, nil }})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := srv.Run(context.Background(), nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
