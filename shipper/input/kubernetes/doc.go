// Package kubernetes names the streams of a node's container logs:
// namespace, pod and container from the log file's path (always), and the
// pod's labels and annotations from the Kubernetes API when it answers
// (this node's pods only: one list, then one watch, into a bounded cache).
// The API being slow or down never stops shipping.
package kubernetes
