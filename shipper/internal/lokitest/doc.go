// Package lokitest is the one in-process Loki receiver every shipper test
// uses. It decodes push requests in Loki's real wire format (snappy block +
// logproto protobuf) and applies Loki's acceptance rules: identical entries
// of a stream are stored once, entries too old, too new or too far behind
// the newest entry of their stream are rejected with a 400 while the rest of
// the request is stored, and tests inject 429, 5xx, 413, blocked-tenant 2xx
// answers and outages.
package lokitest
