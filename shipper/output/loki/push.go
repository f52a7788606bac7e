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

// The tags of the fields written, as their one-byte varints.
const (
	tag1Bytes  = byte(1<<3 | protowire.BytesType)
	tag2Bytes  = byte(2<<3 | protowire.BytesType)
	tag3Bytes  = byte(3<<3 | protowire.BytesType)
	tag1Varint = byte(1<<3 | protowire.VarintType)
	tag2Varint = byte(2<<3 | protowire.VarintType)
)

// appendVarint is protowire.AppendVarint with the sizes of a push request
// (lengths, seconds and nanoseconds: one to five bytes) unrolled.
func appendVarint(dst []byte, v uint64) []byte {
	switch {
	case v < 1<<7:
		return append(dst, byte(v))
	case v < 1<<14:
		return append(dst, byte(v)|0x80, byte(v>>7))
	case v < 1<<21:
		return append(dst, byte(v)|0x80, byte(v>>7)|0x80, byte(v>>14))
	case v < 1<<28:
		return append(dst, byte(v)|0x80, byte(v>>7)|0x80, byte(v>>14)|0x80, byte(v>>21))
	case v < 1<<35:
		return append(dst, byte(v)|0x80, byte(v>>7)|0x80, byte(v>>14)|0x80, byte(v>>21)|0x80, byte(v>>28))
	}
	return protowire.AppendVarint(dst, v)
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
		dst = append(dst, tag1Bytes)
		dst = appendVarint(dst, uint64(size))
		dst = append(dst, tag1Bytes)
		dst = protowire.AppendString(dst, s.stream.Labels)
		for i, e := range s.entries {
			dst = append(dst, tag2Bytes)
			dst = appendVarint(dst, uint64(enc.sizes[i]))
			dst = appendEntry(dst, e)
		}
	}
	return dst
}

func appendEntry(dst []byte, e *event.Event) []byte {
	dst = append(dst, tag1Bytes)
	dst = appendVarint(dst, uint64(timestampSize(e.TimeNs)))
	secs, nanos := splitTime(e.TimeNs)
	if secs != 0 {
		dst = append(dst, tag1Varint)
		dst = appendVarint(dst, uint64(secs))
	}
	if nanos != 0 {
		dst = append(dst, tag2Varint)
		dst = appendVarint(dst, uint64(nanos))
	}
	if len(e.Line) > 0 {
		dst = append(dst, tag2Bytes)
		dst = appendVarint(dst, uint64(len(e.Line)))
		dst = append(dst, e.Line...)
	}
	for _, l := range e.Metadata {
		dst = append(dst, tag3Bytes)
		dst = appendVarint(dst, uint64(labelPairSize(l)))
		if l.Name != "" {
			dst = append(dst, tag1Bytes)
			dst = protowire.AppendString(dst, l.Name)
		}
		if l.Value != "" {
			dst = append(dst, tag2Bytes)
			dst = protowire.AppendString(dst, l.Value)
		}
	}
	return dst
}
