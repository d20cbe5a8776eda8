#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Package postinstall of multinic-agent (.deb: "configure" [old version];
# .rpm: $1 = 1 on install, 2 on upgrade).
set -e

SERVICE=multinic-agent.service

upgrade=0
case ${1:-} in
configure) [ -z "${2:-}" ] || upgrade=1 ;;
[0-9]*) [ "$1" -lt 2 ] || upgrade=1 ;;
esac

# config.env holds the database password, whatever the umask was.
[ ! -f /etc/multinic-agent/config.env ] || chmod 0600 /etc/multinic-agent/config.env

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	systemctl daemon-reload || true
	if [ "$upgrade" = 1 ]; then
		# The new binary takes over where the old one ran.
		systemctl try-restart "$SERVICE" || true
	fi
fi

if [ "$upgrade" = 0 ]; then
	cat <<MSG
multinic-agent is installed but not enabled. Next:
  1. set DB_HOST, DB_USER, DB_PASSWORD (and the rest) in /etc/multinic-agent/config.env
  2. multinic-agent doctor
  3. systemctl enable --now $SERVICE
See /usr/share/doc/multinic-agent/daemon.md.
MSG
fi
exit 0
