# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=sh
# Shared by the .deb postinst, the .rpm %post (`make packages` puts this
# file in place of their line "@netplan@") and scripts/install-daemon.sh
# (sourced). It only defines snapshot_netplan_output.

# snapshot_netplan_output: run before a daemon-reload. The reload runs
# netplan's systemd generator, which writes every file of
# /run/systemd/network again; systemd-networkd's next reload would take
# each for changed and reconfigure its link, the management NIC's too,
# whose address goes for a moment. This keeps hard links to the files as
# networkd read them, so that the agent's first activation puts back those
# that came out the same (restoreInstalled in internal/netplan). A snapshot
# of the last 15 minutes (a second install before the agent ran) is kept:
# it is the one networkd read; the agent ignores an older one.
snapshot_netplan_output() {
	command -v netplan >/dev/null 2>&1 || return 0
	[ -d /run/systemd/network ] || return 0
	snap=/run/.multinic-agent-netplan-install
	if [ -n "$(find "$snap" -maxdepth 0 -mmin +15 2>/dev/null)" ]; then
		rm -rf "$snap"
	fi
	mkdir -m 0700 "$snap" 2>/dev/null || return 0
	for f in /run/systemd/network/*; do
		[ -f "$f" ] && ! [ -L "$f" ] && ln "$f" "$snap/" 2>/dev/null
	done
	return 0
}
