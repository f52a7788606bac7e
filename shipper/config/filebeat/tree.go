package filebeat

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// node is a configuration value with Filebeat's dotted keys expanded
// ("json.keys_under_root: true" is json: {keys_under_root: true}).
type node struct {
	line   int
	tag    string
	scalar *string
	keys   []string // mapping keys in file order
	m      map[string]*node
	list   []*node
	used   map[string]bool
	isMap  bool
	isList bool
}

func (n *node) str() (string, bool) {
	if n == nil || n.scalar == nil {
		return "", false
	}
	return *n.scalar, true
}

var envRe = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_.]*)(?::([^}]*))?\}`)

// expandEnv resolves ${VAR} and ${VAR:default} as Filebeat does.
func expandEnv(s string) (string, error) {
	var err error
	out := envRe.ReplaceAllStringFunc(s, func(m string) string {
		sub := envRe.FindStringSubmatch(m)
		if v, ok := os.LookupEnv(sub[1]); ok {
			return v
		}
		if strings.Contains(m, ":") {
			return sub[2]
		}
		err = fmt.Errorf("environment variable %s is not set", sub[1])
		return m
	})
	return out, err
}

// build converts a YAML node.
func build(y *yaml.Node) (*node, error) {
	switch y.Kind {
	case yaml.DocumentNode:
		if len(y.Content) == 0 {
			return &node{isMap: true, m: map[string]*node{}, used: map[string]bool{}}, nil
		}
		return build(y.Content[0])
	case yaml.AliasNode:
		return build(y.Alias)
	case yaml.ScalarNode:
		v, err := expandEnv(y.Value)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", y.Line, err)
		}
		if y.Tag == "!!null" {
			return &node{line: y.Line}, nil
		}
		return &node{line: y.Line, scalar: &v, tag: y.Tag}, nil
	case yaml.SequenceNode:
		n := &node{line: y.Line, isList: true}
		for _, c := range y.Content {
			cn, err := build(c)
			if err != nil {
				return nil, err
			}
			n.list = append(n.list, cn)
		}
		return n, nil
	case yaml.MappingNode:
		n := &node{line: y.Line, isMap: true, m: map[string]*node{}, used: map[string]bool{}}
		for i := 0; i+1 < len(y.Content); i += 2 {
			k, v := y.Content[i], y.Content[i+1]
			if k.Value == "<<" {
				return nil, fmt.Errorf("line %d: YAML merge keys are not supported", k.Line)
			}
			vn, err := build(v)
			if err != nil {
				return nil, err
			}
			if err := n.set(strings.Split(k.Value, "."), vn, k.Line); err != nil {
				return nil, err
			}
		}
		return n, nil
	}
	return nil, fmt.Errorf("line %d: unexpected YAML", y.Line)
}

// set puts v at a dotted path, merging mappings.
func (n *node) set(path []string, v *node, line int) error {
	k := path[0]
	if len(path) == 1 {
		if old, ok := n.m[k]; ok {
			if old.isMap && v.isMap {
				for _, kk := range v.keys {
					if err := old.set([]string{kk}, v.m[kk], line); err != nil {
						return err
					}
				}
				return nil
			}
			return fmt.Errorf("line %d: key %s is set twice", line, k)
		}
		n.keys = append(n.keys, k)
		n.m[k] = v
		return nil
	}
	child, ok := n.m[k]
	if !ok {
		child = &node{line: line, isMap: true, m: map[string]*node{}, used: map[string]bool{}}
		n.keys = append(n.keys, k)
		n.m[k] = child
	}
	if !child.isMap {
		return fmt.Errorf("line %d: key %s is both a value and a mapping", line, k)
	}
	return child.set(path[1:], v, line)
}

// get returns a child and marks it used.
func (n *node) get(key string) *node {
	if n == nil || !n.isMap {
		return nil
	}
	c, ok := n.m[key]
	if ok {
		n.used[key] = true
	}
	return c
}

// unused lists the key paths nobody read, down to their leaves.
func (n *node) unused(prefix string, out *[]string) {
	switch {
	case n.isMap:
		for _, k := range n.keys {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			c := n.m[k]
			if !n.used[k] {
				c.leaves(p, out)
				continue
			}
			c.unused(p, out)
		}
	case n.isList:
		for i, c := range n.list {
			c.unused(prefix+"["+strconv.Itoa(i)+"]", out)
		}
	}
}

func (n *node) leaves(prefix string, out *[]string) {
	if n.isMap && len(n.keys) > 0 {
		for _, k := range n.keys {
			n.m[k].leaves(prefix+"."+k, out)
		}
		return
	}
	*out = append(*out, prefix)
}

// markAll marks a subtree used (consumed whole, e.g. fields).
func (n *node) markAll() {
	if n == nil {
		return
	}
	for _, k := range n.keys {
		n.used[k] = true
		n.m[k].markAll()
	}
	for _, c := range n.list {
		c.markAll()
	}
}

// value converts a subtree to plain Go values (for fields); scalars keep
// YAML's types.
func (n *node) value() any {
	switch {
	case n.isMap:
		m := map[string]any{}
		for _, k := range n.keys {
			m[k] = n.m[k].value()
		}
		return m
	case n.isList:
		l := []any{}
		for _, c := range n.list {
			l = append(l, c.value())
		}
		return l
	case n.scalar == nil:
		return nil
	}
	s := *n.scalar
	switch n.tag {
	case "!!int":
		if v, err := strconv.ParseInt(s, 0, 64); err == nil {
			return v
		}
	case "!!float":
		if v, err := strconv.ParseFloat(s, 64); err == nil {
			return v
		}
	case "!!bool":
		if v, err := strconv.ParseBool(s); err == nil {
			return v
		}
	}
	return s
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
