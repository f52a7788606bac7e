// Package proxyapi reads the LiteLLM proxy's management API (keys, teams,
// users, organizations, budgets and the daily-activity reports) with the
// master key, for the exporter's HTTP mode: users who cannot reach the
// proxy's database.
package proxyapi
