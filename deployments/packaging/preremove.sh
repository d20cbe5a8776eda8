#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Package preremove of multinic-agent (.deb: "remove" or "upgrade";
# .rpm: $1 = 0 on removal, 1 on upgrade). Only a removal stops the service.
set -e

SERVICE=multinic-agent.service

case ${1:-} in
remove | 0) ;;
*) exit 0 ;;
esac

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	systemctl stop "$SERVICE" || true
	systemctl disable --quiet "$SERVICE" || true
fi
exit 0
