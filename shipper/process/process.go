package process

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/outrigger/outrigger/shipper/decode"
	"github.com/outrigger/outrigger/shipper/event"
)

// Condition drops a line when its field matches (all set parts must hold).
type Condition struct {
	Field    string
	Equals   *string
	Contains string
	Regexp   *regexp.Regexp
	Missing  bool
}

// Rename renames a top-level field.
type Rename struct{ From, To string }

// Config is a validated processing configuration.
type Config struct {
	// JSON decodes lines as ndjson; otherwise lines are shipped as they are.
	JSON bool
	// Target puts the decoded document under this key ("" = at the root).
	Target string
	// AddErrorKey adds error.message / error.type to lines that are not
	// JSON objects (they are then shipped as {"message": line, "error": ...}).
	AddErrorKey bool
	// MessageKey is the key holding the message of a JSON line: a line that
	// is not JSON is put under it when AddErrorKey is set.
	MessageKey string
	// OverwriteKeys lets static fields replace keys the line already has.
	OverwriteKeys bool

	TimestampField string
	TimeFormats    []decode.TimeFormat

	StaticLabels   map[string]string
	FilenameLabel  string
	LabelFields    map[string]string // label name -> field
	MaxLabelValues int
	MetadataFields map[string]string // metadata name -> field

	StaticFields map[string]string
	// RawFields are static fields with any JSON value (Filebeat's fields,
	// tags), added like StaticFields.
	RawFields  map[string]json.RawMessage
	DropFields []string
	Renames    []Rename
	DropWhen   []Condition
	// Drop are boolean conditions (Filebeat's drop_event when): a line
	// matching any of them is dropped.
	Drop []Expr
	// ExtraTimestampFields are tried in order when TimestampField is absent.
	ExtraTimestampFields []string
	// WrapRaw ships a line that is not decoded as JSON (format raw) as
	// {"<MessageKey>": line} plus the static fields, as Filebeat does.
	WrapRaw bool

	RedactPatterns bool
	RedactFields   []string

	Metrics *Metrics
	// Now is the clock for the read-time fallback (time.Now when nil).
	Now func() time.Time
}

// Processor applies a Config; it is shared by every file, each with its own State.
type Processor struct {
	cfg        Config
	redact     *Redactor
	statics    []decode.Member
	dropKeys   map[string]bool
	labelNames []string // dynamic label names, sorted

	mu     sync.Mutex
	values map[string]map[string]bool // per dynamic label: values admitted
}

