VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)

.PHONY: build test demo packages
build:
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o multinic-agent ./cmd/agent

test:
	./scripts/test.sh

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
