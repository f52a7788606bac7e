package process

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/outrigger/outrigger/shipper/event"
)

// TestRedactionSpellings: the spellings that slipped past byte patterns
// (issue 16) and the lines that are not JSON objects.
func TestRedactionSpellings(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		in   string
		want string
	}{
		{"escaped key", Config{JSON: true}, `{"pass\u0077ord":"x"}`, `{"pass\u0077ord":"[REDACTED]"}`},
		{"escaped nested key", Config{JSON: true}, `{"a":{"\u0054OKEN":"x"}}`, `{"a":{"\u0054OKEN":"[REDACTED]"}}`},
		{"space before colon", Config{JSON: true}, `{"req":{"password" : "x"}}`, `{"req":{"password":"[REDACTED]"}}`},
		{"top-level array", Config{JSON: true}, `[{"password":"x"}]`, `[{"password":"[REDACTED]"}]`},
		{"nested arrays", Config{JSON: true}, `{"a":[[1,{"Secret":{"k":"x"}}]]}`, `{"a":[[1,{"Secret":"[REDACTED]"}]]}`},
		{"upper case", Config{JSON: true}, `{"API_KEY":"x","n":1}`, `{"API_KEY":"[REDACTED]","n":1}`},
		{"truncated", Config{JSON: true}, `{"msg":"a","password":"abcdef`, `{"msg":"a","password":"[REDACTED]`},
		{"truncated escaped", Config{JSON: true}, `{"msg":"a","pass\u0077ord" : "abcdef`, `{"msg":"a","pass\u0077ord" : "[REDACTED]`},
		{"raw key=value", Config{}, `login user=bob password=x ok`, `login user=bob password=[REDACTED] ok`},
		{"raw header", Config{}, `Authorization: Basic dXNlcjpwYXNz, next`, `Authorization: [REDACTED], next`},
		{"raw quoted", Config{}, `cfg {'token': 'abc', "n": 1}`, `cfg {'token': '[REDACTED]', "n": 1}`},
		{"raw not a key", Config{}, `passwords=3 tokenizer=x`, `passwords=3 tokenizer=x`},
		{"multiline", Config{JSON: true}, "Traceback\n  cookie = abc\nError", "Traceback\n  cookie = [REDACTED]\nError"},
		{"add_error_key", Config{JSON: true, AddErrorKey: true}, `not json password=x`, `{"message":"not json password=[REDACTED]","error":{"message":"Error decoding JSON: invalid character 'o' in literal null (expecting 'u')","type":"json"}}`},
		{"wrap raw", Config{WrapRaw: true}, `secret: abc`, `{"message":"secret: [REDACTED]"}`},
		{"renamed onto a key", Config{JSON: true, Renames: []Rename{{From: "pw", To: "password"}}}, `{"pw":"x"}`, `{"password":"[REDACTED]"}`},
		{"renamed away", Config{JSON: true, Renames: []Rename{{From: "password", To: "pw"}}}, `{"password":"x"}`, `{"pw":"[REDACTED]"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.RedactFields = DefaultRedactFields
			p := New(tt.cfg)
			var ev event.Event
			p.Process(p.NewState("/x.log"), []byte(tt.in), &ev)
			if string(ev.Line) != tt.want {
				t.Errorf("%s\n got %s\nwant %s", tt.in, ev.Line, tt.want)
			}
		})
	}
}

func TestLabelAndMetadataValuesRedacted(t *testing.T) {
	p := New(Config{JSON: true, RedactPatterns: true, RedactFields: DefaultRedactFields,
		LabelFields: map[string]string{"db": "db"}, MetadataFields: map[string]string{"note": "note"}})
	var ev event.Event
	p.Process(p.NewState("/x.log"), []byte(`{"db":"postgres://app:hunter2@db/app","note":"retry password=hunter3"}`), &ev)
	if strings.Contains(ev.Stream.Labels, "hunter2") || strings.Contains(fmt.Sprint(ev.Metadata), "hunter3") {
		t.Errorf("labels %s metadata %v", ev.Stream.Labels, ev.Metadata)
	}
	if !strings.Contains(ev.Stream.Labels, `db="postgres://app:[REDACTED]@db/app"`) {
		t.Errorf("labels %s", ev.Stream.Labels)
	}
}

func TestFilenameLabelValidUTF8(t *testing.T) {
	p := New(Config{FilenameLabel: "filename"})
	var ev event.Event
	p.Process(p.NewState("/logs/a\xff.log"), []byte("x"), &ev)
	if !utf8.ValidString(ev.Stream.Labels) || !strings.Contains(ev.Stream.Labels, "a\uFFFD.log") {
		t.Errorf("labels %q", ev.Stream.Labels)
	}
}

const secret = "QZXJQZXJ"

// gen writes random JSON documents: objects, arrays, escapes (\uXXXX in
// keys too), whitespace and nesting; plant puts the secret under a
// configured key (spelled in any case and escaping) once, at any depth.
type gen struct {
	r     *rand.Rand
	b     strings.Builder
	plant bool // the secret is yet to be planted
	depth int
}

func (g *gen) ws() {
	for range g.r.IntN(3) {
		g.b.WriteByte(" \t\n\r"[g.r.IntN(4)])
	}
}

// str writes s as a JSON string, escaping some characters at random.
func (g *gen) str(s string) {
	g.b.WriteByte('"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			g.b.WriteByte('\\')
			g.b.WriteRune(c)
		case c == '/' && g.r.IntN(2) == 0:
			g.b.WriteString(`\/`)
		case c < 0x20 || g.r.IntN(5) == 0:
			if c > 0xffff {
				hi, lo := utf16Pair(c)
				fmt.Fprintf(&g.b, `\u%04x\u%04X`, hi, lo)
			} else if g.r.IntN(2) == 0 {
				fmt.Fprintf(&g.b, `\u%04x`, c)
			} else {
				fmt.Fprintf(&g.b, `\u%04X`, c)
			}
		default:
			g.b.WriteRune(c)
		}
	}
	g.b.WriteByte('"')
}

func utf16Pair(c rune) (rune, rune) {
	c -= 0x10000
	return 0xd800 + c>>10, 0xdc00 + c&0x3ff
}

// word is a harmless key or string: never a configured key, never the secret.
func (g *gen) word() string {
	words := []string{"msg", "level", "user", "passwords", "tokens", "x_token", "id", "a/b", "é😀", "secretary", "n"}
	return words[g.r.IntN(len(words))]
}

func (g *gen) key(fields []string) string {
	k := []byte(fields[g.r.IntN(len(fields))])
	for i, c := range k {
		if c >= 'a' && c <= 'z' && g.r.IntN(2) == 0 {
			k[i] = c - 'a' + 'A'
		}
	}
	return string(k)
}

func (g *gen) secretValue() {
	switch g.r.IntN(4) {
	case 0:
		g.str(secret)
	case 1:
		g.b.WriteString(`{"inner":`)
		g.str(secret)
		g.b.WriteString(`}`)
	case 2:
		g.b.WriteString(`[1,`)
		g.str(secret)
		g.b.WriteString(`]`)
	default:
		g.str("user " + secret + " tail")
	}
}

func (g *gen) value(fields []string) {
	g.depth++
	defer func() { g.depth-- }()
	switch n := g.r.IntN(10); {
	case n < 4 && g.depth < 6:
		g.object(fields)
	case n < 6 && g.depth < 6:
		g.array(fields)
	case n < 8:
		g.str(g.word())
	case n < 9:
		fmt.Fprintf(&g.b, "%d", g.r.IntN(1000))
	default:
		g.b.WriteString([]string{"true", "false", "null"}[g.r.IntN(3)])
	}
}

func (g *gen) object(fields []string) {
	g.b.WriteByte('{')
	n := g.r.IntN(4)
	for i := range n + 1 {
		if i > 0 {
			g.ws()
			g.b.WriteByte(',')
		}
		g.ws()
		if g.plant && g.r.IntN(3) == 0 {
			g.plant = false
			g.str(g.key(fields))
			g.ws()
			g.b.WriteByte(':')
			g.ws()
			g.secretValue()
			continue
		}
		g.str(g.word())
		g.ws()
		g.b.WriteByte(':')
		g.ws()
		g.value(fields)
	}
	g.ws()
	g.b.WriteByte('}')
}

func (g *gen) array(fields []string) {
	g.b.WriteByte('[')
	for i := range g.r.IntN(3) + 1 {
		if i > 0 {
			g.b.WriteByte(',')
		}
		g.ws()
		g.value(fields)
		g.ws()
	}
	g.b.WriteByte(']')
}

// document returns a document holding the secret once.
func (g *gen) document(fields []string) string {
	for {
		g.b.Reset()
		g.plant = true
		if g.r.IntN(4) == 0 {
			g.array(fields)
		} else {
			g.object(fields)
		}
		if !g.plant {
			return g.b.String()
		}
	}
}

// TestRedactionProperty: for generated documents with the secret under a
// configured key at any depth, nothing the processor emits (line, labels,
// metadata) holds the secret, whole or cut at any byte (a truncated line);
// the line stays valid JSON when the input was.
func TestRedactionProperty(t *testing.T) {
	fields := append([]string{"ssn", "x-private"}, DefaultRedactFields...)
	p := New(Config{JSON: true, RedactPatterns: true, RedactFields: fields,
		LabelFields: map[string]string{"lvl": "level"}, MetadataFields: map[string]string{"who": "user"}})
	st := p.NewState("/x.log")
	g := &gen{r: rand.New(rand.NewPCG(16, 1))}
	for i := range 3000 {
		doc := g.document(fields)
		if !json.Valid([]byte(doc)) {
			t.Fatalf("generator wrote invalid JSON: %s", doc)
		}
		check := func(in string, whole bool) {
			var ev event.Event
			p.Process(st, []byte(in), &ev)
			emitted := ev.Stream.Labels + fmt.Sprint(ev.Metadata)
			if whole || !strings.HasPrefix(in, `{"level"`) {
				emitted += string(ev.Line)
			}
			if strings.Contains(emitted, secret[:4]) {
				t.Fatalf("document %d: secret shipped\n in %s\nout %s", i, in, emitted)
			}
			if whole && !json.Valid(ev.Line) {
				t.Fatalf("document %d: invalid JSON out\n in %s\nout %s", i, in, ev.Line)
			}
		}
		check(doc, true)
		// Cut after the secret's first byte: a line longer than max_line_bytes.
		if at := strings.Index(doc, secret[:1]); at >= 0 {
			check(doc[:at+1+g.r.IntN(len(doc)-at)], false)
		}
		// Secrets inside string values taken into a label and metadata (a
		// JSON line's string values are not scanned, its labels are).
		label := `{"level":` + jsonString("k=v password="+secret) + `,"user":` + jsonString(`{"Token": "`+secret+`"}`) + `}`
		check(label, false)
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// FuzzRedactText: the raw-line path never panics, and a secret written as
// key=value after any line is never shipped.
func FuzzRedactText(f *testing.F) {
	for _, s := range []string{"", "x", `{"password":"a`, `"pass\u0077ord" :`, `a='`, `{"a":[`, "token:", `\`, `"\"`} {
		f.Add([]byte(s))
	}
	r := NewRedactor(true, DefaultRedactFields)
	f.Fuzz(func(t *testing.T, line []byte) {
		r.Text(line)
		if bytes.Contains(line, []byte(secret[:4])) {
			return
		}
		for _, planted := range []string{" password=" + secret, ` "Token" : "` + secret + `"`} {
			in := append(append([]byte(nil), line...), planted...)
			if out, _ := r.Text(in); bytes.Contains(out, []byte(secret)) {
				t.Fatalf("secret shipped: %q -> %q", in, out)
			}
		}
	})
}
