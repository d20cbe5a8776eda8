#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Prints the package version (without the release, "-1") of the checkout in
# DIR (default: this repository), one that dpkg and rpm both sort in build
# order:
#
#   tag v1.2.3 on HEAD, clean     1.2.3
#   tag v1.2.3 on HEAD, dirty     1.2.3+0.gHASH.dirty
#   4 commits after v1.2.3        1.2.3+4.gHASH          (below 1.2.4)
#   ... and dirty                 1.2.3+4.gHASH.dirty
#   no v* tag at all              0~gitYYYYMMDDhhmmss.HASH[.dirty]
#
# The untagged form sorts below every release (0~ is below 0), and by the
# commit's time (UTC) among untagged builds. A dirty build sorts just above
# the clean build of the same commit and below the next commit's.
set -eu
dir=${1:-$(cd "$(dirname "$0")/.." && pwd)}
g() { git -C "$dir" "$@"; }

dirty=""
if [ -n "$(g status --porcelain --untracked-files=no 2>/dev/null)" ]; then
	dirty=.dirty
fi
hash=$(g rev-parse --short=7 HEAD) || {
	echo "pkg-version.sh: $dir is not a git checkout with a commit; set PKG_VERSION" >&2
	exit 1
}

if desc=$(g describe --tags --long --match 'v[0-9]*' 2>/dev/null); then
	# vX.Y.Z-N-gHASH
	rest=${desc%-g*}
	n=${rest##*-}
	tag=${rest%-*}
	base=${tag#v}
	case $base in
	[0-9]*) ;;
	*)
		echo "pkg-version.sh: tag $tag does not start with v and a digit" >&2
		exit 1
		;;
	esac
	# A tag may not hold "-" (rpm forbids it in a version): v1.0.0-rc1 -> 1.0.0~rc1.
	base=$(printf '%s' "$base" | tr '-' '~')
	if [ "$n" = 0 ] && [ -z "$dirty" ]; then
		echo "$base"
	else
		echo "$base+$n.g$hash$dirty"
	fi
	exit 0
fi

when=$(TZ=UTC0 g log -1 --date=format-local:%Y%m%d%H%M%S --format=%cd HEAD)
echo "0~git$when.$hash$dirty"
