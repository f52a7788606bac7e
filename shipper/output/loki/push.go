package loki

import (
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/outrigger/outrigger/shipper/event"
)

// The push body is logproto.PushRequest, written field by field with
// protowire (the schema is four small messages):
//
//	PushRequest{repeated StreamAdapter streams = 1}
//	StreamAdapter{string labels = 1; repeated EntryAdapter entries = 2}
//	EntryAdapter{google.protobuf.Timestamp timestamp = 1; string line = 2;
//	             repeated LabelPairAdapter structuredMetadata = 3}
//	LabelPairAdapter{string name = 1; string value = 2}

// streamBatch is the entries of one stream in one request, oldest first.
type streamBatch struct {
	stream  *event.Stream
	entries []*event.Event
}

func splitTime(ns int64) (secs int64, nanos int32) {
	secs, rem := ns/1e9, ns%1e9
	if rem < 0 {
		secs--
		rem += 1e9
	}
	return secs, int32(rem)
}

func timestampSize(ns int64) int {
	secs, nanos := splitTime(ns)
	n := 0
	if secs != 0 {
		n += 1 + protowire.SizeVarint(uint64(secs))
	}
	if nanos != 0 {
		n += 1 + protowire.SizeVarint(uint64(nanos))
	}
	return n
}

func labelPairSize(l event.Label) int {
	n := 0
	if l.Name != "" {
		n += 1 + protowire.SizeBytes(len(l.Name))
	}
	if l.Value != "" {
		n += 1 + protowire.SizeBytes(len(l.Value))
	}
	return n
}

func entrySize(e *event.Event) int {
	n := 1 + protowire.SizeBytes(timestampSize(e.TimeNs))
	if len(e.Line) > 0 {
		n += 1 + protowire.SizeBytes(len(e.Line))
	}
	for _, l := range e.Metadata {
		n += 1 + protowire.SizeBytes(labelPairSize(l))
	}
	return n
}

// encoder reuses its scratch space between requests; one per sender.
type encoder struct {
	sizes []int
}

// appendPushRequest appends the encoded PushRequest of streams to dst.
func (enc *encoder) appendPushRequest(dst []byte, streams []*streamBatch) []byte {
	for _, s := range streams {
		enc.sizes = enc.sizes[:0]
		size := 1 + protowire.SizeBytes(len(s.stream.Labels))
		for _, e := range s.entries {
			es := entrySize(e)
			enc.sizes = append(enc.sizes, es)
			size += 1 + protowire.SizeBytes(es)
		}
		dst = protowire.AppendTag(dst, 1, protowire.BytesType)
		dst = protowire.AppendVarint(dst, uint64(size))
		dst = protowire.AppendTag(dst, 1, protowire.BytesType)
		dst = protowire.AppendString(dst, s.stream.Labels)
		for i, e := range s.entries {
			dst = protowire.AppendTag(dst, 2, protowire.BytesType)
			dst = protowire.AppendVarint(dst, uint64(enc.sizes[i]))
			dst = appendEntry(dst, e)
		}
	}
	return dst
}

func appendEntry(dst []byte, e *event.Event) []byte {
	dst = protowire.AppendTag(dst, 1, protowire.BytesType)
	dst = protowire.AppendVarint(dst, uint64(timestampSize(e.TimeNs)))
	secs, nanos := splitTime(e.TimeNs)
	if secs != 0 {
		dst = protowire.AppendTag(dst, 1, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(secs))
	}
	if nanos != 0 {
		dst = protowire.AppendTag(dst, 2, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(nanos))
	}
	if len(e.Line) > 0 {
		dst = protowire.AppendTag(dst, 2, protowire.BytesType)
		dst = protowire.AppendBytes(dst, e.Line)
	}
	for _, l := range e.Metadata {
		dst = protowire.AppendTag(dst, 3, protowire.BytesType)
		dst = protowire.AppendVarint(dst, uint64(labelPairSize(l)))
		if l.Name != "" {
			dst = protowire.AppendTag(dst, 1, protowire.BytesType)
			dst = protowire.AppendString(dst, l.Name)
		}
		if l.Value != "" {
			dst = protowire.AppendTag(dst, 2, protowire.BytesType)
			dst = protowire.AppendString(dst, l.Value)
		}
	}
	return dst
}
