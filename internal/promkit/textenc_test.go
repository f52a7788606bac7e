package promkit

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"
)

// familyFromBytes builds a family of any type from fuzz input: legacy names
// (as appendText requires), label values and help of arbitrary bytes, values
// from raw float bits (NaN, ±Inf, -0, subnormals), optional timestamps.
func familyFromBytes(data []byte) *dto.MetricFamily {
	next := func() byte {
		if len(data) == 0 {
			return 0
		}
		c := data[0]
		data = data[1:]
		return c
	}
	str := func() string {
		n := int(next() % 12)
		n = min(n, len(data))
		s := string(data[:n])
		data = data[n:]
		return s
	}
	f64 := func() float64 {
		var b [8]byte
		for i := range b {
			b[i] = next()
		}
		switch b[0] % 4 {
		case 0:
			return float64(int8(b[1])) // small integers, 0, ±1
		case 1:
			return math.Float64frombits(binary.LittleEndian.Uint64(b[:]))
		}
		return float64(binary.LittleEndian.Uint32(b[:4])) / 1e3
	}
	types := []dto.MetricType{dto.MetricType_COUNTER, dto.MetricType_GAUGE, dto.MetricType_SUMMARY,
		dto.MetricType_UNTYPED, dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM}
	typ := types[int(next())%len(types)]
	mf := &dto.MetricFamily{Name: proto.String("fuzz_metric_" + string('a'+rune(next()%26))), Type: typ.Enum()}
	if next()%2 == 0 {
		mf.Help = proto.String(str())
	}
	labelNames := []string{"a", "b_c", "le_x", "_d", "z9"}
	for range int(next()%4) + 1 {
		m := &dto.Metric{}
		for _, ln := range labelNames[:int(next())%len(labelNames)] {
			m.Label = append(m.Label, &dto.LabelPair{Name: proto.String(ln), Value: proto.String(str())})
		}
		if next()%3 == 0 {
			m.TimestampMs = proto.Int64(int64(binary.LittleEndian.Uint32([]byte{next(), next(), next(), next()})) - 1<<31)
		}
		switch typ {
		case dto.MetricType_COUNTER:
			m.Counter = &dto.Counter{Value: proto.Float64(f64())}
		case dto.MetricType_GAUGE:
			m.Gauge = &dto.Gauge{Value: proto.Float64(f64())}
		case dto.MetricType_UNTYPED:
			m.Untyped = &dto.Untyped{Value: proto.Float64(f64())}
		case dto.MetricType_SUMMARY:
			s := &dto.Summary{SampleCount: proto.Uint64(uint64(next())), SampleSum: proto.Float64(f64())}
			for range int(next() % 3) {
				s.Quantile = append(s.Quantile, &dto.Quantile{Quantile: proto.Float64(f64()), Value: proto.Float64(f64())})
			}
			m.Summary = s
		default:
			h := &dto.Histogram{SampleSum: proto.Float64(f64())}
			if next()%2 == 0 {
				h.SampleCount = proto.Uint64(uint64(next()))
			} else {
				h.SampleCountFloat = proto.Float64(f64())
			}
			for range int(next() % 4) {
				bk := &dto.Bucket{UpperBound: proto.Float64(f64())}
				if next()%2 == 0 {
					bk.CumulativeCount = proto.Uint64(uint64(next()))
				} else {
					bk.CumulativeCountFloat = proto.Float64(f64())
				}
				h.Bucket = append(h.Bucket, bk)
			}
			m.Histogram = h
		}
		mf.Metric = append(mf.Metric, m)
	}
	return mf
}

func checkAppendText(t *testing.T, mf *dto.MetricFamily) {
	t.Helper()
	var want bytes.Buffer
	_, wantErr := expfmt.MetricFamilyToText(&want, mf)
	got, ok := appendText([]byte("prefix"), mf)
	switch {
	case wantErr != nil && ok:
		t.Fatalf("expfmt refuses %v (%v), appendText wrote\n%s", mf, wantErr, got)
	case wantErr == nil && !ok:
		t.Fatalf("appendText refused what expfmt writes:\n%s", want.Bytes())
	case !ok && string(got) != "prefix":
		t.Fatalf("a refused family left %q behind", got)
	case ok && !bytes.Equal(got[len("prefix"):], want.Bytes()):
		t.Fatalf("appendText wrote\n%s\nexpfmt writes\n%s", got[len("prefix"):], want.Bytes())
	}
}

// FuzzAppendText holds the text encoder to expfmt's, byte for byte.
func FuzzAppendText(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x00\x00\x05help\\\n\x03\x04\x05a\"b\nc\x01\x02\x03\x04\x05\x06\x07\x08"))
	f.Add([]byte("\x02\x01\x00\x02\x03\x05x\\y\"z\x00\x01\x00\x00\x00\x00\x00\xf0\x7f\x02\x01\x02\x03\x04\x05\x06\x07\x08"))
	f.Add([]byte("\x04\x07\x01\x01\x02\x04\x01\x00\x00\x00\x00\x00\xf0\x7f\x00\x01\x03\x01\x00\x00\x00\x00\x00\xf8\x7f\x00\x01"))
	f.Add([]byte("\x05\x03\x00\x00\x03\x02\x01\x01\x00\x00\x00\x00\x00\x00\x80\x05\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkAppendText(t, familyFromBytes(data))
	})
}

// The families expfmt refuses are refused, and leave nothing behind.
func TestAppendTextRefusesWhatExpfmtRefuses(t *testing.T) {
	for _, mf := range []*dto.MetricFamily{
		{Name: proto.String("no_series"), Type: dto.MetricType_GAUGE.Enum()},
		{Name: proto.String(""), Type: dto.MetricType_GAUGE.Enum(), Metric: []*dto.Metric{{Gauge: &dto.Gauge{Value: proto.Float64(1)}}}},
		{Name: proto.String("wrong_value"), Type: dto.MetricType_COUNTER.Enum(), Metric: []*dto.Metric{{Gauge: &dto.Gauge{Value: proto.Float64(1)}}}},
		{Name: proto.String("no_histogram"), Type: dto.MetricType_HISTOGRAM.Enum(), Metric: []*dto.Metric{{Counter: &dto.Counter{Value: proto.Float64(1)}}}},
		{Name: proto.String("bad_type"), Type: dto.MetricType(42).Enum(), Metric: []*dto.Metric{{Gauge: &dto.Gauge{Value: proto.Float64(1)}}}},
	} {
		checkAppendText(t, mf)
	}
}

// BenchmarkAppendText compares the text encoder with expfmt's on a
// realistic exposition.
func BenchmarkAppendText(b *testing.B) {
	h := &ScrapeHandler{}
	e := newExposition()
	metrics := benchMetrics(500)
	e.addMetrics(metrics, &h.descs, make([]dto.Metric, len(metrics)))
	fams, _ := e.families()
	b.Run("appendText", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			buf = buf[:0]
			for _, mf := range fams {
				buf, _ = appendText(buf, mf)
			}
		}
	})
	b.Run("expfmt", func(b *testing.B) {
		var buf bytes.Buffer
		for b.Loop() {
			buf.Reset()
			for _, mf := range fams {
				_, _ = expfmt.MetricFamilyToText(&buf, mf)
			}
		}
	})
}
