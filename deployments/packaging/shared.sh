# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=sh
# Shared by the .deb postinst and the .rpm %post: `make packages` puts this
# file in place of the "@shared@" line of each. It only defines functions.

unit=multinic-agent.service
conf_dir=/etc/multinic-agent
conf=$conf_dir/config.env
template=/usr/share/multinic-agent/config.env.template

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

# create_config: config.env from the template, only when there is none; it
# holds the database password, so it is 0600 from its first byte. It is
# not a conffile: upgrades never ask about it and never change it.
create_config() {
	if [ -e "$conf" ]; then
		case $(stat -c %a "$conf" 2>/dev/null) in
		*00 | "") ;;
		*) echo "multinic-agent: warning: $conf is readable by group or others and holds the database password: chmod 600 $conf" >&2 ;;
		esac
		return 0
	fi
	mkdir -p "$conf_dir"
	chmod 0755 "$conf_dir"
	(
		umask 077
		cp "$template" "$conf.new-$$"
	)
	chmod 0600 "$conf.new-$$"
	mv -f "$conf.new-$$" "$conf"
	cat <<MSG
multinic-agent: created $conf (0600) from $template. Next:
  1. set DB_HOST, DB_USER and DB_PASSWORD (and the rest) in $conf
  2. multinic-agent doctor
  3. systemctl enable --now $unit
See /usr/share/doc/multinic-agent/daemon.md.
MSG
}
