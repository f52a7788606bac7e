package decode

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
)

// Member is one top-level member of a JSON object.
type Member struct {
	// Key is the key as written between its quotes (escapes not resolved).
	Key []byte
	// Value is the member's raw JSON value.
	Value []byte
}

// KeyIs reports whether the member's key equals name.
func (m Member) KeyIs(name string) bool {
	if bytes.IndexByte(m.Key, '\\') < 0 {
		return string(m.Key) == name
	}
	return m.KeyString() == name
}

// KeyString returns the key with escapes resolved.
func (m Member) KeyString() string {
	if bytes.IndexByte(m.Key, '\\') < 0 {
		return string(m.Key)
	}
	s, err := strconv.Unquote(`"` + string(m.Key) + `"`)
	if err != nil {
		return string(m.Key)
	}
	return s
}

// Find returns the raw value of a field: a top-level key, or a dotted path
// into nested objects (error.type); nil when there is none.
func Find(members []Member, field string) []byte {
	for _, m := range members {
		if m.KeyIs(field) {
			return m.Value
		}
	}
	if dot := strings.IndexByte(field, '.'); dot > 0 {
		for _, m := range members {
			if m.KeyIs(field[:dot]) && len(m.Value) > 0 && m.Value[0] == '{' {
				if inner, err := ParseObject(m.Value, nil); err == nil {
					return Find(inner, field[dot+1:])
				}
			}
		}
	}
	return nil
}

// SyntaxError is a JSON syntax error at a byte offset.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at byte %d: %s", e.Offset, e.Msg)
}

// ErrNotObject is returned for valid JSON that is not an object.
var ErrNotObject = errors.New("JSON value is not an object")

// ParseObject validates line as one JSON object (surrounding whitespace
// allowed) and appends its top-level members to dst. The members point into
// line.
func ParseObject(line []byte, dst []Member) ([]Member, error) {
	members, _, err := ParseObjectPlain(line, dst)
	return members, err
}

// ParseObjectPlain is ParseObject that also reports whether line is plain:
// no backslash (so no escape in any key or string) and no control byte.
func ParseObjectPlain(line []byte, dst []Member) ([]Member, bool, error) {
	p := parser{b: line, plain: plainText(line)}
	members, err := p.object(dst)
	return members, p.plain, err
}

func (p *parser) object(dst []Member) ([]Member, error) {
	p.ws()
	if p.i >= len(p.b) {
		return dst, &SyntaxError{p.i, "empty line"}
	}
	if p.b[p.i] != '{' {
		if err := p.value(0); err != nil {
			return dst, err
		}
		p.ws()
		if p.i != len(p.b) {
			return dst, &SyntaxError{p.i, "data after the value"}
		}
		return dst, ErrNotObject
	}
	p.i++
	p.ws()
	if p.peek() == '}' {
		p.i++
	} else {
		for {
			p.ws()
			ks := p.i
			if err := p.str(); err != nil {
				return dst, err
			}
			key := p.b[ks+1 : p.i-1]
			p.ws()
			if p.peek() != ':' {
				return dst, &SyntaxError{p.i, "expected ':'"}
			}
			p.i++
			p.ws()
			vs := p.i
			if err := p.value(1); err != nil {
				return dst, err
			}
			dst = append(dst, Member{Key: key, Value: p.b[vs:p.i]})
			p.ws()
			switch p.peek() {
			case ',':
				p.i++
				continue
			case '}':
				p.i++
			default:
				return dst, &SyntaxError{p.i, "expected ',' or '}'"}
			}
			break
		}
	}
	p.ws()
	if p.i != len(p.b) {
		return dst, &SyntaxError{p.i, "data after the object"}
	}
	return dst, nil
}

// Valid reports whether b is one valid JSON value.
func Valid(b []byte) bool {
	p := parser{b: b, plain: plainText(b)}
	p.ws()
	if p.value(0) != nil {
		return false
	}
	p.ws()
	return p.i == len(p.b)
}

const maxDepth = 10000

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// hasZero is non-zero when a byte of x is zero (may flag extra bytes above
// a real one, which the byte loop then sorts out).
func hasZero(x uint64) uint64 { return (x - lsb) & ^x & msb }

// hasLess is non-zero when a byte of x is below n (n <= 128), with the same caveat.
func hasLess(x uint64, n uint64) uint64 { return (x - lsb*n) & ^x & msb }

// plain marks the bytes a JSON string holds as they are.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

type parser struct {
	b []byte
	i int
	// plain: b has no backslash and no control character, so a string
	// is everything up to the next quote.
	plain bool
}

// plainText reports whether b has no backslash and no byte below 0x20
// (tabs included: a line with one takes the byte-by-byte path).
func plainText(b []byte) bool {
	if bytes.IndexByte(b, '\\') >= 0 {
		return false
	}
	// (x - 0x20 in every byte) &^ x has a byte's top bit set when that
	// byte is below 0x20 (and maybe above one that is): hasLess, with the
	// mask applied once for four words.
	const k = lsb * 0x20
	var acc uint64
	for len(b) >= 32 {
		x0 := binary.LittleEndian.Uint64(b)
		x1 := binary.LittleEndian.Uint64(b[8:])
		x2 := binary.LittleEndian.Uint64(b[16:])
		x3 := binary.LittleEndian.Uint64(b[24:32])
		acc |= (x0-k)&^x0 | (x1-k)&^x1 | (x2-k)&^x2 | (x3-k)&^x3
		b = b[32:]
	}
	for len(b) >= 8 {
		x := binary.LittleEndian.Uint64(b)
		acc |= (x - k) &^ x
		b = b[8:]
	}
	if acc&msb != 0 {
		return false
	}
	for _, c := range b {
		if c < 0x20 {
			return false
		}
	}
	return true
}

