#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds the Debian packages (debian/) outside the source tree, so the tree
# stays clean: copies the files git knows plus untracked ones that are not
# ignored into a temporary directory, runs "dpkg-buildpackage -us -uc -b"
# there, then lintian on the result (any error or warning fails).
#
#   tools/build-debs.sh [OUTDIR]      (default OUTDIR: ./debs)
#
# DEB_BUILD_OPTIONS is passed through; unset, it is "nocheck noddebs
# parallel=2" (CI has run every test before this, and -dbgsym packages
# cost a third of the time); DEB_BUILD_OPTIONS= runs the unit and ABI
# tests during the build and makes -dbgsym packages.  Needs dpkg-dev,
# debhelper, fakeroot and lintian (tools/install-deps.sh).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$PWD/debs}
mkdir -p "$out"
out=$(cd "$out" && pwd)
: "${DEB_BUILD_OPTIONS=nocheck noddebs parallel=2}"
export DEB_BUILD_OPTIONS

work=$(mktemp -d "${TMPDIR:-/tmp}/mailferry-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
src="$work/mailferry"
mkdir "$src"

echo "== copying the source tree to $src"
# -z: names may hold blanks.  Deleted-but-tracked files are skipped.
(cd "$top" && git ls-files -z --cached --others --exclude-standard |
	xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
	tar --null -T - -cf -) | tar -xf - -C "$src"

echo "== dpkg-buildpackage -us -uc -b (DEB_BUILD_OPTIONS=$DEB_BUILD_OPTIONS)"
(cd "$src" && dpkg-buildpackage -us -uc -b) > "$work/build.log" 2>&1 || {
	tail -60 "$work/build.log" >&2
	echo "build-debs: dpkg-buildpackage failed" >&2
	exit 1
}

changes=$(ls "$work"/mailferry_*.changes)
# Every file the build made, by the .changes file's list.
files=$(sed -n '/^Files:/,/^[^ ]/s/^ [0-9a-f]* [0-9]* [^ ]* [^ ]* //p' "$changes")
for f in $files; do cp "$work/$f" "$out/"; done
cp "$changes" "$out/"

echo "== lintian"
# --fail-on error,warning: an unexplained warning is a failure; every
# accepted one has an override with its reason in debian/*.lintian-overrides.
if ! lintian --fail-on error,warning --info --display-info "$changes" > "$work/lintian.log" 2>&1; then
	cat "$work/lintian.log" >&2
	echo "build-debs: lintian found problems" >&2
	exit 1
fi
cat "$work/lintian.log"
echo "== packages in $out"
ls -l "$out"/*.deb
