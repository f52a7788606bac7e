package collector

// Glob is a compiled Redis glob pattern (the syntax of KEYS and SCAN MATCH):
// * any run, ? one byte, [abc] [^abc] [a-z] classes, \ escapes. Matching is
// by byte and case-sensitive, as Redis does it, and never backtracks more
// than once per star, so no pattern can make it slow.
type Glob struct {
	toks []globTok
}

type globTok struct {
	star    bool
	any     bool // ?
	lit     byte
	isClass bool
	negate  bool
	ranges  [][2]byte
}

// CompileGlob parses a pattern. Every string is a valid pattern: an
// unterminated class or a trailing backslash match literally, as in Redis.
func CompileGlob(p string) Glob {
	var g Glob
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '*':
			if n := len(g.toks); n == 0 || !g.toks[n-1].star {
				g.toks = append(g.toks, globTok{star: true})
			}
		case '?':
			g.toks = append(g.toks, globTok{any: true})
		case '\\':
			if i+1 < len(p) {
				i++
			}
			g.toks = append(g.toks, globTok{lit: p[i]})
		case '[':
			tok, next := parseClass(p, i+1)
			g.toks = append(g.toks, tok)
			i = next
		default:
			g.toks = append(g.toks, globTok{lit: c})
		}
	}
	return g
}

// parseClass reads a class starting after '[' and returns it and the index
// of its closing ']' (or the end of the pattern).
func parseClass(p string, i int) (globTok, int) {
	tok := globTok{isClass: true}
	if i < len(p) && p[i] == '^' {
		tok.negate = true
		i++
	}
	for ; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p):
			i++
			tok.ranges = append(tok.ranges, [2]byte{p[i], p[i]})
		case c == ']':
			return tok, i
		case i+2 < len(p) && p[i+1] == '-':
			lo, hi := c, p[i+2]
			if lo > hi {
				lo, hi = hi, lo
			}
			tok.ranges = append(tok.ranges, [2]byte{lo, hi})
			i += 2
		default:
			tok.ranges = append(tok.ranges, [2]byte{c, c})
		}
	}
	return tok, len(p) - 1
}

func (t globTok) matches(c byte) bool {
	switch {
	case t.any:
		return true
	case t.isClass:
		in := false
		for _, r := range t.ranges {
			if c >= r[0] && c <= r[1] {
				in = true
				break
			}
		}
		return in != t.negate
	default:
		return c == t.lit
	}
}

// Match reports whether s matches the pattern.
func (g Glob) Match(s string) bool {
	ti, si := 0, 0
	starTok, starS := -1, 0
	for si < len(s) {
		switch {
		case ti < len(g.toks) && g.toks[ti].star:
			starTok, starS = ti, si
			ti++
		case ti < len(g.toks) && g.toks[ti].matches(s[si]):
			ti++
			si++
		case starTok >= 0:
			starS++
			si = starS
			ti = starTok + 1
		default:
			return false
		}
	}
	for ti < len(g.toks) && g.toks[ti].star {
		ti++
	}
	return ti == len(g.toks)
}