func (p *parser) peek() byte {
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

func (p *parser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) value(depth int) error {
	if depth > maxDepth {
		return &SyntaxError{p.i, "nested too deeply"}
	}
	switch c := p.peek(); {
	case c == '"':
		return p.str()
	case c == '{':
		p.i++
		p.ws()
		if p.peek() == '}' {
			p.i++
			return nil
		}
		for {
			p.ws()
			if err := p.str(); err != nil {
				return err
			}
			p.ws()
			if p.peek() != ':' {
				return &SyntaxError{p.i, "expected ':'"}
			}
			p.i++
			p.ws()
			if err := p.value(depth + 1); err != nil {
				return err
			}
			p.ws()
			switch p.peek() {
			case ',':
				p.i++
			case '}':
				p.i++
				return nil
			default:
				return &SyntaxError{p.i, "expected ',' or '}'"}
			}
		}
	case c == '[':
		p.i++
		p.ws()
		if p.peek() == ']' {
			p.i++
			return nil
		}
		for {
			p.ws()
			if err := p.value(depth + 1); err != nil {
				return err
			}
			p.ws()
			switch p.peek() {
			case ',':
				p.i++
			case ']':
				p.i++
				return nil
			default:
				return &SyntaxError{p.i, "expected ',' or ']'"}
			}
		}
	case c == '-' || c >= '0' && c <= '9':
		return p.num()
	case c == 't':
		return p.lit("true")
	case c == 'f':
		return p.lit("false")
	case c == 'n':
		return p.lit("null")
	default:
		return &SyntaxError{p.i, "unexpected character"}
	}
}

func (p *parser) lit(s string) error {
	if !bytes.HasPrefix(p.b[p.i:], []byte(s)) {
		return &SyntaxError{p.i, "invalid literal"}
	}
	p.i += len(s)
	return nil
}

func (p *parser) digits() int {
	n := 0
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
		n++
	}
	return n
}

func (p *parser) num() error {
	if p.peek() == '-' {
		p.i++
	}
	switch {
	case p.peek() == '0':
		p.i++
	case p.peek() >= '1' && p.peek() <= '9':
		p.digits()
	default:
		return &SyntaxError{p.i, "invalid number"}
	}
	if p.peek() == '.' {
		p.i++
		if p.digits() == 0 {
			return &SyntaxError{p.i, "invalid number"}
		}
	}
	if c := p.peek(); c == 'e' || c == 'E' {
		p.i++
		if c := p.peek(); c == '+' || c == '-' {
			p.i++
		}
		if p.digits() == 0 {
			return &SyntaxError{p.i, "invalid number"}
		}
	}
	return nil
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func (p *parser) str() error {
	if p.peek() != '"' {
		return &SyntaxError{p.i, "expected string"}
	}
	p.i++
	if p.plain {
		// Keys and short values end within a word or two: look there
		// (the lowest flagged byte of hasZero is always a real quote)
		// before paying for a call.
		b, i := p.b, p.i
		for k := 0; k < 2 && i+8 <= len(b); k++ {
			if m := hasZero(binary.LittleEndian.Uint64(b[i:]) ^ (lsb * '"')); m != 0 {
				p.i = i + bits.TrailingZeros64(m)/8 + 1
				return nil
			}
			i += 8
		}
		p.i = i
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			p.i = len(p.b)
			return &SyntaxError{p.i, "unfinished string"}
		}
		p.i += j + 1
		return nil
	}
	for p.i < len(p.b) {
		// Eight plain bytes at a time, then one at a time; the switch
		// handles the rest.
		for p.i+8 <= len(p.b) {
			x := binary.LittleEndian.Uint64(p.b[p.i:])
			if hasLess(x, 0x20)|hasZero(x^(lsb*'"'))|hasZero(x^(lsb*'\\')) != 0 {
				break
			}
			p.i += 8
		}
		for p.i < len(p.b) && plain[p.b[p.i]] {
			p.i++
		}
		if p.i >= len(p.b) {
			break
		}
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return nil
		case c == '\\':
			p.i++
			if p.i >= len(p.b) {
				return &SyntaxError{p.i, "unfinished escape"}
			}
			switch p.b[p.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p.i++
			case 'u':
				if p.i+4 >= len(p.b) || !isHex(p.b[p.i+1]) || !isHex(p.b[p.i+2]) || !isHex(p.b[p.i+3]) || !isHex(p.b[p.i+4]) {
					return &SyntaxError{p.i, "invalid \\u escape"}
				}
				p.i += 5
			default:
				return &SyntaxError{p.i, "invalid escape"}
			}
		case c < 0x20:
			return &SyntaxError{p.i, "control character in string"}
		default:
			// Bytes >= 0x80 pass: like encoding/json, invalid UTF-8 is
			// tolerated (the framer already repaired it).
			p.i++
		}
	}
	return &SyntaxError{p.i, "unfinished string"}
}

// StringValue returns the value of a JSON string, or the raw text of any
// other scalar (numbers, true, false), and false for null, objects and arrays.
func StringValue(raw []byte) (string, bool) {
	if len(raw) == 0 {
		return "", false
	}
	switch raw[0] {
	case '"':
		inner := raw[1 : len(raw)-1]
		if bytes.IndexByte(inner, '\\') < 0 {
			return string(inner), true
		}
		s, err := strconv.Unquote(string(raw))
		if err != nil {
			// JSON escapes Go does not know (\/) — resolve the simple way.
			s, err = strconv.Unquote(string(bytes.ReplaceAll(raw, []byte(`\/`), []byte(`/`))))
			if err != nil {
				return string(inner), true
			}
		}
		return s, true
	case '{', '[', 'n':
		return "", false
	default:
		return string(raw), true
	}
}
