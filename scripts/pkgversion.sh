#!/bin/sh
# Prints the OpenWrt package version of this checkout, VERSION-rRELEASE, in
# the form both opkg and apk (OpenWrt 25.x, which rejects anything else)
# accept: digits and dots, optional apk suffixes, then -rN.
#
#   tag v1.2.3, on the tag        1.2.3-r1
#   5 commits after v1.2.3        1.2.3_p5-r1     (_p: after 1.2.3)
#   tag v1.3.0-rc2                1.3.0_rc2-r1    (_rc: before 1.3.0)
#   no v* tag yet, 42 commits     0.0.0_p42-r1
#
# usage: scripts/pkgversion.sh [GIT-DESCRIBE-OUTPUT]
#   The argument (for tests) stands in for
#   `git describe --tags --long --match 'v[0-9]*'`; "none" means no tag,
#   with COMMITS (default: git rev-list --count HEAD) commits.
# Environment: PKG_VERSION overrides everything; PKG_RELEASE (default 1).
set -eu

release=${PKG_RELEASE:-1}
case $release in '' | *[!0-9]*)
	echo "pkgversion: PKG_RELEASE '$release' is not a number" >&2
	exit 2
	;;
esac

valid() {
	# apk's version grammar (apk-tools version.c), without the ~hash form.
	echo "$1" | grep -Eq '^[0-9]+(\.[0-9]+)*[a-z]?(_(alpha|beta|pre|rc|cvs|svn|git|hg|p)[0-9]*)*-r[0-9]+$'
}

if [ -n "${PKG_VERSION:-}" ]; then
	valid "$PKG_VERSION" || {
		echo "pkgversion: PKG_VERSION '$PKG_VERSION' is not of the form 1.2.3-r1" >&2
		exit 2
	}
	echo "$PKG_VERSION"
	exit 0
fi

if [ $# -gt 0 ]; then
	desc=$1
else
	desc=$(git describe --tags --long --match 'v[0-9]*' 2>/dev/null || echo none)
fi

if [ "$desc" = none ]; then
	commits=${COMMITS:-$(git rev-list --count HEAD 2>/dev/null || echo 0)}
	version=0.0.0_p$commits-r$release
else
	# vTAG-N-gHASH; the tag itself may contain dashes (v1.3.0-rc2).
	rest=${desc%-g*}
	n=${rest##*-}
	tag=${rest%-*}
	tag=${tag#v}
	# A pre-release tag names its suffix after a dash; apk wants _rc2.
	base=$(echo "$tag" | sed -E 's/-(alpha|beta|pre|rc)([0-9]*)$/_\1\2/')
	if [ "$n" = 0 ]; then
		version=$base-r$release
	else
		version=${base}_p$n-r$release
	fi
fi

valid "$version" || {
	echo "pkgversion: tag '$desc' gives '$version', not a version opkg and apk accept; tag releases vMAJOR.MINOR.PATCH" >&2
	exit 2
}
echo "$version"
