//go:build tools

// Package tools only anchors the module; the binaries are built with
// `go build k8s.io/kubernetes/cmd/kube-apiserver` and `.../cmd/kubectl`.
package tools
