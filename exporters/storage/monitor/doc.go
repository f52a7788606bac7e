// Package monitor walks every configured directory tree in the background,
// on its interval and within its time budget, with a bound on the walks
// running at once, and checks each tree's filesystem (statfs) with a timeout.
// Scrapes only read the last results it keeps in memory, so a slow walk or a
// stuck mount never holds up a scrape.
package monitor
