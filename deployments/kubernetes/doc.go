// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

// Package kubernetes holds no code. It is a Go module of its own so that the
// Kubernetes API types its test decodes the DaemonSet with (k8s.io/api,
// k8s.io/apimachinery, k8s.io/pod-security-admission) stay out of the
// agent's module; scripts/test.sh runs the test.
package kubernetes
