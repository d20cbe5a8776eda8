// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package vmtest

import "testing"

// TestCacheKeyFollowsThePackageList: the cached root file system is reused
// for the same list in any order, and rebuilt when a package is added.
func TestCacheKeyFollowsThePackageList(t *testing.T) {
	base := CacheKey(Suite, Variant, Packages)
	reversed := make([]string, len(Packages))
	for k, p := range Packages {
		reversed[len(Packages)-1-k] = p
	}
	if got := CacheKey(Suite, Variant, reversed); got != base {
		t.Errorf("the same packages in another order give key %s, want %s", got, base)
	}
	if got := CacheKey(Suite, Variant, append(Packages[:len(Packages):len(Packages)], "strace")); got == base {
		t.Error("adding a package kept the key: the cached tree would lack it")
	}
	if got := CacheKey("trixie", Variant, Packages); got == base {
		t.Error("another suite kept the key")
	}
}
