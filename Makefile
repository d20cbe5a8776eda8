VERSION ?= $(shell git describe --tags --always --dirty --match 'v[0-9]*' 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)

.PHONY: build test demo packages bench vmtest
build:
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o multinic-agent ./cmd/agent

test:
	./scripts/test.sh

# The VM test alone (root): a Debian 12 VM under qemu (no KVM needed) runs
# the agent under systemd for each backend, across reboots. About 17 minutes
# with a warm cache (more on a busy machine), 4 to 10 more to build the
# cached root file system (debootstrap) the first time; see README, Testing.
vmtest:
	MULTINIC_VMTEST=1 go test -count=1 -timeout 70m -v -run '^TestVM$$' ./vmtest

# The scripted tour (root): embedded database, throwaway namespace, the real agent.
# DEMO_KEEP=1 keeps it all up until Ctrl-C.
demo:
	./scripts/demo.sh

# .deb and .rpm packages (nfpm, pinned, run through the Go module proxy; it
# is not a dependency of the module) in $(DIST): the binary in /usr/bin,
# the unit in /usr/lib/systemd/system, the template config.env is created
# from, the manual page, the docs, the licence. See docs/daemon.md.
# PKG_VERSION sorts in build order for tagged, untagged and dirty checkouts
# (scripts/pkg-version.sh says how); PKG_TEMPLATE replaces the template
# (tests build an upgrade with a changed one).
DIST         ?= dist
PKG_ARCH     ?= $(shell go env GOARCH)
PKG_VERSION  ?= $(shell ./scripts/pkg-version.sh)
PKG_RELEASE  ?= 1
PKG_TEMPLATE ?= deployments/systemd/config.env.template
# A position-independent executable (the distributions' hardening rule for
# packaged programs, which lintian and rpmlint check); it needs no library,
# only the system's dynamic loader to relocate it.
PKG_BUILDMODE ?= pie
NFPM         := go run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2
STAGE         = $(DIST)/.stage

packages:
	@test -n '$(PKG_VERSION)' || { echo 'no package version: set PKG_VERSION' >&2; exit 1; }
	rm -rf '$(STAGE)'
	mkdir -p '$(STAGE)/deb' '$(STAGE)/rpm'
	CGO_ENABLED=0 GOOS=linux GOARCH=$(PKG_ARCH) go build -trimpath -buildmode=$(PKG_BUILDMODE) -ldflags '$(LDFLAGS)' -o '$(STAGE)/multinic-agent' ./cmd/agent
	# The unit of the script install runs /usr/local/bin/multinic-agent; the
	# package's runs /usr/bin/multinic-agent.
	sed 's|^ExecStart=/usr/local/bin/multinic-agent |ExecStart=/usr/bin/multinic-agent |' \
		deployments/systemd/multinic-agent.service > '$(STAGE)/multinic-agent.service'
	grep -q '^ExecStart=/usr/bin/multinic-agent run$$' '$(STAGE)/multinic-agent.service'
	cp '$(PKG_TEMPLATE)' '$(STAGE)/config.env.template'
	gzip -9n < deployments/packaging/multinic-agent.8 > '$(STAGE)/multinic-agent.8.gz'
	./deployments/packaging/changelog.sh '$(PKG_VERSION)-$(PKG_RELEASE)' > '$(STAGE)/changelog.yml'
	for s in deb-postinst:deb/postinst deb-prerm:deb/prerm deb-postrm:deb/postrm \
		rpm-post:rpm/post rpm-preun:rpm/preun rpm-postun:rpm/postun rpm-posttrans:rpm/posttrans; do \
		sed -e '/^@config@$$/{r deployments/packaging/config.sh' -e 'd;}' \
			-e '/^@takeover@$$/{r deployments/packaging/takeover.sh' -e 'd;}' \
			-e '/^@netplan@$$/{r scripts/netplan-snapshot.sh' -e 'd;}' \
			"deployments/packaging/$${s%%:*}" > "$(STAGE)/$${s#*:}" || exit 1; \
		chmod 0755 "$(STAGE)/$${s#*:}"; \
	done
	sed 's|@STAGE@|$(abspath $(STAGE))|g' deployments/nfpm.yaml > '$(STAGE)/nfpm.yaml'
	for p in deb rpm; do \
		PKG_VERSION='$(PKG_VERSION)' PKG_RELEASE='$(PKG_RELEASE)' PKG_ARCH='$(PKG_ARCH)' \
			$(NFPM) package --config '$(STAGE)/nfpm.yaml' --packager $$p --target '$(DIST)/' || exit 1; \
	done

# Benchmarks (root; about 45 minutes): the Go benchmarks of the pure parts
# (5 runs each, medians), then cmd/bench: the agent binary in a network
# namespace against a private mariadbd (idle cycle, memory soak,
# convergence) and a simulated fleet. Writes docs/benchmarks.md; the raw
# figures go to $(BENCH_DIR)/results.json. BENCH_ARGS adds cmd/bench flags,
# e.g. BENCH_ARGS='-soak 1h' or BENCH_ARGS='-agents 1000 -duration 90s'.
BENCH_DIR  ?= /tmp/multinic-bench
BENCH_ARGS ?=
# The revision whose agent is measured beside this one (hot-plug, outage,
# idle cost): the figures "before". Empty: none.
BENCH_BASELINE ?= 8b9e77d
BENCH_PKGS := ./internal/plan ./internal/netplan ./internal/ifcfg ./internal/keyfile ./internal/networkd ./internal/reconcile ./internal/daemon
BENCH_GO   := go test -run '^$$' -bench . -benchmem -count 5 $(BENCH_PKGS)

bench:
	mkdir -p $(BENCH_DIR)
	$(BENCH_GO) > $(BENCH_DIR)/gobench.txt || { cat $(BENCH_DIR)/gobench.txt; exit 1; }
	cat $(BENCH_DIR)/gobench.txt
	go run ./cmd/bench all -gobench $(BENCH_DIR)/gobench.txt -gobench-cmd "$(BENCH_GO)" -results $(BENCH_DIR)/results.json -out docs/benchmarks.md $(if $(BENCH_BASELINE),-baseline-rev $(BENCH_BASELINE)) $(BENCH_ARGS)
