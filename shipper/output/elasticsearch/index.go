package elasticsearch

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/outrigger/outrigger/shipper/decode"
)

// Pattern is an index name pattern as Filebeat writes it:
// "app-%{+yyyy.MM.dd}" (a date of the event's @timestamp, in UTC) and
// "%{[fields.env]}" (a field of the document).
type Pattern struct {
	raw  string
	segs []segment
	// Prefix is the literal text before the first reference ("app-").
	Prefix string
}

type segment struct {
	lit    string
	layout string // Go time layout when a date
	field  string // document field when a reference
}

// ParsePattern parses an index pattern.
func ParsePattern(s string) (*Pattern, error) {
	if s == "" {
		return nil, errors.New("index pattern is empty")
	}
	p := &Pattern{raw: s}
	rest := s
	prefixDone := false
	for rest != "" {
		i := strings.Index(rest, "%{")
		if i < 0 {
			p.segs = append(p.segs, segment{lit: rest})
			if !prefixDone {
				p.Prefix += rest
			}
			break
		}
		if i > 0 {
			p.segs = append(p.segs, segment{lit: rest[:i]})
			if !prefixDone {
				p.Prefix += rest[:i]
			}
		}
		prefixDone = true
		end := strings.IndexByte(rest[i:], '}')
		if end < 0 {
			return nil, fmt.Errorf("index pattern %q: %%{ without }", s)
		}
		ref := rest[i+2 : i+end]
		rest = rest[i+end+1:]
		switch {
		case strings.HasPrefix(ref, "+"):
			layout, err := JodaLayout(ref[1:])
			if err != nil {
				return nil, fmt.Errorf("index pattern %q: %w", s, err)
			}
			p.segs = append(p.segs, segment{layout: layout})
		case strings.HasPrefix(ref, "[") && strings.HasSuffix(ref, "]") && len(ref) > 2:
			p.segs = append(p.segs, segment{field: ref[1 : len(ref)-1]})
		default:
			return nil, fmt.Errorf("index pattern %q: %%{%s}: want %%{+yyyy.MM.dd} or %%{[field]}", s, ref)
		}
	}
	if strings.ToLower(p.Prefix) != p.Prefix || strings.ContainsAny(p.Prefix, ` "*\<|,>/?#:`) {
		return nil, fmt.Errorf("index pattern %q: index names are lower case, without spaces, quotes or the characters *\\<|,>/?#: (%q)", s, p.Prefix)
	}
	return p, nil
}

// String returns the pattern as written.
func (p *Pattern) String() string { return p.raw }

// Static reports whether the pattern has no field reference.
func (p *Pattern) Static() bool {
	for _, s := range p.segs {
		if s.field != "" {
			return false
		}
	}
	return true
}

// Append appends the index of an event at ns (Unix nanoseconds) whose
// document has members; ok is false when a referenced field is missing.
func (p *Pattern) Append(dst []byte, ns int64, members []decode.Member) ([]byte, bool) {
	var t time.Time
	for _, s := range p.segs {
		switch {
		case s.layout != "":
			if t.IsZero() {
				t = time.Unix(0, ns).UTC()
			}
			dst = t.AppendFormat(dst, s.layout)
		case s.field != "":
			v := decode.Find(members, s.field)
			if v == nil {
				return dst, false
			}
			str, ok := decode.StringValue(v)
			if !ok {
				str = string(v)
			}
			dst = append(dst, strings.ToLower(str)...)
		default:
			dst = append(dst, s.lit...)
		}
	}
	return dst, true
}

// JodaLayout converts a Joda-style date pattern (yyyy.MM.dd, as Filebeat and
// Logstash write them) to a Go layout.
func JodaLayout(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		n := 1
		for i+n < len(s) && s[i+n] == c {
			n++
		}
		tok := s[i : i+n]
		i += n
		switch {
		case c == '\'':
			end := strings.IndexByte(s[i:], '\'')
			if end < 0 {
				return "", fmt.Errorf("date pattern %q: unterminated quote", s)
			}
			b.WriteString(s[i : i+end])
			i += end + 1
		case tok == "yyyy" || tok == "YYYY" || tok == "xxxx":
			b.WriteString("2006")
		case tok == "yy" || tok == "YY" || tok == "xx":
			b.WriteString("06")
		case tok == "MM":
			b.WriteString("01")
		case tok == "M":
			b.WriteString("1")
		case tok == "dd":
			b.WriteString("02")
		case tok == "d":
			b.WriteString("2")
		case tok == "HH":
			b.WriteString("15")
		case tok == "mm":
			b.WriteString("04")
		case tok == "ss":
			b.WriteString("05")
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			return "", fmt.Errorf("date pattern %q: %q is not supported (use y, M, d, H, m, s)", s, tok)
		default:
			b.WriteString(tok)
		}
	}
	return b.String(), nil
}
