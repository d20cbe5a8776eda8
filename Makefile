VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)

.PHONY: build test demo packages bench vmtest
build:
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o multinic-agent ./cmd/agent

test:
	./scripts/test.sh

# The VM test alone (root): a Debian 12 VM under qemu (no KVM needed) runs
# the agent under systemd for each backend, across reboots. 10-20 minutes
# with a warm cache, about 7 more to build the cached root file system
# (debootstrap) the first time; see README, Testing.
vmtest:
	MULTINIC_VMTEST=1 go test -count=1 -timeout 70m -v -run '^TestVM$$' ./internal/vmtest

# The scripted tour (root): embedded database, throwaway namespace, the real agent.
# DEMO_KEEP=1 keeps it all up until Ctrl-C.
demo:
	./scripts/demo.sh

# .deb and .rpm packages (nfpm, pinned, run through the Go module proxy; it
# is not a dependency of the module) in $(DIST): the binary, the systemd
# unit, config.env, the docs. See docs/daemon.md.
DIST        ?= dist
PKG_ARCH    ?= $(shell go env GOARCH)
# A package version starts with a digit: v1.2.3-4-gabc -> 1.2.3+4.gabc,
# an untagged abc1234-dirty -> 0.0.0~abc1234+dirty.
PKG_VERSION ?= $(shell echo '$(VERSION)' | sed -e 's/^v//' -e 's/-/+/' -e 's/-/./g' -e '/^[0-9]/!s/^/0.0.0~/')
NFPM        := go run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2

packages:
	mkdir -p $(DIST)
	CGO_ENABLED=0 GOOS=linux GOARCH=$(PKG_ARCH) go build -trimpath -ldflags '$(LDFLAGS)' -o $(DIST)/multinic-agent ./cmd/agent
	for p in deb rpm; do \
		PKG_BINARY='$(DIST)/multinic-agent' PKG_VERSION='$(PKG_VERSION)' PKG_ARCH='$(PKG_ARCH)' \
			$(NFPM) package --config deployments/nfpm.yaml --packager $$p --target '$(DIST)/' || exit 1; \
	done

# Benchmarks (root; about 20 minutes): the Go benchmarks of the pure parts
# (5 runs each, medians), then cmd/bench: the agent binary in a network
# namespace against a private mariadbd (idle cycle, memory soak,
# convergence) and a simulated fleet. Writes docs/benchmarks.md; the raw
# figures go to $(BENCH_DIR)/results.json. BENCH_ARGS adds cmd/bench flags,
# e.g. BENCH_ARGS='-soak 1h' or BENCH_ARGS='-agents 1000 -duration 90s'.
BENCH_DIR  ?= /tmp/multinic-bench
BENCH_ARGS ?=
BENCH_PKGS := ./internal/plan ./internal/netplan ./internal/ifcfg ./internal/keyfile ./internal/networkd ./internal/reconcile
BENCH_GO   := go test -run '^$$' -bench . -benchmem -count 5 $(BENCH_PKGS)

bench:
	mkdir -p $(BENCH_DIR)
	$(BENCH_GO) > $(BENCH_DIR)/gobench.txt || { cat $(BENCH_DIR)/gobench.txt; exit 1; }
	cat $(BENCH_DIR)/gobench.txt
	go run ./cmd/bench all -gobench $(BENCH_DIR)/gobench.txt -gobench-cmd "$(BENCH_GO)" -results $(BENCH_DIR)/results.json -out docs/benchmarks.md $(BENCH_ARGS)
