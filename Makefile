VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)

.PHONY: build test
build:
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o multinic-agent ./cmd/agent

test:
	./scripts/test.sh
