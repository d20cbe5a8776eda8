# SPDX-License-Identifier: Apache-2.0
# Shared by install-daemon.sh and uninstall-daemon.sh (sourced; PROG is set
# by the caller): messages, with colour only on a terminal.
# shellcheck shell=sh
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ] && [ "${TERM:-dumb}" != dumb ]; then
	c_ok=$(printf '\033[32m') c_warn=$(printf '\033[33m') c_err=$(printf '\033[31m') c_off=$(printf '\033[0m')
else
	c_ok='' c_warn='' c_err='' c_off=''
fi
say() { printf '%s\n' "$PROG: $*"; }
did() { printf '  %s%s%s %s\n' "$c_ok" "$1" "$c_off" "$2"; }
warn() { printf '%s%s: warning:%s %s\n' "$c_warn" "$PROG" "$c_off" "$*" >&2; }
die() {
	printf '%s%s: error:%s %s\n' "$c_err" "$PROG" "$c_off" "$*" >&2
	exit 1
}

# package_owner: prints the package that owns the agent's binary (the
# packages install /usr/bin/multinic-agent; older ones /usr/local/bin), if
# any. A node has one install: the script's or a package's.
package_owner() {
	for f in /usr/bin/multinic-agent /usr/local/bin/multinic-agent; do
		if command -v dpkg-query >/dev/null 2>&1 && o=$(dpkg-query -S "$f" 2>/dev/null); then
			printf '%s (.deb, %s)\n' "${o%%:*}" "$f"
			return 0
		fi
		if command -v rpm >/dev/null 2>&1 && o=$(rpm -qf "$f" 2>/dev/null); then
			printf '%s (.rpm, %s)\n' "$o" "$f"
			return 0
		fi
	done
	return 1
}

# destdir: DESTDIR made absolute (relative to the working directory).
destdir() {
	DESTDIR=${DESTDIR:-}
	case $DESTDIR in
	"" | /*) ;;
	*) DESTDIR=$(pwd)/$DESTDIR ;;
	esac
}

# systemd_state: sets systemd to "running" (reload, enable, start),
# "offline" (systemctl works on the files only: an image build or a
# chroot) or "none" (DESTDIR, or no systemctl), and why to the reason
# when it is not running.
# shellcheck disable=SC2034 # read by the scripts that source this file
systemd_state() {
	systemd=running why=
	if [ -n "$DESTDIR" ]; then
		systemd=none why="DESTDIR is set"
	elif ! command -v systemctl >/dev/null 2>&1; then
		systemd=none why="systemctl is not installed"
	elif [ ! -d /run/systemd/system ]; then
		systemd=offline why="systemd is not running on this host"
	fi
}
