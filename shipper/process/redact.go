package process

import (
	"bytes"
	"sort"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/outrigger/outrigger/shipper/decode"
)

// Redacted replaces every secret.
const Redacted = "[REDACTED]"

// DefaultRedactFields are keys whose values are always secrets.
var DefaultRedactFields = []string{"password", "passwd", "secret", "client_secret", "api_key", "apikey",
	"access_token", "refresh_token", "authorization", "token", "x-api-key", "cookie", "set-cookie"}

// Redactor removes secrets from lines: OpenAI-style keys (sk-...), bearer
// tokens, passwords in URLs, and the values of configured keys at any depth.
// Keys are matched on their value (JSON escapes resolved), ASCII case
// folded: "Pass\u0077ord" is "password".
type Redactor struct {
	patterns bool
	fields   map[string]bool
	keys     [][]byte // the fields, lower case, longest first
	// lens[c] has bit n set when a field of n bytes (1 <= n < 64) starts
	// with c (lower case): most keys are ruled out without a map lookup.
	lens [256]uint64
	// long: a field is 64 bytes or more, which lens cannot rule out.
	long bool
	// first[c]: a field starts with c.
	first [256]bool
}

// NewRedactor returns a Redactor; patterns enables the built-in patterns.
func NewRedactor(patterns bool, fields []string) *Redactor {
	r := &Redactor{patterns: patterns, fields: map[string]bool{}}
	for _, f := range fields {
		lf := foldString(f)
		if lf == "" || r.fields[lf] {
			continue
		}
		r.fields[lf] = true
		r.keys = append(r.keys, []byte(lf))
		r.first[lf[0]] = true
		if n := len(lf); n < 64 {
			r.lens[lf[0]] |= 1 << n
		} else {
			r.long = true
		}
	}
	sort.Slice(r.keys, func(i, j int) bool { return len(r.keys[i]) > len(r.keys[j]) })
	return r
}

// foldString lower-cases the ASCII letters of s.
func foldString(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// maybe is false when no field of len(key) bytes starts with key[0]
// (either case); keys it cannot rule out (64 bytes or more) are true.
func (r *Redactor) maybe(key []byte) bool {
	n := len(key)
	if n == 0 {
		return false
	}
	if n >= 64 {
		return r.long
	}
	c := key[0]
	if c >= 'A' && c <= 'Z' {
		c += 'a' - 'A'
	}
	return r.lens[c]&(1<<n) != 0
}

// Fields reports whether the redactor looks at keys at all.
func (r *Redactor) Fields() bool { return len(r.fields) > 0 }

// MayHaveField is a conservative check whether the valid JSON value b may
// hold a configured key: true when b has a backslash (an escaped key) or
// when the key before any ':' (whitespace allowed between) may be one.
// Without a backslash every '"' delimits a string, so the string closing
// before a separator ':' is exactly its key.
func (r *Redactor) MayHaveField(b []byte) bool {
	if len(r.fields) == 0 {
		return false
	}
	if bytes.IndexByte(b, '\\') >= 0 {
		return true
	}
	for i := 0; i < len(b); {
		j := bytes.IndexByte(b[i:], ':')
		if j < 0 {
			return false
		}
		colon := i + j
		end := colon
		for end > 0 && isSpace(b[end-1]) {
			end--
		}
		if end > 0 && b[end-1] == '"' {
			end--
			if start := bytes.LastIndexByte(b[:end], '"'); start >= 0 && r.IsFieldBytes(b[start+1:end]) {
				return true
			}
		}
		i = colon + 1
	}
	return false
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// IsFieldBytes reports whether an unescaped key is a configured field,
// without allocating.
func (r *Redactor) IsFieldBytes(key []byte) bool {
	if !r.maybe(key) {
		return false
	}
	var buf [64]byte
	k := buf[:0]
	for _, c := range key {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		k = append(k, c)
	}
	return r.fields[string(k)]
}

// IsField reports whether key's value is to be redacted.
func (r *Redactor) IsField(key string) bool { return r.fields[foldString(key)] }

// IsRawKey reports whether a JSON key as written between its quotes names
// a configured field once its escapes are resolved.
func (r *Redactor) IsRawKey(raw []byte) bool {
	if len(r.fields) == 0 {
		return false
	}
	if bytes.IndexByte(raw, '\\') < 0 {
		return r.IsFieldBytes(raw)
	}
	return r.fields[foldString(unescape(raw))]
}

// unescape resolves the JSON escapes of a string's inside; what is not a
// valid escape is kept as it is.
func unescape(raw []byte) string {
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' || i+1 >= len(raw) {
			b.WriteByte(c)
			continue
		}
		i++
		switch raw[i] {
		case '"', '\\', '/':
			b.WriteByte(raw[i])
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, n := hex4(raw[i+1:])
			if n == 0 {
				b.WriteString(`\u`)
				continue
			}
			i += n
			if utf16.IsSurrogate(r) {
				if i+2 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
					if r2, n2 := hex4(raw[i+3:]); n2 > 0 {
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							b.WriteRune(d)
							i += 2 + n2
							continue
						}
					}
				}
				r = utf8.RuneError
			}
			b.WriteRune(r)
		default:
			b.WriteByte('\\')
			b.WriteByte(raw[i])
		}
	}
	return b.String()
}

