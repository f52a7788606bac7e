package lokitest

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// Label is a structured metadata pair.
type Label struct {
	Name  string
	Value string
}

// Entry is one log entry as Loki received it.
type Entry struct {
	TimeNs   int64
	Line     string
	Metadata []Label
}

// Stream is one StreamAdapter of a push request.
type Stream struct {
	Labels  string
	Entries []Entry
}

// DecodePushRequest decodes a logproto.PushRequest. Unknown fields are
// skipped, as protobuf decoders do.
func DecodePushRequest(b []byte) ([]Stream, error) {
	var out []Stream
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if num != 1 || typ != protowire.BytesType {
			return nil
		}
		s, err := decodeStream(v)
		if err != nil {
			return fmt.Errorf("decoding stream %d: %w", len(out), err)
		}
		out = append(out, s)
		return nil
	})
	return out, err
}

func decodeStream(b []byte) (Stream, error) {
	var s Stream
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			s.Labels = string(v)
		case num == 2 && typ == protowire.BytesType:
			e, err := decodeEntry(v)
			if err != nil {
				return fmt.Errorf("decoding entry %d: %w", len(s.Entries), err)
			}
			s.Entries = append(s.Entries, e)
		}
		return nil
	})
	return s, err
}

func decodeEntry(b []byte) (Entry, error) {
	var e Entry
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			var secs, nanos int64
			err := eachField(v, func(num protowire.Number, typ protowire.Type, _ []byte, x uint64) error {
				switch {
				case num == 1 && typ == protowire.VarintType:
					secs = int64(x)
				case num == 2 && typ == protowire.VarintType:
					nanos = int64(int32(x))
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("decoding timestamp: %w", err)
			}
			if nanos < 0 || nanos >= 1e9 {
				return fmt.Errorf("timestamp nanos %d out of range", nanos)
			}
			e.TimeNs = secs*1e9 + nanos
		case num == 2 && typ == protowire.BytesType:
			e.Line = string(v)
		case num == 3 && typ == protowire.BytesType:
			var l Label
			err := eachField(v, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
				switch {
				case num == 1 && typ == protowire.BytesType:
					l.Name = string(v)
				case num == 2 && typ == protowire.BytesType:
					l.Value = string(v)
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("decoding structured metadata: %w", err)
			}
			e.Metadata = append(e.Metadata, l)
		}
		return nil
	})
	return e, err
}

// eachField calls fn for every field of a message: v is the payload of
// length-delimited fields, x the value of varint and fixed fields.
func eachField(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("reading tag: %w", protowire.ParseError(n))
		}
		b = b[n:]
		var v []byte
		var x uint64
		switch typ {
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var x32 uint32
			x32, n = protowire.ConsumeFixed32(b)
			x = uint64(x32)
		case protowire.Fixed64Type:
			x, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return fmt.Errorf("reading field %d: %w", num, protowire.ParseError(n))
		}
		b = b[n:]
		if err := fn(num, typ, v, x); err != nil {
			return err
		}
	}
	return nil
}
