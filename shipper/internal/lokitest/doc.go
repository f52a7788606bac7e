// Package lokitest holds the shipper tests' Loki helpers. Real is a real Loki
// (testkit.StartLoki) read back through its query API, and Proxy injects
// faults in front of it (refusals, 429, 5xx, hangs, resets, slow bodies):
// the delivery tests run against those. Server is an in-process receiver for
// what Loki cannot be made to do on cue (a blocked tenant's 2xx, rejections
// of chosen entries, counting without storing for benchmarks). It decodes
// push requests in Loki's wire format (a snappy block, decoded with the
// strict decoder Loki uses, of logproto protobuf), applies Loki's acceptance
// rules (entries too old, too new or too far behind the newest of their
// stream are rejected with a 400 while the rest of the request is stored;
// label syntax as Loki parses it), and, unlike Loki's head chunk, stores
// every duplicate and counts it, so a test that replays what it should not
// fails.
package lokitest
