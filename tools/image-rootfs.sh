#!/bin/sh
# SPDX-License-Identifier: MIT
# Proves deploy/Containerfile's final stage where no container engine
# runs: builds the tree as the build stage does (configure --prefix=/usr,
# make, make install DESTDIR), makes a Debian 12 root file system with
# mmdebstrap holding exactly the final stage's runtime packages (read from
# the Containerfile, so the two cannot differ), copies the install tree
# in, adds the image's user, and then, by chroot as that user: mailferry
# --version, mailferry plugins (none refused), ldd on the binary and every
# plugin (nothing "not found"), no compiler or make on PATH, and a small
# real migration (an mbox into a Maildir, SQLite state).
#
#   tools/image-rootfs.sh [ROOT]      (as root; default ROOT ./image-rootfs)
#
# Needs mmdebstrap and Debian's archive (deb.debian.org, or MIRROR=URL).
# Where the tree is built:
#   default               on this machine, in a temporary directory
#   BUILD_STAGE=chroot    in a second Debian 12 root holding only the build
#                         stage's packages (proves that list too; slower)
#   MAILFERRY_BUILD=DIR   a build already configured with --prefix=/usr
# MAILFERRY_SRC=DIR builds that source tree instead of this one (e.g.
# "git archive HEAD" unpacked, to leave work in progress out).  Not run by
# CI.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
ROOT=${1:-$PWD/image-rootfs}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY=${SECURITY:-http://deb.debian.org/debian-security}
say() { echo "== $*"; }
die() { echo "image-rootfs: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (mmdebstrap and chroot need it)"
command -v mmdebstrap > /dev/null || die "mmdebstrap not found (apt-get install mmdebstrap)"
[ ! -e "$ROOT" ] || [ -z "$(ls -A "$ROOT" 2>/dev/null)" ] || die "$ROOT exists and is not empty"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/image-rootfs.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# A stage's packages: its "apt-get install" lines (1: the first stage,
# -1: the final one).
stage_packages() {
	python3 -c '
import re, sys
text = re.sub(r"\\\n", " ", open(sys.argv[1]).read())
text = re.sub(r"(?m)^\s*#.*\n", "", text)
stage = re.split(r"(?m)^FROM ", text)[int(sys.argv[2])]
pk = []
for m in re.finditer(r"apt-get install ([^&;|\n]*)", stage):
    pk += [w for w in m.group(1).split() if not w.startswith("-")]
print(" ".join(pk))
' "$top/deploy/Containerfile" "$1"
}

# debian12 ROOT PACKAGE...: a Debian 12 minbase root holding them.
debian12() {
	r=$1
	shift
	mmdebstrap --quiet --variant=minbase --include="$(echo "$*" | tr ' ' ,)" bookworm "$r" \
		"deb $MIRROR bookworm main" "deb $MIRROR bookworm-updates main" \
		"deb $SECURITY bookworm-security main" > "$WORK/mmdebstrap.log" 2>&1 ||
		{ tail -30 "$WORK/mmdebstrap.log"; die "mmdebstrap failed"; }
}

pkgs=$(stage_packages -1)
[ -n "$pkgs" ] || die "no runtime packages found in deploy/Containerfile's final stage"
say "runtime packages (deploy/Containerfile, final stage): $pkgs"

src=${MAILFERRY_SRC:-$top}
say "build and install with --prefix=/usr (as the build stage)"
if [ "${BUILD_STAGE:-}" = chroot ]; then
	bpkgs=$(stage_packages 1)
	[ -n "$bpkgs" ] || die "no build packages found in deploy/Containerfile's first stage"
	echo "   in a Debian 12 root with only: $bpkgs"
	start=$(date +%s)
	# shellcheck disable=SC2086 # one word per package
	debian12 "$WORK/buildroot" $bpkgs
	echo "   $(chroot "$WORK/buildroot" dpkg-query -W -f='.\n' | wc -l) packages, $(($(date +%s) - start)) s"
	# The build context as .dockerignore leaves it: no build directories,
	# no generated files.
	mkdir "$WORK/buildroot/src"
	tar -C "$src" --exclude-vcs --exclude='./build*' --exclude=./autom4te.cache --exclude='*.o' \
		--exclude='*.lo' --exclude='*.la' --exclude=.libs --exclude=.deps --exclude=./configure \
		--exclude=Makefile.in --exclude=./config.status --exclude=./image-rootfs -cf - . |
		tar -C "$WORK/buildroot/src" -xf -
	start=$(date +%s)
	chroot "$WORK/buildroot" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/root sh -c \
		'cd /src && ./autogen.sh && ./configure --prefix=/usr && make -j2 && make install DESTDIR=/out' \
		> "$WORK/make.log" 2>&1 ||
		{ tail -30 "$WORK/make.log"; die "the build stage failed in its Debian 12 root"; }
	echo "   autogen, configure, make, make install: $(($(date +%s) - start)) s"
	mv "$WORK/buildroot/out" "$WORK/out"
	rm -rf "$WORK/buildroot"
else
	if [ -n "${MAILFERRY_BUILD:-}" ]; then
		b=$MAILFERRY_BUILD
		grep -q '^prefix = /usr$' "$b/Makefile" || die "$b is not configured with --prefix=/usr"
	else
		[ -x "$src/configure" ] || (cd "$src" && ./autogen.sh > /dev/null 2>&1) ||
			die "autogen.sh failed in $src"
		b=$WORK/build
		mkdir -p "$b"
		(cd "$b" && "$src/configure" --prefix=/usr -q > configure.log 2>&1) ||
			die "configure failed: $b/config.log"
		nice make -C "$b" -j2 -s > "$WORK/make.log" 2>&1 || { tail -30 "$WORK/make.log"; die "make failed"; }
	fi
	make -C "$b" -s install DESTDIR="$WORK/out" > "$WORK/install.log" 2>&1 ||
		{ tail -30 "$WORK/install.log"; die "make install failed"; }
fi
rm -rf "$WORK/out/usr/include" "$WORK/out/usr/lib/pkgconfig"
find "$WORK/out" -name '*.a' -delete

say "Debian 12 root file system in $ROOT (mmdebstrap minbase + the runtime packages)"
start=$(date +%s)
# shellcheck disable=SC2086 # one word per package
debian12 "$ROOT" $pkgs
echo "   $(du -sh "$ROOT" | cut -f1), $(chroot "$ROOT" dpkg-query -W -f='.\n' | wc -l) packages, $(($(date +%s) - start)) s"

say "install tree and the image's user (as the final stage)"
cp -a "$WORK/out/." "$ROOT/"
chroot "$ROOT" ldconfig
chroot "$ROOT" groupadd --gid 10001 mailferry
chroot "$ROOT" useradd --uid 10001 --gid 10001 --home-dir /var/lib/mailferry \
	--create-home --shell /usr/sbin/nologin mailferry
# /proc for anything that wants it; unmounted on exit.
mount -t proc proc "$ROOT/proc"
trap 'umount "$ROOT/proc" 2>/dev/null || true; rm -rf "$WORK"' EXIT

as_user() {
	chroot --userspec=10001:10001 "$ROOT" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin \
		HOME=/var/lib/mailferry TMPDIR=/tmp "$@"
}
bad=0

say "mailferry --version"
as_user mailferry --version > "$WORK/version.txt" 2>&1 || { echo "FAIL: mailferry --version" >&2; bad=1; }
sed 's/^/   /' "$WORK/version.txt"
n=$(sed -n '3,$p' "$WORK/version.txt" | wc -l)
[ "$n" -ge 7 ] || { echo "FAIL: only $n plugins listed" >&2; bad=1; }

say "mailferry plugins (none refused)"
as_user mailferry plugins > "$WORK/plugins.txt" 2>&1 || { echo "FAIL: mailferry plugins refused one" >&2; bad=1; }
sed 's/^/   /' "$WORK/plugins.txt"

say "ldd: every library found"
for f in /usr/bin/mailferry $(cd "$ROOT" && ls usr/lib/mailferry/*.so | sed 's,^,/,'); do
	if chroot "$ROOT" ldd "$f" | grep 'not found'; then
		echo "FAIL: $f: a library is missing" >&2
		bad=1
	fi
done
echo "   /usr/bin/mailferry and $(ls "$ROOT"/usr/lib/mailferry/*.so | wc -l) plugins"

say "no compiler, linker or make"
for tool in cc gcc c99 clang ld make; do
	if chroot "$ROOT" sh -c "command -v $tool"; then
		echo "FAIL: $tool is in the root file system" >&2
		bad=1
	fi
done

say "a real run: an mbox into a Maildir (SQLite state)"
cp "$top/tests/data/mbox/single.mbox" "$ROOT/tmp/in.mbox"
chmod 644 "$ROOT/tmp/in.mbox"
as_user sh -c 'cd /var/lib/mailferry && mailferry migrate -q mbox:/tmp/in.mbox maildir:/var/lib/mailferry/out &&
	mailferry status' > "$WORK/run.txt" 2>&1 || { echo "FAIL: migrate in the root file system" >&2; bad=1; }
sed 's/^/   /' "$WORK/run.txt"
msgs=$(find "$ROOT/var/lib/mailferry/out" -type f \( -path '*/cur/*' -o -path '*/new/*' \) | wc -l)
[ "$msgs" -ge 1 ] || { echo "FAIL: nothing arrived in the Maildir" >&2; bad=1; }
echo "   $msgs message(s) in the Maildir"

if [ "$bad" = 0 ]; then
	say "the final stage works: $ROOT"
else
	say "FAILED"
fi
exit "$bad"
