// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/multinic-agent/multinic-agent/internal/harness"
)

// newNamespace is a throwaway namespace standing in for a node, deleted
// when the harness exits.
func newNamespace(name string) (*harness.Netns, error) {
	n, err := harness.NewNetns(name)
	if err != nil {
		return nil, err
	}
	atExit(func() { n.Delete() })
	return n, nil
}

// get fetches http://127.0.0.1:port/path inside the namespace.
func get(n *harness.Netns, port int, path string) (string, error) {
	resp, err := n.HTTPClient().Get("http://127.0.0.1:" + strconv.Itoa(port) + path)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// metric returns the value of an unlabelled metric from /metrics.
func metric(n *harness.Netns, port int, name string) (float64, error) {
	body, err := get(n, port, "/metrics")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("no metric %s", name)
}
