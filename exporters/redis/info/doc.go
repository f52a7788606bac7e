// Package info parses the text Redis answers to INFO (any section, or ALL):
// plain fields, and the structured sections commandstats, errorstats,
// latencystats, keyspace and the replica lines of replication. It is a pure
// function of its input, so it is fuzzed.
package info
