//go:build race

package exporter

// raceEnabled: timings under the race detector say nothing about production.
const raceEnabled = true
