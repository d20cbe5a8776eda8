// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

// Package deployments holds no code. Its tests check what this directory
// ships to operators: the systemd unit (systemd-analyze verify and security),
// the config.env template against the agent's keys, scripts/install-daemon.sh
// and scripts/uninstall-daemon.sh run into a DESTDIR, the .deb and .rpm
// packages built by `make packages`, and the Kubernetes DaemonSet.
package deployments
