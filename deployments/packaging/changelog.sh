#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Writes the packages' changelog on stdout, in the YAML that nfpm turns into
# the .deb's changelog.Debian.gz and the .rpm's %changelog (goreleaser's
# chglog format): an entry for this build (VERSION is the full package
# version, with the release), then the releases in changelog.yml next to
# this script. The date is the commit's, so the same commit always gives
# the same package.
#
#   changelog.sh VERSION-RELEASE [DIR]
set -eu
[ $# -ge 1 ] || {
	echo "usage: changelog.sh VERSION-RELEASE [DIR]" >&2
	exit 2
}
version=$1
here=$(cd "$(dirname "$0")" && pwd)
dir=${2:-$(cd "$here/../.." && pwd)}
maintainer="multinic-agent maintainers <multinic-agent@users.noreply.github.com>"

if commit=$(git -C "$dir" rev-parse HEAD 2>/dev/null); then
	when=$(git -C "$dir" log -1 --format=%ct HEAD)
	describe=$(git -C "$dir" describe --tags --always --dirty --match 'v[0-9]*')
else
	commit="" when=${SOURCE_DATE_EPOCH:-0} describe=unknown
fi
date=$(TZ=UTC0 date -d "@$when" '+%Y-%m-%dT%H:%M:%SZ')

# quote: a YAML double-quoted scalar.
quote() { printf '"%s"' "$(printf %s "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"; }

cat <<EOF2
- semver: $(quote "$version")
  date: $date
  packager: $(quote "$maintainer")
  deb:
    urgency: medium
    distributions: [unstable]
  changes:
    - commit: $(quote "$commit")
      note: $(quote "Build of $describe (commit $(printf %.12s "$commit")).")
EOF2
grep -v '^#' "$here/changelog.yml" || true
