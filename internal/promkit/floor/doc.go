// Package floor holds do-nothing daemons that bench/floor/rows.sh
// builds to measure the resident memory any exporter starts from: net/http
// alone, plus client_golang with the Go and process collectors, plus the
// kingpin flags and exporter-toolkit server (TLS, basic auth) that Outrigger's
// daemons are required to use, and promkit's own server with no collectors.
// They serve their own metrics and nothing else.
package floor
