# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=sh
# shellcheck disable=SC2154 # unit is set by config.sh, which comes first
# Shared by the .deb postinst and the .rpm %post: `make packages` puts this
# file in place of the line "@takeover@" of each, after config.sh (it uses
# its names). It only defines take_over_script_install.

# The files scripts/install-daemon.sh installs: a package installed over
# them takes them over, or the script's binary (first on PATH) and its unit
# (in /etc, shadowing the package's) would stay in charge.
script_bin=/usr/local/bin/multinic-agent
script_unit=/etc/systemd/system/$unit
script_share=/usr/local/share/multinic-agent
wants_link=/etc/systemd/system/multi-user.target.wants/$unit

# script_installed: is there a script install to take over? Its unit runs
# the binary in /usr/local/bin, which no package owns.
script_installed() {
	[ -f "$script_unit" ] && [ ! -L "$script_unit" ] &&
		grep -q "^ExecStart=$script_bin " "$script_unit"
}

# take_over_script_install: remove the script install's binary, unit and
# template (config.env is the same file for both and stays), so that the
# node keeps one unit and one binary. Sets script_was_enabled=1 when the
# script's unit was enabled: the caller enables the package's unit then.
# shellcheck disable=SC2034 # read by the script this file is put into
script_was_enabled=0
take_over_script_install() {
	script_installed || return 0
	echo "multinic-agent: taking over the install of scripts/install-daemon.sh: removing $script_bin, $script_unit and $script_share (config.env is kept)"
	if [ -L "$wants_link" ]; then
		# shellcheck disable=SC2034 # read by the script this file is put into
		script_was_enabled=1
		rm -f "$wants_link"
	fi
	rm -f "$script_unit" "$script_bin" "$script_share/config.env.template"
	rmdir "$script_share" 2>/dev/null || true
}

