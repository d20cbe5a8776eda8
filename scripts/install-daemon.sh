#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Installs multinic-agent as a systemd service on this node.
# See docs/daemon.md; run with --help for the options.
set -eu
umask 022

PROG=install-daemon.sh
SERVICE=multinic-agent.service

usage() {
	cat <<EOF
Usage: $PROG [--binary PATH] [--start] [--help]

Installs multinic-agent as a systemd host daemon:
  /usr/local/bin/multinic-agent                      the binary (0755)
  /etc/systemd/system/$SERVICE        the unit (0644)
  /etc/multinic-agent/config.env                     settings (0600), from the
                                                     template, only if absent
  /usr/local/share/multinic-agent/config.env.template  the template (0644)
then runs systemctl daemon-reload and enable. Running it again upgrades in
place and keeps config.env.

Options:
  --binary PATH  install this binary instead of building one from this
                 checkout (which needs Go)
  --start        start the service now (restart it when it runs already)
  --help         show this help

Environment:
  DESTDIR=DIR    stage every file under DIR and run no systemctl (packaging,
                 tests); root is not needed then
  NO_COLOR=1     no colour even on a terminal
EOF
}

# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"
# shellcheck source=netplan-snapshot.sh
. "$(dirname "$0")/netplan-snapshot.sh"

binary=""
start=0
while [ $# -gt 0 ]; do
	case $1 in
	--binary)
		[ $# -ge 2 ] || die "--binary needs a path (--binary PATH)."
		binary=$2
		shift 2
		;;
	--binary=*)
		binary=${1#--binary=}
		shift
		;;
	--start)
		start=1
		shift
		;;
	-h | --help)
		usage
		exit 0
		;;
	*) die "unknown argument '$1'; run $PROG --help for the options." ;;
	esac
done

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
unit_src=$repo/deployments/systemd/$SERVICE
template_src=$repo/deployments/systemd/config.env.template
destdir

bin_dst=$DESTDIR/usr/local/bin/multinic-agent
unit_dst=$DESTDIR/etc/systemd/system/$SERVICE
conf_dir=$DESTDIR/etc/multinic-agent
conf_dst=$conf_dir/config.env
share_dir=$DESTDIR/usr/local/share/multinic-agent
template_dst=$share_dir/config.env.template

# --- checks -----------------------------------------------------------------
[ "$(uname -s)" = Linux ] || die "multinic-agent runs on Linux only (this is $(uname -s))."
if [ -z "$DESTDIR" ] && [ "$(id -u)" != 0 ]; then
	die "run as root (sudo $0 ...), or set DESTDIR=DIR to stage the files under DIR."
fi
if [ ! -f "$unit_src" ] || [ ! -f "$template_src" ]; then
	die "cannot find $unit_src and the template next to it; run the script from a multinic-agent checkout."
fi

if [ -r /etc/os-release ]; then
	# shellcheck source=/dev/null
	os=$(. /etc/os-release && printf '%s' "${PRETTY_NAME:-${ID:-unknown}} (ID=${ID:-} ID_LIKE=${ID_LIKE:-})")
	# shellcheck source=/dev/null
	ids=$(. /etc/os-release && printf ' %s %s ' "${ID:-}" "${ID_LIKE:-}")
	case $ids in
	*" ubuntu "* | *" debian "* | *" rhel "* | *" centos "* | *" fedora "* | *" rocky "* | *" almalinux "* | *" ol "* | *" arch "* | *" suse "* | *" opensuse"*) ;;
	*) warn "unrecognised OS $os: set NETWORK_BACKEND in config.env (netplan, ifcfg, keyfile, networkd or ifupdown) if 'multinic-agent doctor' finds no backend." ;;
	esac
else
	os="unknown (no /etc/os-release)"
	warn "no /etc/os-release: set NETWORK_BACKEND in config.env (netplan, ifcfg, keyfile, networkd or ifupdown) if 'multinic-agent doctor' finds no backend."
fi

# Offline: enable, nothing else.
systemd_state
if [ "$systemd" = running ]; then
	sdver=$(systemctl --version 2>/dev/null | sed -n '1s/^systemd \([0-9]*\).*/\1/p')
	if [ -n "$sdver" ] && [ "$sdver" -lt 248 ]; then
		warn "systemd $sdver ignores some of the unit's sandboxing settings (it logs them as unknown keys); the service runs without them. See docs/daemon.md, Security."
	fi
fi

if [ -z "$DESTDIR" ] && owner=$(package_owner); then
	die "multinic-agent is installed from the package $owner: upgrade that package instead (apt-get install ./multinic-agent_*.deb, dnf install ./multinic-agent-*.rpm), or remove it first (apt-get remove multinic-agent keeps config.env); a node has one install."
