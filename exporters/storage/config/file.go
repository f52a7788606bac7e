package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"gopkg.in/yaml.v3"
)

// fileSettings are Settings as the file spells them; nil means "inherit".
type fileSettings struct {
	Interval      *time.Duration `yaml:"interval"`
	Budget        *time.Duration `yaml:"budget"`
	SubdirDepth   *int           `yaml:"subdir_depth"`
	TopSubdirs    *int           `yaml:"top_subdirs"`
	TopExtensions *int           `yaml:"top_extensions"`
}

type filePath struct {
	Name         string `yaml:"name"`
	Path         string `yaml:"path"`
	fileSettings `yaml:",inline"`
}

type fileConfig struct {
	Defaults fileSettings `yaml:"defaults"`
	Paths    []filePath   `yaml:"paths"`
}

func (f fileSettings) over(s Settings) Settings {
	if f.Interval != nil {
		s.Interval = *f.Interval
	}
	if f.Budget != nil {
		s.Budget = *f.Budget
	}
	if f.SubdirDepth != nil {
		s.SubdirDepth = *f.SubdirDepth
	}
	if f.TopSubdirs != nil {
		s.TopSubdirs = *f.TopSubdirs
	}
	if f.TopExtensions != nil {
		s.TopExtensions = *f.TopExtensions
	}
	return s
}

// Parse reads a configuration file: unknown fields are errors, and every
// error names its line. Settings a path leaves out come from the file's
// defaults, then from flags.
//
//	defaults:
//	  interval: 5m
//	paths:
//	  - name: screenshots
//	    path: /data/screenshots
//	    subdir_depth: 2
func Parse(data []byte, flags Settings) ([]Target, error) {
	var f fileConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, fmt.Errorf("parsing YAML: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("parsing YAML: line %d: only one YAML document is allowed", extra.Line)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parsing YAML: %w", err)
	}
	lines := lineFinder{&doc}

	var errs []error
	defaults := f.Defaults.over(flags)
	defaultsErr := defaults.check("")
	if defaultsErr != nil {
		errs = append(errs, fmt.Errorf("line %d: defaults: %w", lines.at("defaults"), defaultsErr))
	}
	var targets []Target
	for i, p := range f.Paths {
		line := lines.at("paths", i)
		where := fmt.Sprintf("line %d: paths[%d]", line, i)
		if err := checkName(p.Name); err != nil {
			errs = append(errs, fmt.Errorf("line %d: paths[%d]: %w", lines.at("paths", i, "name"), i, err))
		}
		switch {
		case p.Path == "":
			errs = append(errs, fmt.Errorf("%s: path is missing", where))
		case !filepath.IsAbs(p.Path):
			errs = append(errs, fmt.Errorf("line %d: paths[%d]: path %q: must be absolute", lines.at("paths", i, "path"), i, p.Path))
		}
		s := p.over(defaults)
		if err := s.check(""); err != nil && defaultsErr == nil {
			errs = append(errs, fmt.Errorf("%s (%s): %w", where, p.Name, err))
		}
		targets = append(targets, Target{Name: p.Name, Dir: filepath.Clean(p.Path), Settings: s})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return targets, nil
}

// lineFinder finds the line of a node in a parsed document by a path of
// mapping keys and sequence indexes.
type lineFinder struct{ doc *yaml.Node }

func (l lineFinder) at(path ...any) int {
	n := l.doc
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for _, p := range path {
		switch k := p.(type) {
		case string:
			next := (*yaml.Node)(nil)
			for i := 0; n.Kind == yaml.MappingNode && i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == k {
					next = n.Content[i+1]
				}
			}
			if next == nil {
				return n.Line
			}
			n = next
		case int:
			if n.Kind != yaml.SequenceNode || k >= len(n.Content) {
				return n.Line
			}
			n = n.Content[k]
		}
	}
	return n.Line
}
