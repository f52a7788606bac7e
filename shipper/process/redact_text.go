package process

import (
	"bytes"
	"sort"
	"strings"

	"github.com/outrigger/outrigger/shipper/decode"
)

// Text redacts a line that is not a JSON object: a valid JSON array (or
// other value) is walked like an object's values; anything else (a raw,
// truncated or multiline record) gets a scan for the configured keys written
// as key=value, key: value or "key": value (quoted or not, JSON escapes in
// quoted keys resolved), then the patterns. It returns line itself when
// nothing changed.
func (r *Redactor) Text(line []byte) ([]byte, int) {
	n := 0
	if len(r.fields) > 0 {
		t := bytes.TrimSpace(line)
		if len(t) > 0 && (t[0] == '[' || t[0] == '{') && decode.Valid(t) {
			if r.MayHaveField(t) {
				if v, k := r.walk(t); k > 0 {
					line, n = v, k
				}
			}
		} else {
			line, n = r.scanFields(line)
		}
	}
	line, k := r.Patterns(line)
	return line, n + k
}

// scanFields replaces the value after every configured key in line.
func (r *Redactor) scanFields(line []byte) ([]byte, int) {
	hasEsc := bytes.IndexByte(line, '\\') >= 0
	var lower []byte
	if !hasEsc {
		lower = r.mayContain(line)
		if lower == nil {
			return line, 0
		}
	}
	type span struct{ start, end int }
	var spans []span
	add := func(start, end int) {
		if end > start {
			spans = append(spans, span{start, end})
		}
	}
	if lower == nil {
		lower = foldBytes(line)
	}
	// Plain keys: a configured key with no key character on either side,
	// then an optional closing quote, optional spaces and '=' or ':'.
	for _, key := range r.keys {
		for i := 0; i < len(lower); {
			j := bytes.Index(lower[i:], key)
			if j < 0 {
				break
			}
			at := i + j
			end := at + len(key)
			i = at + 1
			if at > 0 && isKeyChar(line[at-1]) || end < len(line) && isKeyChar(line[end]) {
				continue
			}
			if vs, ve, ok := valueAfter(line, end); ok {
				add(vs, ve)
			}
		}
	}
	// Quoted keys with escapes: any string holding a backslash whose value
	// is a configured key, followed by ':'.
	if hasEsc {
		for i := 0; i < len(line); i++ {
			if line[i] != '"' {
				continue
			}
			end := stringEnd(line, i+1, 256)
			if end < 0 {
				continue
			}
			raw := line[i+1 : end]
			if bytes.IndexByte(raw, '\\') < 0 || !r.fields[foldString(unescape(raw))] {
				continue
			}
			if vs, ve, ok := valueAfter(line, end); ok {
				add(vs, ve)
			}
		}
	}
	if len(spans) == 0 {
		return line, 0
	}
	// Merge overlapping spans (a value may hold another key) and rewrite.
	sort.Slice(spans, func(a, b int) bool { return spans[a].start < spans[b].start })
	out := make([]byte, 0, len(line))
	last, n := 0, 0
	for _, s := range spans {
		if s.start < last {
			if s.end > last {
				last = s.end
			}
			continue
		}
		out = append(out, line[last:s.start]...)
		out = append(out, Redacted...)
		last, n = s.end, n+1
	}
	return append(out, line[last:]...), n
}

// mayContain returns line folded to lower case when it contains a
// configured key (ASCII case folded), nil otherwise; most lines are ruled
// out without allocating.
func (r *Redactor) mayContain(line []byte) []byte {
	if hasKey(r, line) {
		return foldBytes(line)
	}
	return nil
}

// hasKey reports whether b contains a configured key, ASCII case folded.
func hasKey[T string | []byte](r *Redactor, b T) bool {
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if !r.first[c] {
			continue
		}
	keys:
		for _, key := range r.keys {
			if key[0] != c || len(b)-i < len(key) {
				continue
			}
			for k := 1; k < len(key); k++ {
				d := b[i+k]
				if d >= 'A' && d <= 'Z' {
					d += 'a' - 'A'
				}
				if d != key[k] {
					continue keys
				}
			}
			return true
		}
	}
	return false
}

func foldBytes(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return out
}

// stringEnd returns the index of the '"' closing a string whose inside
// starts at i, looking at most limit bytes ahead; -1 if there is none.
func stringEnd(line []byte, i, limit int) int {
	for k := i; k < len(line) && k-i <= limit; k++ {
		switch line[k] {
		case '\\':
			k++
		case '"':
			return k
		}
	}
	return -1
}

// valueAfter finds the value of a key ending at end: an optional closing
// quote, spaces, '=' or ':', spaces, then the value. It returns the span to
// replace: the inside of a quoted value (to the end of the line when the
// quote is not closed, as in a truncated line), a whole object or array, or
// a bare word (after ':', up to ',', ';', '&' or a bracket: "Authorization:
// Basic xyz" loses both words).
func valueAfter(line []byte, end int) (int, int, bool) {
	i := end
	if i < len(line) && (line[i] == '"' || line[i] == '\'') {
		i++
	}
	for i < len(line) && isSpace(line[i]) {
		i++
	}
	if i >= len(line) || (line[i] != '=' && line[i] != ':') {
		return 0, 0, false
	}
	sep := line[i]
	i++
	for i < len(line) && isSpace(line[i]) {
		i++
	}
	if i >= len(line) {
		return 0, 0, false
	}
	switch c := line[i]; c {
	case '"', '\'':
		for k := i + 1; k < len(line); k++ {
			switch line[k] {
			case '\\':
				k++
			case c:
				return i + 1, k, true
			}
		}
		return i + 1, len(line), true
	case '{', '[':
		depth, inStr := 0, false
		for k := i; k < len(line); k++ {
			switch b := line[k]; {
			case inStr && b == '\\':
				k++
			case b == '"':
				inStr = !inStr
			case inStr:
			case b == '{' || b == '[':
				depth++
			case b == '}' || b == ']':
				depth--
				if depth == 0 {
					return i, k + 1, true
				}
			}
		}
		return i, len(line), true
	}
	k := i
	for k < len(line) {
		b := line[k]
		if b == ',' || b == ';' || b == '&' || b == '}' || b == ']' || b == ')' || b == '"' || b == '\'' || b == '\n' || b == '\r' ||
			sep == '=' && (b == ' ' || b == '\t') {
			break
		}
		k++
	}
	for k > i && (line[k-1] == ' ' || line[k-1] == '\t') {
		k--
	}
	return i, k, k > i
}

// MayHold is a cheap conservative check whether Text could change s: s
// holds a backslash, a configured key or what a pattern needs.
func (r *Redactor) MayHold(s string) bool {
	if strings.IndexByte(s, '\\') >= 0 || hasKey(r, s) {
		return true
	}
	return r.patterns && (strings.Contains(s, "sk-") || strings.Contains(s, "://") ||
		strings.IndexByte(s, ' ') >= 0 && (strings.Contains(s, "earer") || strings.Contains(s, "EARER")))
}