fi

say "installing multinic-agent on $os${DESTDIR:+ under DESTDIR=$DESTDIR}"

# --- binary -----------------------------------------------------------------
tmp=""
cleanup() { [ -z "$tmp" ] || rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "$binary" ]; then
	command -v go >/dev/null 2>&1 ||
		die "Go is not installed to build the agent; install Go or pass --binary PATH (make build, or the release binary)."
	tmp=$(mktemp -d)
	version=$(git -C "$repo" describe --tags --always --dirty 2>/dev/null || echo dev)
	commit=$(git -C "$repo" rev-parse HEAD 2>/dev/null || true)
	say "building from $repo ($version)"
	(cd "$repo" && CGO_ENABLED=0 go build -trimpath \
		-ldflags "-s -w -X main.version=$version -X main.commit=$commit" \
		-o "$tmp/multinic-agent" ./cmd/agent) || die "go build failed (see above)."
	binary=$tmp/multinic-agent
fi
[ -f "$binary" ] || die "no binary at $binary."
[ -x "$binary" ] || die "$binary is not executable (chmod +x it)."
"$binary" version >/dev/null 2>&1 || die "$binary does not run ('$binary version' failed): is it built for $(uname -m) Linux?"

# put SRC DST MODE: install a file, saying whether it changed.
changed_bin=0
put() {
	mkdir -p "$(dirname "$2")"
	if [ -f "$2" ] && cmp -s "$1" "$2"; then
		chmod "$3" "$2"
		did "unchanged" "$2 ($3)"
		return 1
	fi
	# Copy next to the target and rename, so that a running binary is
	# replaced, never overwritten in place.
	cp "$1" "$2.tmp.$$"
	chmod "$3" "$2.tmp.$$"
	mv -f "$2.tmp.$$" "$2"
	did "installed" "$2 ($3)"
	return 0
}

if put "$binary" "$bin_dst" 0755; then changed_bin=1; fi
put "$unit_src" "$unit_dst" 0644 || true
put "$template_src" "$template_dst" 0644 || true

# --- configuration: only when absent ----------------------------------------
if [ -e "$conf_dst" ]; then
	did "kept" "$conf_dst (existing settings are never overwritten)"
	mode=$(stat -c %a "$conf_dst" 2>/dev/null || echo unknown)
	[ "$mode" = 600 ] || warn "$conf_dst is mode $mode; it holds the database password: chmod 600 $conf_dst"
else
	mkdir -p "$conf_dir"
	(umask 077 && cp "$template_src" "$conf_dst.tmp.$$")
	chmod 0600 "$conf_dst.tmp.$$"
	mv -f "$conf_dst.tmp.$$" "$conf_dst"
	did "created" "$conf_dst (0600) from the template: set DB_HOST, DB_USER and DB_PASSWORD in it"
fi

# --- systemd ----------------------------------------------------------------
case $systemd in
none)
	did "skipped" "systemctl daemon-reload, enable$([ "$start" = 1 ] && echo ', start') ($why)"
	;;
offline)
	systemctl enable --quiet "$SERVICE"
	did "ran" "systemctl enable $SERVICE (offline: $why; it starts at boot)"
	did "skipped" "systemctl daemon-reload$([ "$start" = 1 ] && echo ', start') ($why)"
	;;
running)
	snapshot_netplan_output
	systemctl daemon-reload
	did "ran" "systemctl daemon-reload"
	systemctl enable --quiet "$SERVICE"
	did "ran" "systemctl enable $SERVICE (starts at boot)"
	if [ "$start" = 1 ]; then
		if systemctl is-active --quiet "$SERVICE"; then
			systemctl restart "$SERVICE" || die "systemctl restart $SERVICE failed: see journalctl -u multinic-agent -n 50"
			did "ran" "systemctl restart $SERVICE"
		else
			systemctl start "$SERVICE" || die "systemctl start $SERVICE failed: see journalctl -u multinic-agent -n 50"
			did "ran" "systemctl start $SERVICE"
		fi
	elif systemctl is-active --quiet "$SERVICE"; then
		[ "$changed_bin" = 0 ] || warn "the service runs the previous binary: systemctl restart $SERVICE"
	fi
	;;
esac

say "done."
if [ -z "$DESTDIR" ] && { [ "$start" = 0 ] || [ "$systemd" != running ]; }; then
	cat <<EOF

Next steps:
  1. edit /etc/multinic-agent/config.env (DB_HOST, DB_USER, DB_PASSWORD, ...)
  2. multinic-agent doctor
  3. systemctl start $SERVICE   (or run this script again with --start)
  4. journalctl -u multinic-agent -f   and   curl -s localhost:8080/
See docs/daemon.md.
EOF
fi
