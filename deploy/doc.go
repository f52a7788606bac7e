// Package deploy holds no code: its tests check what users deploy, the
// compose files, Kubernetes manifests, Prometheus rules and Grafana
// dashboards, against the real parsers, types and daemons.
package deploy
