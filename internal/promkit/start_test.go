package promkit

import (
	"bytes"
	"strings"
	"testing"

	"github.com/alecthomas/kingpin/v2"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		code     int
		done     bool
		inStderr string
	}{
		{args: []string{"--web.listen-address=127.0.0.1:0"}, code: 0, done: false},
		{args: []string{"--no-such-flag"}, code: 2, done: true, inStderr: "x: unknown long flag '--no-such-flag' (see --help)"},
		{args: []string{"--log.level=loud"}, code: 2, done: true, inStderr: "x: "},
		// Nothing listens on port 1 of loopback: the probe fails, the daemon is not run.
		{args: []string{"--web.listen-address=127.0.0.1:1", "--web.healthcheck"}, code: 1, done: true, inStderr: "x: "},
	} {
		app := kingpin.New("x", "")
		app.Terminate(nil)
		f := AddFlags(app, Defaults{Service: "x", ListenAddress: ":1", EnvPrefix: "X_"})
		var stderr bytes.Buffer
		v, code, done := Parse(app, f, tc.args, &stderr)
		if code != tc.code || done != tc.done || !strings.Contains(stderr.String(), tc.inStderr) {
			t.Errorf("%v: code %d done %v stderr %q; want %d %v containing %q", tc.args, code, done, stderr.String(), tc.code, tc.done, tc.inStderr)
		}
		if !done && v.Config().Service != "x" {
			t.Errorf("%v: validated config %+v", tc.args, v.Config())
		}
		if tc.inStderr == "" && stderr.Len() > 0 {
			t.Errorf("%v: unexpected stderr %q", tc.args, stderr.String())
		}
	}
}
