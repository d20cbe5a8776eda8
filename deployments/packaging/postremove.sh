#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Package postremove of multinic-agent (.deb: "remove", "purge", "upgrade",
# ...; .rpm: $1 = 0 on removal, 1 on upgrade).
set -e

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	systemctl daemon-reload || true
fi

# dpkg removes config.env itself on purge; the state goes with it.
if [ "${1:-}" = purge ]; then
	rm -rf /var/lib/multinic-agent
	rmdir /etc/multinic-agent 2>/dev/null || true
fi
exit 0
