// Package config turns what main read from flags and the environment into a
// ValidatedConfig, the only configuration the exporter accepts: the database
// URL (in the proxy's own Prisma form), refresh cadence, the time zone of
// "today" and "this month", and the clock.
package config
