#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The scripted tour of multinic-agent, for a machine with nothing but Go:
# an embedded MySQL-protocol server (go-mysql-server, in the demo's own
# process) loaded with schema/schema.sql and sample rows, a throwaway network
# namespace whose veth NICs carry the rows' MACs, and the real agent running
# as a daemon inside it. Each step is observed; the exit status is 0 only
# when every step was. Everything is removed at the end, on failure and on
# Ctrl-C.
#
#   sudo ./scripts/demo.sh               # or: sudo make demo
#   sudo DEMO_KEEP=1 ./scripts/demo.sh   # keep it all up until Ctrl-C
#
# Needs root (network namespaces); installs iproute2 with apt-get when `ip`
# is missing. Exit status: 0 all steps observed, 1 a step failed (named on
# stderr), 2 could not start, 130/143 interrupted.
set -eu
cd "$(dirname "$0")/.."

say() { printf '%s\n' "demo.sh: $*" >&2; }

if [ "$(id -u)" != 0 ]; then
	say "needs root for a network namespace; run: sudo $0"
	exit 2
fi

# sudo's secure_path usually lacks Go's directory.
PATH="$PATH:/usr/sbin:/sbin"
if ! command -v go >/dev/null 2>&1; then
	for d in /usr/local/go/bin /usr/lib/go/bin /snap/bin; do
		if [ -x "$d/go" ]; then
			PATH="$PATH:$d"
			break
		fi
	done
fi
if ! command -v go >/dev/null 2>&1; then
	say "Go is not on root's PATH; install it (https://go.dev/dl/) or run: sudo env PATH=\"\$PATH\" $0"
	exit 2
fi

if ! command -v ip >/dev/null 2>&1; then
	if ! command -v apt-get >/dev/null 2>&1; then
		say "the ip command is missing and apt-get is not available; install iproute2"
		exit 2
	fi
	say "installing iproute2"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends iproute2 >/dev/null
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/multinic-demo-build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# Exit through the EXIT trap when interrupted during the builds.
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

say "building the agent and the demo (the first build fetches and compiles go-mysql-server: a minute or two)"
go build -o "$tmp/multinic-agent" ./cmd/agent
(cd demo && go build -o "$tmp/multinic-demo" .)

# The demo cleans up itself on SIGINT/SIGTERM. It runs in the background so
# that this shell can pass a signal sent to it alone (kill, make) on to the
# demo and wait for its cleanup before removing the binaries.
"$tmp/multinic-demo" -agent "$tmp/multinic-agent" -schema schema/schema.sql &
pid=$!
trap 'kill -INT "$pid" 2>/dev/null || :' INT
trap 'kill -TERM "$pid" 2>/dev/null || :' TERM HUP
status=0
while :; do
	if wait "$pid"; then status=0; else status=$?; fi
	# A trapped signal ends `wait` early: wait again until the demo is gone.
	kill -0 "$pid" 2>/dev/null || break
done
exit "$status"
