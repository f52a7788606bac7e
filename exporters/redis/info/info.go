package info

import (
	"strconv"
	"strings"
)

// Field is one "key:value" line of INFO, with the section it came from.
type Field struct {
	Section string // lower-case section name, e.g. "memory"
	Key     string
	Value   string
}

// Info is a parsed INFO reply: every field in the order the server sent it.
type Info struct {
	Fields []Field
	index  map[string]int
}

// Parse reads the text of an INFO reply. It never fails: lines it does not
// understand (no colon, empty key) are skipped, so a newer server with new
// fields or an odd proxy cannot break a scrape.
func Parse(text string) *Info {
	in := &Info{index: map[string]int{}}
	section := ""
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" {
			continue
		}
		if name, ok := strings.CutPrefix(line, "# "); ok {
			section = strings.ToLower(strings.TrimSpace(name))
			continue
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok || key == "" {
			continue
		}
		if _, dup := in.index[key]; !dup {
			in.index[key] = len(in.Fields)
		}
		in.Fields = append(in.Fields, Field{Section: section, Key: key, Value: value})
	}
	return in
}

// Get returns the value of key and whether INFO had it.
func (in *Info) Get(key string) (string, bool) {
	i, ok := in.index[key]
	if !ok {
		return "", false
	}
	return in.Fields[i].Value, true
}

// Float returns key as a number; see ParseNumber.
func (in *Info) Float(key string) (float64, bool) {
	v, ok := in.Get(key)
	if !ok {
		return 0, false
	}
	return ParseNumber(v)
}

// ParseNumber reads an INFO value as a number. Besides plain numbers it knows
// the status words INFO uses ("ok"/"err", "up"/"down") and percentages
// ("12.5%"), which it returns as given (12.5).
func ParseNumber(v string) (float64, bool) {
	switch v {
	case "ok", "up", "yes", "true":
		return 1, true
	case "err", "fail", "down", "no", "false":
		return 0, true
	}
	v = strings.TrimSuffix(v, "%")
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, false
	}
	return f, true
}

// Pairs splits a "k=v,k=v" value (commandstats, keyspace, slaveN lines).
// Malformed parts are skipped.
func Pairs(v string) map[string]string {
	out := map[string]string{}
	for part := range strings.SplitSeq(v, ",") {
		k, val, ok := strings.Cut(part, "=")
		if !ok || k == "" {
			continue
		}
		out[k] = val
	}
	return out
}

// Version is a Redis server version.
type Version struct{ Major, Minor, Patch int }

// ParseVersion reads "7.2.4" (missing or odd parts read as 0).
func ParseVersion(s string) Version {
	var v Version
	parts := strings.SplitN(s, ".", 3)
	nums := []*int{&v.Major, &v.Minor, &v.Patch}
	for i, p := range parts {
		end := 0
		for end < len(p) && p[end] >= '0' && p[end] <= '9' {
			end++
		}
		if n, err := strconv.Atoi(p[:end]); err == nil {
			*nums[i] = n
		}
	}
	return v
}

// AtLeast reports whether v >= major.minor.
func (v Version) AtLeast(major, minor int) bool {
	return v.Major > major || (v.Major == major && v.Minor >= minor)
}

func (v Version) String() string {
	return strconv.Itoa(v.Major) + "." + strconv.Itoa(v.Minor) + "." + strconv.Itoa(v.Patch)
}
