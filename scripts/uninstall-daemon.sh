#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Removes the multinic-agent systemd service installed by install-daemon.sh.
# See docs/daemon.md; run with --help for the options.
set -eu
umask 022

PROG=uninstall-daemon.sh
SERVICE=multinic-agent.service

usage() {
	cat <<EOF
Usage: $PROG [--purge] [--help]

Stops and disables $SERVICE, removes the binary, the unit and the
template that install-daemon.sh installed, and runs systemctl daemon-reload.
/etc/multinic-agent/config.env is kept (reinstalling picks it up again).

The network configuration the agent wrote (multinicN files under
/etc/netplan, /etc/sysconfig/network-scripts, /etc/NetworkManager,
/etc/systemd/network or /etc/network/interfaces.d) stays, and so do the NICs: see docs/daemon.md,
"Uninstall".

Options:
  --purge   also remove /etc/multinic-agent (config.env with the database
            password), the unit's drop-ins in
            /etc/systemd/system/$SERVICE.d and the state in
            /var/lib/multinic-agent
  --help    show this help

Environment:
  DESTDIR=DIR   remove the files staged under DIR and run no systemctl
  NO_COLOR=1    no colour even on a terminal
EOF
}

# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"

purge=0
while [ $# -gt 0 ]; do
	case $1 in
	--purge)
		purge=1
		shift
		;;
	-h | --help)
		usage
		exit 0
		;;
	*) die "unknown argument '$1'; run $PROG --help for the options." ;;
	esac
done

destdir

bin_dst=$DESTDIR/usr/local/bin/multinic-agent
unit_dst=$DESTDIR/etc/systemd/system/$SERVICE
dropin_dir=$unit_dst.d
conf_dir=$DESTDIR/etc/multinic-agent
conf_dst=$conf_dir/config.env
share_dir=$DESTDIR/usr/local/share/multinic-agent
state_dir=$DESTDIR/var/lib/multinic-agent

[ "$(uname -s)" = Linux ] || die "multinic-agent runs on Linux only (this is $(uname -s))."
if [ -z "$DESTDIR" ] && [ "$(id -u)" != 0 ]; then
	die "run as root (sudo $0 ...), or set DESTDIR=DIR to remove the files staged under DIR."
fi
if [ -z "$DESTDIR" ] && owner=$(package_owner); then
	die "multinic-agent is installed from the package $owner: remove it with apt-get remove multinic-agent (purge also drops config.env) or dnf remove multinic-agent."
fi

systemd_state

say "removing multinic-agent${DESTDIR:+ under DESTDIR=$DESTDIR}$([ "$purge" = 1 ] && echo ', with its configuration (--purge)')"

case $systemd in
running)
	if systemctl is-active --quiet "$SERVICE"; then
		systemctl stop "$SERVICE"
		did "ran" "systemctl stop $SERVICE"
	fi
	if systemctl is-enabled --quiet "$SERVICE" 2>/dev/null; then
		systemctl disable --quiet "$SERVICE"
		did "ran" "systemctl disable $SERVICE"
	fi
	;;
offline)
	# The enable links go, or they would dangle once the unit is removed.
	if systemctl is-enabled --quiet "$SERVICE" 2>/dev/null; then
		systemctl disable --quiet "$SERVICE"
		did "ran" "systemctl disable $SERVICE (offline: $why)"
	fi
	did "skipped" "systemctl stop ($why)"
	;;
*) did "skipped" "systemctl stop, disable ($why)" ;;
esac

# rm_ PATH: remove a file or directory tree, saying so.
rm_() {
	if [ -e "$1" ] || [ -L "$1" ]; then
		rm -rf "$1"
		did "removed" "$1"
	fi
}

rm_ "$bin_dst"
rm_ "$unit_dst"
rm_ "$share_dir"
if [ "$purge" = 1 ]; then
	rm_ "$conf_dir"
	rm_ "$dropin_dir"
	rm_ "$state_dir"
else
	[ ! -e "$conf_dst" ] || did "kept" "$conf_dst (--purge removes it)"
	[ ! -d "$dropin_dir" ] || did "kept" "$dropin_dir (--purge removes it)"
	[ ! -d "$state_dir" ] || did "kept" "$state_dir (--purge removes it)"
fi

if [ -n "$DESTDIR" ]; then
	# Leave no empty staging directories behind (only under DESTDIR: on a
	# real system /usr/local/bin stays even when empty).
	for d in usr/local/bin usr/local/share usr/local usr etc/systemd/system etc/systemd etc var/lib var; do
		rmdir "$DESTDIR/$d" 2>/dev/null || true
	done
fi

if [ "$systemd" = running ]; then
	systemctl daemon-reload
	did "ran" "systemctl daemon-reload"
	systemctl reset-failed "$SERVICE" 2>/dev/null || true
else
	did "skipped" "systemctl daemon-reload ($why)"
fi

say "done."
