package promkit

import (
	"bufio"
	"compress/gzip"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// encode writes families in the format the request's Accept header asks for
// (Prometheus text, OpenMetrics or protobuf, as promhttp negotiates them),
// gzip-compressed when Accept-Encoding prefers gzip. Families not named by a
// name[] query parameter are left out when there is one, as promhttp does.
// escape[i] tells whether a name in fams[i] may need escaping.
func (h *ScrapeHandler) encode(w http.ResponseWriter, r *http.Request, fams []*dto.MetricFamily, escape []bool) {
	// Text or protobuf only, as promhttp offers by default: under OpenMetrics
	// the incumbents' counters without _total would change name or type,
	// and the dashboards and alerts written for them would break.
	format := expfmt.NegotiateAccept(r.Header, expfmt.DefaultAcceptedFormats()...)
	hdr := w.Header()
	hdr.Add("Vary", "Accept")
	hdr.Add("Vary", "Accept-Encoding")
	hdr.Set("Content-Type", string(format))

	var dst io.Writer = w
	if acceptsGzip(r.Header.Values("Accept-Encoding")) {
		hdr.Set("Content-Encoding", "gzip")
		gz := h.gzipWriter(w)
		defer h.releaseGzip(gz)
		dst = gz
	}
	// One large buffer in front: expfmt flushes a buffer of its own after
	// every family otherwise, and the response goes out in few large writes.
	out := h.bufWriter(dst)
	defer h.releaseBuf(out)

	var only map[string]bool
	if r.URL != nil {
		if names := r.URL.Query()["name[]"]; len(names) > 0 {
			only = make(map[string]bool, len(names))
			for _, n := range names {
				only[n] = true
			}
		}
	}
	enc := expfmt.NewEncoder(out, format)
	direct := directEncoder(format)
	text := format.FormatType() == expfmt.TypeTextPlain
	var scratch *[]byte
	if text {
		scratch = h.scratch()
		defer h.scratchPool.Put(scratch)
	}
	for i, mf := range fams {
		if only != nil && !only[mf.GetName()] {
			continue
		}
		var err error
		switch {
		case text && !escape[i]:
			var ok bool
			if *scratch, ok = appendText((*scratch)[:0], mf); ok {
				_, err = out.Write(*scratch)
			} else {
				err = enc.Encode(mf) // expfmt says what is wrong
			}
		case direct != nil && !escape[i]:
			_, err = direct(out, mf)
		default:
			err = enc.Encode(mf)
		}
		if err != nil {
			h.debug("writing the exposition", err)
			return
		}
	}
	if c, ok := enc.(expfmt.Closer); ok {
		// OpenMetrics ends with "# EOF".
		if err := c.Close(); err != nil {
			h.debug("writing the exposition", err)
			return
		}
	}
	if err := out.Flush(); err != nil {
		h.debug("writing the exposition", err)
	}
}

const encodeBufferSize = 32 << 10

// scratch returns a buffer for one family's text; one of a huge family is
// not kept.
func (h *ScrapeHandler) scratch() *[]byte {
	if b, ok := h.scratchPool.Get().(*[]byte); ok {
		if cap(*b) <= 4*encodeBufferSize {
			return b
		}
	}
	b := make([]byte, 0, encodeBufferSize)
	return &b
}

func (h *ScrapeHandler) bufWriter(w io.Writer) *bufio.Writer {
	if b, ok := h.bufPool.Get().(*bufio.Writer); ok {
		b.Reset(w)
		return b
	}
	return bufio.NewWriterSize(w, encodeBufferSize)
}

func (h *ScrapeHandler) releaseBuf(b *bufio.Writer) {
	b.Reset(io.Discard) // let go of the response
	h.bufPool.Put(b)
}

// directEncoder returns the text or OpenMetrics 1.0 writer that
// expfmt.Encoder calls after model.EscapeMetricFamily, for families whose names
// need no escaping: escaping copies every family's series slice even when it
// changes nothing.
func directEncoder(format expfmt.Format) func(io.Writer, *dto.MetricFamily) (int, error) {
	switch format.FormatType() {
	case expfmt.TypeTextPlain:
		return expfmt.MetricFamilyToText
	case expfmt.TypeOpenMetrics:
		if _, params, err := mime.ParseMediaType(string(format)); err == nil && params["version"] != expfmt.OpenMetricsVersion_2_0_0 {
			return func(w io.Writer, mf *dto.MetricFamily) (int, error) { return expfmt.MetricFamilyToOpenMetrics(w, mf) }
		}
	}
	return nil
}

// needsEscaping tells whether any name in mf is outside the legacy character
// set, which is when escaping can change it. Label names repeat from series
// to series; a name equal to the previous series' at the same place is not
// checked again.
func needsEscaping(mf *dto.MetricFamily) bool {
	if !model.LegacyValidation.IsValidMetricName(mf.GetName()) {
		return true
	}
	var checked []string
	for _, m := range mf.Metric {
		for i, lp := range m.Label {
			name := lp.GetName()
			if i < len(checked) && checked[i] == name {
				continue
			}
			if name == model.MetricNameLabel || !model.LegacyValidation.IsValidMetricName(name) {
				return true
			}
			if i < len(checked) {
				checked[i] = name
			} else {
				checked = append(checked, name)
			}
		}
	}
	return false
}

func (h *ScrapeHandler) gzipWriter(w io.Writer) *gzip.Writer {
	if gz, ok := h.gzipPool.Get().(*gzip.Writer); ok {
		gz.Reset(w)
		return gz
	}
	gz, _ := gzip.NewWriterLevel(w, gzip.BestSpeed) // the level is valid: no error
	return gz
}

func (h *ScrapeHandler) releaseGzip(gz *gzip.Writer) {
	if err := gz.Close(); err != nil {
		h.debug("closing the gzip stream", err)
	}
	gz.Reset(io.Discard) // let go of the response
	h.gzipPool.Put(gz)
}

func (h *ScrapeHandler) debug(msg string, err error) {
	if h.Logger != nil {
		h.Logger.Debug(msg, "err", err)
	}
}

// acceptsGzip tells whether gzip wins the Accept-Encoding negotiation between
// identity and gzip as promhttp runs it: the highest q wins, identity on a
// tie, an absent header means identity, and "*" counts for both.
func acceptsGzip(values []string) bool {
	bestQ, gzipWins := -1.0, false
	for _, offer := range []string{"identity", "gzip"} {
		for _, v := range values {
			for _, part := range strings.Split(v, ",") {
				coding, q, ok := parseCoding(part)
				if ok && q > bestQ && (coding == "*" || strings.EqualFold(coding, offer)) {
					bestQ, gzipWins = q, offer == "gzip"
				}
			}
		}
	}
	return gzipWins && bestQ > 0
}

// parseCoding reads one element of Accept-Encoding: `coding[;q=0.5]`.
func parseCoding(s string) (coding string, q float64, ok bool) {
	coding, params, _ := strings.Cut(s, ";")
	coding = strings.TrimSpace(coding)
	if coding == "" {
		return "", 0, false
	}
	q = 1
	for p := range strings.SplitSeq(params, ";") {
		k, v, found := strings.Cut(strings.TrimSpace(p), "=")
		if !found || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || !(f >= 0 && f <= 1) {
			return "", 0, false
		}
		q = f
	}
	return coding, q, true
}