// hex4 decodes the 4 hex digits at the start of b (n = 4), or n = 0.
func hex4(b []byte) (rune, int) {
	if len(b) < 4 {
		return 0, 0
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, 0
		}
	}
	return r, 4
}

var redactedValue = []byte(`"` + Redacted + `"`)

// RedactValue redacts configured keys inside a valid JSON value (objects
// and arrays at any depth); it returns the value and how many were redacted.
func (r *Redactor) RedactValue(raw []byte) ([]byte, int) {
	if len(raw) == 0 || (raw[0] != '{' && raw[0] != '[') || !r.MayHaveField(raw) {
		return raw, 0
	}
	return r.walk(raw)
}

// walk is RedactValue without the prefilter.
func (r *Redactor) walk(raw []byte) ([]byte, int) {
	if len(raw) == 0 {
		return raw, 0
	}
	if raw[0] == '[' {
		return r.redactArray(raw)
	}
	if raw[0] != '{' {
		return raw, 0
	}
	members, err := decode.ParseObject(raw, nil)
	if err != nil {
		return raw, 0
	}
	n := 0
	for i, m := range members {
		if r.IsRawKey(m.Key) {
			members[i].Value = redactedValue
			n++
			continue
		}
		v, k := r.walk(m.Value)
		members[i].Value = v
		n += k
	}
	if n == 0 {
		return raw, 0
	}
	return AppendObject(nil, members), n
}

func (r *Redactor) redactArray(raw []byte) ([]byte, int) {
	items, ok := splitArray(raw)
	if !ok {
		return raw, 0
	}
	out := []byte{'['}
	n := 0
	for i, it := range items {
		if i > 0 {
			out = append(out, ',')
		}
		v, k := r.walk(it)
		n += k
		out = append(out, v...)
	}
	out = append(out, ']')
	if n == 0 {
		return raw, 0
	}
	return out, n
}

func splitArray(raw []byte) ([][]byte, bool) {
	var items [][]byte
	inner := bytes.TrimSpace(raw[1 : len(raw)-1])
	if len(inner) == 0 {
		return nil, true
	}
	depth, inStr, esc, start := 0, false, false, 0
	for i, c := range inner {
		switch {
		case esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
		case c == ',' && depth == 0:
			items = append(items, bytes.TrimSpace(inner[start:i]))
			start = i + 1
		}
	}
	items = append(items, bytes.TrimSpace(inner[start:]))
	return items, depth == 0 && !inStr
}

// Patterns redacts the built-in patterns in line, returning the line (a new
// slice when anything changed) and how many secrets were replaced.
func (r *Redactor) Patterns(line []byte) ([]byte, int) {
	if !r.patterns {
		return line, 0
	}
	n := 0
	var k int
	if containsAround(line, '-', "sk", "sk", "") {
		line, k = redactSK(line)
		n += k
	}
	if containsAround(line, ' ', "earer", "EARER", "") {
		line, k = redactBearer(line)
		n += k
	}
	if containsAround(line, '/', ":", ":", "/") {
		line, k = redactURLPasswords(line)
		n += k
	}
	return line, n
}

