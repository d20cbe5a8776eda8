# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=sh
# Shared by the .deb postinst and the .rpm %post and %posttrans: `make
# packages` puts this file in place of the line "@config@" of each. It only
# sets names and defines create_config.

unit=multinic-agent.service
conf_dir=/etc/multinic-agent
conf=$conf_dir/config.env
template=/usr/share/multinic-agent/config.env.template

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
