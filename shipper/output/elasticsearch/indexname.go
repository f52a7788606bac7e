package elasticsearch

import (
	"fmt"
	"strings"
)

// ValidIndexName checks an index (or data stream) name as Elasticsearch
// does on create: lower case; none of \ / * ? " < > | , # : or a space; not
// starting with _ - +; not . or ..; at most 255 bytes. A name built from a
// document field that fails would make the whole document fail in the bulk
// answer (or create an index nobody meant), so it is refused before.
func ValidIndexName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("index name is empty")
	case name == "." || name == "..":
		return fmt.Errorf("index name %q is not allowed", name)
	case len(name) > 255:
		return fmt.Errorf("index name is %d bytes long, at most 255 are allowed", len(name))
	case strings.ContainsAny(name[:1], "_-+"):
		return fmt.Errorf("index name %q must not start with '_', '-' or '+'", name)
	case strings.ToLower(name) != name:
		return fmt.Errorf("index name %q must be lower case", name)
	}
	if i := strings.IndexAny(name, "\\/*?\"<>|,#: \t\r\n"); i >= 0 {
		return fmt.Errorf("index name %q must not contain %q", name, name[i])
	}
	return nil
}
