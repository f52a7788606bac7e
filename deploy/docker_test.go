package deploy

import (
	"debug/elf"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every daemon has a Dockerfile that builds a static binary and runs it from
// an empty base as a non-root user, on the daemon's port.
func TestDockerfilesBuildStaticNonRootImages(t *testing.T) {
	for name, port := range ports {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("docker", name+".Dockerfile"))
			if err != nil {
				t.Fatal(err)
			}
			df := string(b)
			froms := regexp.MustCompile(`(?m)^FROM (\S+)`).FindAllStringSubmatch(df, -1)
			if len(froms) < 2 || froms[len(froms)-1][1] != "scratch" {
				t.Errorf("want a multi-stage build ending FROM scratch, have %v", froms)
			}
			for _, want := range []string{
				"CGO_ENABLED=0", "./cmd/" + name,
				"USER 65532:65532",
				"EXPOSE " + itoa(port),
				`ENTRYPOINT ["/` + name + `"]`,
				"ca-certificates.crt",
			} {
				if !strings.Contains(df, want) {
					t.Errorf("Dockerfile lacks %q", want)
				}
			}
			pkg := strings.TrimPrefix(daemonPackages[name], "../")
			if !strings.Contains(df, "cd "+strings.TrimSuffix(pkg, "/cmd/"+name)+" &&") {
				t.Errorf("Dockerfile does not build in the module of %s", pkg)
			}
		})
	}
}

// The binaries `make build` writes (as the images do) are static: an empty
// base image has no dynamic loader.
func TestBinariesAreStatic(t *testing.T) {
	for name := range ports {
		f, err := elf.Open(daemonBinary(t, name))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("%s needs a dynamic loader: build it with CGO_ENABLED=0", name)
			}
		}
		f.Close()
	}
}