// hasAt reports whether line[i:] starts with s (which fits).
func hasAt(line []byte, i int, s string) bool {
	for k := 0; k < len(s); k++ {
		if line[i+k] != s[k] {
			return false
		}
	}
	return true
}

// containsAround is bytes.Contains(line, before+string(c)+after) ||
// bytes.Contains(line, before2+string(c)+after) (before and before2 of one
// length), searched by c: the patterns' first bytes (s, e, :) are frequent
// in JSON lines, their middle ones (-, space, /) much less.
func containsAround(line []byte, c byte, before, before2, after string) bool {
	for i := len(before); i < len(line)-len(after); {
		j := bytes.IndexByte(line[i:len(line)-len(after)], c)
		if j < 0 {
			return false
		}
		i += j
		if (hasAt(line, i-len(before), before) || hasAt(line, i-len(before), before2)) && hasAt(line, i+1, after) {
			return true
		}
		i++
	}
	return false
}

func isKeyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

func isTokenChar(c byte) bool {
	return isKeyChar(c) || c == '.' || c == '~' || c == '+' || c == '/' || c == '='
}

// redactSK replaces API keys like sk-..., sk-proj-..., sk-ant-... (at least
// 16 characters after "sk-") with sk-[REDACTED].
func redactSK(line []byte) ([]byte, int) {
	var out []byte
	n, last := 0, 0
	for i := 0; i+3 <= len(line); {
		j := bytes.Index(line[i:], []byte("sk-"))
		if j < 0 {
			break
		}
		start := i + j
		end := start + 3
		for end < len(line) && isKeyChar(line[end]) {
			end++
		}
		if (start == 0 || !isKeyChar(line[start-1])) && end-start-3 >= 16 {
			out = append(out, line[last:start+3]...)
			out = append(out, Redacted...)
			last, n = end, n+1
		}
		i = end
	}
	if n == 0 {
		return line, 0
	}
	return append(out, line[last:]...), n
}

// redactBearer replaces the token after "Bearer " (any case).
func redactBearer(line []byte) ([]byte, int) {
	var out []byte
	n, last := 0, 0
	for i := 0; i+7 <= len(line); i++ {
		if (line[i] != 'b' && line[i] != 'B') || !bytes.EqualFold(line[i:i+6], []byte("bearer")) || (i > 0 && isKeyChar(line[i-1])) {
			continue
		}
		j := i + 6
		if j >= len(line) || (line[j] != ' ' && line[j] != '\t') {
			continue
		}
		for j < len(line) && (line[j] == ' ' || line[j] == '\t') {
			j++
		}
		end := j
		for end < len(line) && isTokenChar(line[end]) {
			end++
		}
		if end-j < 8 || bytes.HasPrefix(line[j:end], []byte(Redacted)) {
			continue
		}
		out = append(out, line[last:j]...)
		out = append(out, Redacted...)
		last, n, i = end, n+1, end-1
	}
	if n == 0 {
		return line, 0
	}
	return append(out, line[last:]...), n
}

// redactURLPasswords replaces the password of scheme://user:password@host.
func redactURLPasswords(line []byte) ([]byte, int) {
	var out []byte
	n, last := 0, 0
	for i := 0; i < len(line); {
		j := bytes.Index(line[i:], []byte("://"))
		if j < 0 {
			break
		}
		start := i + j + 3
		colon, at := -1, -1
	scan:
		for k := start; k < len(line); k++ {
			switch line[k] {
			case ':':
				if colon < 0 {
					colon = k
				}
			case '@':
				at = k
				break scan
			case '/', '"', ' ', '\\', '?', '#', '\t', '\'':
				break scan
			}
		}
		if colon > start && at > colon+1 && string(line[colon+1:at]) != Redacted {
			out = append(out, line[last:colon+1]...)
			out = append(out, Redacted...)
			last, n = at, n+1
			i = at
			continue
		}
		i = start
	}
	if n == 0 {
		return line, 0
	}
	return append(out, line[last:]...), n
}
