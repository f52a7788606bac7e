package promkit

import (
	"runtime/debug"

	"github.com/prometheus/common/version"
)

// Version is the daemon's version: what `make build` stamped in, else the
// module version Go recorded, else "dev".
func Version() string {
	if version.Version != "" {
		return version.Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
