package kubernetes

import (
	"path/filepath"
	"strings"
)

// PathInfo is what a container log's path says.
type PathInfo struct {
	Namespace, Pod, UID, Container string
}

// ParsePath reads either form of a container log's path:
// .../pods/<namespace>_<pod>_<uid>/<container>/<n>.log (also rotated,
// <n>.log.<time>) or .../containers/<pod>_<namespace>_<container>-<id>.log.
// Names in Kubernetes never hold "_", so the fields split cleanly.
func ParsePath(path string) (PathInfo, bool) {
	dir, base := filepath.Split(path)
	dir = filepath.Clean(dir)
	if filepath.Base(dir) == "containers" {
		name, ok := strings.CutSuffix(base, ".log")
		if !ok {
			return PathInfo{}, false
		}
		f := strings.Split(name, "_")
		if len(f) != 3 {
			return PathInfo{}, false
		}
		i := strings.LastIndexByte(f[2], '-')
		if i <= 0 || f[0] == "" || f[1] == "" {
			return PathInfo{}, false
		}
		return PathInfo{Namespace: f[1], Pod: f[0], Container: f[2][:i]}, true
	}
	podDir := filepath.Dir(dir)
	if filepath.Base(filepath.Dir(podDir)) != "pods" || !strings.Contains(base, ".log") {
		return PathInfo{}, false
	}
	f := strings.Split(filepath.Base(podDir), "_")
	c := filepath.Base(dir)
	if len(f) != 3 || f[0] == "" || f[1] == "" || c == "" || c == "." {
		return PathInfo{}, false
	}
	return PathInfo{Namespace: f[0], Pod: f[1], UID: f[2], Container: c}, true
}
