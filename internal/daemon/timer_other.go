// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

//go:build !linux

package daemon

import "time"

func newPollTimer(d time.Duration) pollTimer { return goTimer{time.NewTimer(d)} }
