// Package pipeline connects the file inputs, the processors and the
// outputs: each file's reader decodes and processes its lines in order,
// hands the events to every output, and the file's offset is committed to
// the registry only when every output acknowledged them. A byte cap on the
// events in flight pauses the readers, so memory stays bounded when an
// output is down: the files on disk are the buffer.
package pipeline