// New returns a Processor.
func New(cfg Config) *Processor {
	if cfg.MaxLabelValues == 0 {
		cfg.MaxLabelValues = 50
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if len(cfg.TimeFormats) == 0 {
		cfg.TimeFormats = []decode.TimeFormat{decode.FormatAuto}
	}
	p := &Processor{cfg: cfg, redact: NewRedactor(cfg.RedactPatterns, cfg.RedactFields),
		dropKeys: map[string]bool{}, values: map[string]map[string]bool{}}
	keys := make([]string, 0, len(cfg.StaticFields))
	for k := range cfg.StaticFields {
		keys = append(keys, k)
	}
	for k := range cfg.RawFields {
		if _, dup := cfg.StaticFields[k]; !dup {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, raw := cfg.RawFields[k]
		if !raw {
			v = decode.AppendString(nil, cfg.StaticFields[k])
		}
		p.statics = append(p.statics, decode.Member{Key: []byte(jsonEscape(k)), Value: v})
	}
	for _, k := range cfg.DropFields {
		p.dropKeys[k] = true
	}
	for name := range cfg.LabelFields {
		p.labelNames = append(p.labelNames, name)
		p.values[name] = map[string]bool{}
	}
	sort.Strings(p.labelNames)
	return p
}

func jsonEscape(s string) string {
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// State is one file's processing state.
type State struct {
	static  []event.Label // static labels + filename
	streams map[string]*event.Stream
	members []decode.Member
	plain   bool // the line has no backslash and no control byte
	key     []byte
	vals    []string
	scratch []byte
}

// NewState returns the state for the file whose stream is named by path.
// extra labels (a container's name, service...) join the static labels.
func (p *Processor) NewState(path string, extra ...event.Label) *State {
	st := &State{streams: map[string]*event.Stream{}, static: append([]event.Label(nil), extra...)}
	for k, v := range p.cfg.StaticLabels {
		st.static = append(st.static, event.Label{Name: k, Value: v})
	}
	if p.cfg.FilenameLabel != "" {
		st.static = append(st.static, event.Label{Name: p.cfg.FilenameLabel, Value: strings.ToValidUTF8(path, "\uFFFD")})
	}
	return st
}

// Result says what became of a line.
type Result int

const (
	// Keep: ship the event.
	Keep Result = iota
	// Drop: a drop condition matched.
	Drop
)

// Process fills ev from line (Line, TimeNs, Stream, Metadata). line must
// stay valid as long as ev is used, unless the processor rewrote it.
func (p *Processor) Process(st *State, line []byte, ev *event.Event) Result {
	return p.ProcessAt(st, line, 0, ev)
}

// ProcessAt is Process with a fallback time for a line without a timestamp
// (a container runtime's own stamp: reproducible, unlike the read time);
// 0 means the read time. Its steps run in order on the hot path and
// allocate nothing of their own.
func (p *Processor) ProcessAt(st *State, line []byte, given int64, ev *event.Event) Result {
	members, isJSON := p.decode(st, line)
	fallback := p.stamp(members, isJSON, given, ev)
	if p.dropped(members, isJSON, line) {
		return Drop
	}
	p.label(st, members, fallback, ev)
	out, redactions := p.render(st, line, members, isJSON, ev)
	out, k := p.redact.Patterns(out)
	p.countRedactions(redactions + k)
	ev.Line = out
	return Keep
}

// decode parses line as a JSON object when the input is JSON; the members
// are kept in st for reuse. A line that is not one is counted.
func (p *Processor) decode(st *State, line []byte) ([]decode.Member, bool) {
	members := st.members[:0]
	isJSON := false
	if p.cfg.JSON {
		var err error
		members, st.plain, err = decode.ParseObjectPlain(line, members)
		isJSON = err == nil
		if !isJSON {
			members = members[:0]
			if m := p.cfg.Metrics; m != nil {
				m.DecodeErrors.Inc()
			}
		}
	}
	st.members = members
	return members, isJSON
}

// stamp sets ev.TimeNs from the timestamp field (or the extra ones, in
// order), else the given time, else the read time; it reports the last
// case, counted.
func (p *Processor) stamp(members []decode.Member, isJSON bool, given int64, ev *event.Event) (fallback bool) {
	ev.TimeNs = 0
	if isJSON && p.cfg.TimestampField != "" {
		ev.TimeNs = p.fieldTime(members, p.cfg.TimestampField)
		for _, f := range p.cfg.ExtraTimestampFields {
			if ev.TimeNs != 0 {
				break
			}
			ev.TimeNs = p.fieldTime(members, f)
		}
	}
	if ev.TimeNs == 0 && given != 0 {
		ev.TimeNs = given
	}
	if ev.TimeNs != 0 {
		return false
	}
	ev.TimeNs = p.cfg.Now().UnixNano()
	if m := p.cfg.Metrics; m != nil {
		m.TimeFallback.Inc()
	}
	return true
}

// fieldTime is the time in field, 0 when absent or not a time.
func (p *Processor) fieldTime(members []decode.Member, field string) int64 {
	if v := decode.Find(members, field); v != nil {
		if ns, ok := decode.ParseTime(v, p.cfg.TimeFormats); ok {
			return ns
		}
	}
	return 0
}

// dropped says whether a drop condition matches.
func (p *Processor) dropped(members []decode.Member, isJSON bool, line []byte) bool {
	for i := range p.cfg.DropWhen {
		if p.matches(&p.cfg.DropWhen[i], members, isJSON, line) {
			return true
		}
	}
	for i := range p.cfg.Drop {
		if p.eval(&p.cfg.Drop[i], members, isJSON, line) {
			return true
		}
	}
	return false
}

// label sets the event's stream and its metadata (sorted by name, the
// read-time flag last).
func (p *Processor) label(st *State, members []decode.Member, fallback bool, ev *event.Event) {
	ev.Stream = p.stream(st, members)
	ev.Metadata = ev.Metadata[:0]
	for name, field := range p.cfg.MetadataFields {
		if v := decode.Find(members, field); v != nil {
			if s, ok := decode.StringValue(v); ok && s != "" {
				ev.Metadata = append(ev.Metadata, event.Label{Name: name, Value: p.redactString(s)})
			}
		}
	}
	if len(ev.Metadata) > 1 {
		sort.Slice(ev.Metadata, func(i, j int) bool { return ev.Metadata[i].Name < ev.Metadata[j].Name })
	}
	if fallback {
		ev.Metadata = append(ev.Metadata, event.Label{Name: "timestamp_fallback", Value: "read_time"})
	}
}

// render makes the line to ship and sets ev.Doc: the JSON object edited,
// a line that is not one wrapped (error key, format raw) or as it is, with
// secrets under known keys redacted. It returns the redactions made.
func (p *Processor) render(st *State, line []byte, members []decode.Member, isJSON bool, ev *event.Event) ([]byte, int) {
	ev.Doc = 0
	switch {
	case isJSON:
		out, redactions, final := p.edit(st, line, members)
		ev.Doc = docFlags(final)
		return out, redactions
	case p.cfg.JSON && p.cfg.AddErrorKey:
		return p.wrap(line, errorValue(line), ev)
	case p.cfg.WrapRaw:
		return p.wrap(line, nil, ev)
	case p.redact.Fields():
		// Not a JSON object and shipped as it is: the key scan here, the
		// patterns after.
		return p.redact.Text(line)
	}
	return line, 0
}

// wrap ships a line that is not a JSON object as {"<message key>": line}
// (with an "error" member when errValue is set) plus the static fields.
func (p *Processor) wrap(line, errValue []byte, ev *event.Event) ([]byte, int) {
	key := p.cfg.MessageKey
	if key == "" {
		key = "message"
	}
	text, redactions := p.redact.Text(line)
	doc := []decode.Member{{Key: []byte(jsonEscape(key)), Value: decode.AppendString(nil, string(text))}}
	if errValue != nil {
		doc = append(doc, decode.Member{Key: []byte("error"), Value: errValue})
	}
	doc = append(doc, p.statics...)
	ev.Doc = docFlags(doc)
	return AppendObject(nil, doc), redactions
}

// countRedactions counts the secrets replaced in a line.
func (p *Processor) countRedactions(n int) {
	if m := p.cfg.Metrics; n > 0 && m != nil {
		m.Redactions.Add(float64(n))
	}
}

// docFlags are the event.Doc flags of an object with these members.
func docFlags(members []decode.Member) uint16 {
	f := event.DocObject
	if len(members) == 0 {
		f |= event.DocEmpty
	}
	for _, m := range members {
		f |= event.KeyFlag(m.Key)
	}
	return f
}

// errorValue is the error object Filebeat adds to a line that is not a JSON
// object, with the same message (the rare bad line pays for encoding/json).
func errorValue(line []byte) []byte {
	var m map[string]json.RawMessage
	msg := "line is not a JSON object"
	if err := json.Unmarshal(line, &m); err != nil {
		msg = err.Error()
	}
	v, _ := json.Marshal(map[string]string{"message": "Error decoding JSON: " + msg, "type": "json"})
	return v
}

// edit applies field edits and key redaction; it returns line itself when
// nothing changed.
func (p *Processor) edit(st *State, line []byte, members []decode.Member) ([]byte, int, []decode.Member) {
	changed := false
	redactions := 0
	if p.redact.Fields() && p.mayHaveField(st.plain, line, members) {
		for i, mb := range members {
			if p.redact.IsRawKey(mb.Key) {
				members[i].Value = redactedValue
				redactions++
				continue
			}
			if v, k := p.redact.RedactValue(mb.Value); k > 0 {
				members[i].Value = v
				redactions += k
			}
		}
		changed = redactions > 0
	}
	if len(p.dropKeys) > 0 || len(p.cfg.Renames) > 0 {
		kept := members[:0]
		var renamed map[string]int // new key -> index in kept of the member renamed onto it
		for _, mb := range members {
			key := mb.KeyString()
			if p.dropKeys[key] {
				changed = true
				continue
			}
			for _, r := range p.cfg.Renames {
				if key == r.From {
					mb.Key = []byte(jsonEscape(r.To))
					changed = true
					if renamed == nil {
						renamed = map[string]int{}
					}
					renamed[r.To] = len(kept)
					if p.redact.IsField(r.To) && string(mb.Value) != string(redactedValue) {
						mb.Value = redactedValue
						redactions++
					}
				}
			}
			kept = append(kept, mb)
		}
		members = kept
		if renamed != nil {
			members = dropShadowed(members, renamed)
		}
	}
	if len(p.statics) > 0 {
		for _, s := range p.statics {
			if i := indexOf(members, string(s.Key)); i >= 0 {
				if p.cfg.OverwriteKeys && p.cfg.Target == "" {
					members[i].Value = s.Value
					changed = true
				}
				continue
			}
			if p.cfg.Target == "" {
				members = append(members, s)
				changed = true
			}
		}
	}
	if p.cfg.Target != "" {
		inner := AppendObject(st.scratch[:0], members)
		doc := []decode.Member{{Key: []byte(jsonEscape(p.cfg.Target)), Value: inner}}
		doc = append(doc, p.statics...)
		return AppendObject(nil, doc), redactions, doc
	}
	if !changed {
		return line, redactions, members
	}
	return AppendObject(nil, members), redactions, members
}

// mayHaveField: a top-level key is a redacted field, or a nested value may
// hold one.
func (p *Processor) mayHaveField(plain bool, line []byte, members []decode.Member) bool {
	// A line with a backslash may escape a key: walk it. Without one (the
	// parser's plain flag says so, or one look at the line) each key is
	// compared as it is written.
	if !plain && bytes.IndexByte(line, '\\') >= 0 {
		return true
	}
	for _, m := range members {
		if p.redact.IsFieldBytes(m.Key) {
			return true
		}
		if len(m.Value) > 0 && (m.Value[0] == '{' || m.Value[0] == '[') && p.redact.MayHaveField(m.Value) {
			return true
		}
	}
	return false
}

// dropShadowed removes the members that a rename landed on: the renamed
// value wins, so the object never holds a key twice (Elasticsearch rejects
// such a document).
func dropShadowed(members []decode.Member, renamed map[string]int) []decode.Member {
	out := members[:0]
	for i, mb := range members {
		if w, ok := renamed[mb.KeyString()]; ok && w != i {
			continue
		}
		out = append(out, mb)
	}
	return out
}

func indexOf(members []decode.Member, key string) int {
	for i, m := range members {
		if m.KeyIs(key) {
			return i
		}
	}
	return -1
}

// AppendObject appends the JSON object made of members to dst.
func AppendObject(dst []byte, members []decode.Member) []byte {
	dst = append(dst, '{')
	for i, m := range members {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = append(dst, m.Key...)
		dst = append(dst, '"', ':')
		dst = append(dst, m.Value...)
	}
	return append(dst, '}')
}

func (p *Processor) matches(c *Condition, members []decode.Member, isJSON bool, line []byte) bool {
	var v []byte
	if c.Field == "" || (c.Field == "line" || c.Field == "message") && !isJSON {
		v = decode.AppendString(nil, string(line))
	} else {
		v = decode.Find(members, c.Field)
	}
	if c.Missing {
		return v == nil
	}
	if v == nil {
		return false
	}
	s, ok := decode.StringValue(v)
	if !ok {
		s = string(v)
	}
	if c.Equals != nil && s != *c.Equals {
		return false
	}
	if c.Contains != "" && !strings.Contains(s, c.Contains) {
		return false
	}
	if c.Regexp != nil && !c.Regexp.MatchString(s) {
		return false
	}
	return true
}

// stream returns the interned stream of a line: static labels plus the
// bounded values of the label fields.
func (p *Processor) stream(st *State, members []decode.Member) *event.Stream {
	st.key = st.key[:0]
	st.vals = st.vals[:0]
	for _, name := range p.labelNames {
		val := ""
		if v := decode.Find(members, p.cfg.LabelFields[name]); v != nil {
			val, _ = decode.StringValue(v)
		}
		st.vals = append(st.vals, val)
		st.key = append(st.key, val...)
		st.key = append(st.key, 0xff)
	}
	if s, ok := st.streams[string(st.key)]; ok {
		return s
	}
	labels := append([]event.Label(nil), st.static...)
	for i, name := range p.labelNames {
		if v := p.bound(name, p.redactString(st.vals[i])); v != "" {
			labels = append(labels, event.Label{Name: name, Value: v})
		}
	}
	s := NewStream(labels)
	if len(st.streams) < 10000 {
		st.streams[string(st.key)] = s
	}
	return s
}

// bound admits a label value up to MaxLabelValues distinct values per label;
// later ones become "other", so a label never explodes Loki's streams.
func (p *Processor) bound(name, v string) string {
	if v == "" {
		return ""
	}
	if len(v) > 128 {
		return "other"
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	vals := p.values[name]
	if vals[v] {
		return v
	}
	if len(vals) >= p.cfg.MaxLabelValues {
		return "other"
	}
	vals[v] = true
	return v
}

// NewStream renders labels (sorted by name) as a Loki selector.
func NewStream(labels []event.Label) *event.Stream {
	sort.Slice(labels, func(i, j int) bool { return labels[i].Name < labels[j].Name })
	var b strings.Builder
	b.WriteByte('{')
	for i, l := range labels {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(l.Name)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(l.Value))
	}
	b.WriteByte('}')
	h := fnv.New64a()
	h.Write([]byte(b.String()))
	return &event.Stream{Labels: b.String(), Hash: h.Sum64(), Pairs: labels}
}

// ValidLabelName reports whether s is a valid Prometheus/Loki label name.
func ValidLabelName(s string) error {
	if s == "" {
		return fmt.Errorf("label name is empty")
	}
	for i, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return fmt.Errorf("label name %q: only letters, digits and _ (not first) are allowed", s)
		}
	}
	return nil
}

// redactString redacts a label or metadata value taken from a field: the
// key scan (a value holding "password=...") and the patterns.
func (p *Processor) redactString(s string) string {
	if !p.redact.MayHold(s) {
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	if out, n := p.redact.Text([]byte(s)); n > 0 {
		return strings.ToValidUTF8(string(out), "\uFFFD")
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
