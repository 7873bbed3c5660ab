#!/bin/sh
# SPDX-License-Identifier: MIT
# The plugin SDK as an integrator meets it: "make install" of this source
# tree into a temporary DESTDIR, then the example plugin
# (examples/plugin-skeleton) built ONLY from the installed headers and
# mailferry-plugin.pc (pkg-config with PKG_CONFIG_SYSROOT_DIR, no -I into
# the source tree), loaded by the INSTALLED mailferry with --plugin-dir,
# migrating a generated archive into the installed maildir sink, checked
# byte for byte and flag for flag.  Then the autotools variant of the
# example (autoreconf + configure + make) does the same.
. "$(dirname "$0")/lib.sh"
SKEL_SRC="$top_srcdir/examples/plugin-skeleton"
DEST="$T/dest"

echo "== make install DESTDIR=\$T/dest"
# From a build of its own, not from the tree "make check" runs in: libtool
# relinks every plugin in place on install, and a test loading that
# plugin at the same moment finds no loadable module (crash.sh failed in
# CI with "no sink plugin handles 'maildir:'").  Only the maildir sink is
# needed here.  An in-tree configured source (no VPATH build possible)
# is installed as it is.
# A nested make must not inherit the jobserver/flags of "make check".
nmake() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make "$@"; }
if [ -f "$top_srcdir/config.status" ]; then
	build=$top_builddir
else
	build=$T/build
	mkdir "$build"
	start=$(date +%s)
	(cd "$build" && "$top_srcdir/configure" CC="${CC:-cc}" --disable-mbox --disable-imap \
		--disable-pop3 --disable-ews --disable-graph --disable-alimail &&
		nmake -s -j2) > "$T/build.log" 2>&1 ||
		{ tail -30 "$T/build.log"; fail "the private build failed"; }
	echo "   private build in $(( $(date +%s) - start )) s"
fi
nmake -s -C "$build" install DESTDIR="$DEST" > "$T/install.log" 2>&1 ||
	{ tail -30 "$T/install.log"; fail "make install failed"; }
pc=$(find "$DEST" -name mailferry-plugin.pc)
[ -n "$pc" ] || fail "mailferry-plugin.pc was not installed"
bin=$(find "$DEST" -path '*/bin/mailferry' -type f)
[ -x "$bin" ] || fail "bin/mailferry was not installed"

# pkg-config sees only the installed tree: no system or build-tree .pc.
unset CPATH C_INCLUDE_PATH LIBRARY_PATH CPPFLAGS CFLAGS LDFLAGS PKG_CONFIG_PATH
PKG_CONFIG_LIBDIR=$(dirname "$pc")
PKG_CONFIG_SYSROOT_DIR="$DEST"
export PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR
pkg-config --exists mailferry-plugin || fail "pkg-config cannot use $pc"
cflags=$(pkg-config --cflags mailferry-plugin)
libs=$(pkg-config --libs mailferry-plugin)
case "$cflags $libs" in
*"$top_srcdir"* | *"$top_builddir"*) fail "the .pc points into the build: $cflags $libs" ;;
esac
case "$libs" in *-lmailferry*) ;; *) fail "Libs lacks -lmailferry: $libs" ;; esac
# pkgconf applies the sysroot to variables, pkg-config 0.29 does not.
sysrooted() { case "$1" in "$DEST"/*) echo "$1" ;; *) echo "$DEST$1" ;; esac; }
incdir=$(sysrooted "$(pkg-config --variable=includedir mailferry-plugin)")
libdir=$(sysrooted "$(pkg-config --variable=libdir mailferry-plugin)")
plugindir=$(sysrooted "$(pkg-config --variable=plugindir mailferry-plugin)")
assert_eq "$(pkg-config --modversion mailferry-plugin)" \
	"$(sed -n 's/^PACKAGE_VERSION = //p' "$top_builddir/Makefile")" ".pc version"

echo "== every public header is installed and compiles on its own"
for h in plugin util net imapc date mime folder; do
	[ -f "$incdir/mailferry/$h.h" ] || fail "include/mailferry/$h.h not installed"
	printf '#include <mailferry/%s.h>\nint main(void) { return 0; }\n' "$h" > "$T/h_$h.c"
	${CC:-cc} -std=c11 -Wall -Wextra -Werror $cflags -c -o "$T/h_$h.o" "$T/h_$h.c" \
		|| fail "<mailferry/$h.h> does not compile alone from the installed headers"
done
[ -e "$libdir/libmailferry.so" ] || fail "libmailferry.so not installed in $libdir"
[ -f "$plugindir/local.so" ] || [ -f "$plugindir/local.la" ] ||
	fail "plugindir=$plugindir from the .pc holds no maildir sink"

echo "== build the skeleton with its plain Makefile, from the installed SDK only"
cp -R "$SKEL_SRC" "$T/skel"
chmod -R u+w "$T/skel"
# Outside "make check"'s environment: its MAKEFLAGS would make the nested
# make print the build tree's directory names into the log checked below.
skelmake() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory "$@"; }
skelmake -C "$T/skel" clean > /dev/null
skelmake -C "$T/skel" CC="${CC:-cc}" > "$T/skel-build.log" 2>&1 ||
	{ cat "$T/skel-build.log"; fail "the skeleton does not build from the installed SDK"; }
grep -q -- "-I$incdir" "$T/skel-build.log" || fail "not built with the .pc's -I: $(cat "$T/skel-build.log")"
if grep -q -e "$top_srcdir" -e "$top_builddir" "$T/skel-build.log"; then
	fail "the skeleton build looked into the source/build tree: $(cat "$T/skel-build.log")"
fi
nm -D --defined-only "$T/skel/skeleton.so" | grep -q ' skeleton_LTX_mailferry_plugin$' ||
	fail "skeleton.so does not export its descriptor"
exported=$(nm -D --defined-only "$T/skel/skeleton.so" | grep -c ' [TDR] ' || true)
assert_eq "$exported" 1 "symbols exported by skeleton.so (only the descriptor)"

# A legacy archive: 3 folders (one nested), 8bit bytes, CRLF and LF, a
# message without a final newline, flags in the names, junk to skip.
mkarchive() {
	a=$1
	mkdir -p "$a/INBOX" "$a/Sent Items" "$a/Projects/Alpha" "$a/Empty"
	i=1
	while [ $i -le 12 ]; do
		case $((i % 4)) in 0) fl=",S" ;; 1) fl="" ;; 2) fl=",SF" ;; 3) fl=",RS" ;; esac
		printf 'From: user%d@old.example\r\nSubject: message %d \303\251t\303\251\r\n\r\nbody %d\r\n' \
			$i $i $i > "$a/INBOX/$((i * 3))$fl.eml"
		i=$((i + 1))
	done
	printf 'From: me@old.example\nSubject: sent, LF only\n\nno final newline' > "$a/Sent Items/1,S.eml"
	head -c 70000 /dev/zero | tr '\0' 'x' | fold -w 76 | sed 's/^/> /' > "$T/big.txt"
	{ printf 'From: me@old.example\r\nSubject: big\r\n\r\n'; cat "$T/big.txt"; } > "$a/Sent Items/2.eml"
	printf 'From: a@old.example\r\nSubject: nested\r\n\r\nalpha\r\n' > "$a/Projects/Alpha/7,D.eml"
	printf 'not a message\n' > "$a/INBOX/README.txt"
}
mkarchive "$T/archive"

# "folder<TAB>sha256<TAB>flags" of the archive and of the maildir.
archive_manifest() (
	cd "$1"
	find . -name '*.eml' -type f | while read -r f; do
		d=$(dirname "${f#./}")
		b=$(basename "$f" .eml)
		case "$b" in *,*) fl=$(printf '%s' "${b#*,}" | sed 's/./&\n/g' | sort | tr -d '\n') ;; *) fl="" ;; esac
		printf '%s\t%s\t%s\n' "$d" "$(sha256sum < "$f" | cut -d' ' -f1)" "$fl"
	done | sort
)
maildir_manifest() (
	cd "$1"
	for d in . .[!.]*; do
		[ -d "$d/cur" ] || continue
		if [ "$d" = . ]; then f=INBOX; else f=$(printf '%s' "${d#.}" | tr . /); fi
		for m in "$d"/cur/* "$d"/new/*; do
			[ -f "$m" ] || continue
			fl=$(printf '%s' "${m##*:2,}" | sed 's/./&\n/g' | sort | tr -d '\n')
			printf '%s\t%s\t%s\n' "$f" "$(sha256sum < "$m" | cut -d' ' -f1)" "$fl"
		done
	done | sort
)
archive_manifest "$T/archive" | sed 's/^Sent Items/Sent/' > "$T/want.txt"
assert_eq "$(wc -l < "$T/want.txt")" 15 "messages in the generated archive"

# The installed mailferry, its installed plugins, nothing from the build.
run_installed() {
	LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
	MAILFERRY_PLUGIN_PATH="$plugindir" MAILFERRY_NO_DEFAULT_PLUGINS=1 "$bin" "$@"
}

echo "== the installed mailferry loads it with --plugin-dir and migrates the archive"
run_installed plugins --plugin-dir "$T/skel" > "$T/plugins.txt" || true
grep -q "skeleton source ABI 1\.[0-9]*  v1.0.0" "$T/plugins.txt" ||
	fail "the installed mailferry does not list the skeleton: $(cat "$T/plugins.txt")"
run_installed migrate --plugin-dir "$T/skel" "skeleton:$T/archive" "maildir:$T/out" \
	--state "$T/s1.db" -q > "$T/run1.out" 2> "$T/run1.err" ||
	fail "migration with the skeleton failed: $(cat "$T/run1.err")"
maildir_manifest "$T/out" > "$T/got.txt"
# Sent Items maps onto the sink's Sent (special-use guessed by the plugin).
cmp "$T/want.txt" "$T/got.txt" || { diff "$T/want.txt" "$T/got.txt" | head; fail "bytes or flags differ"; }
grep -q "README.txt: not UID" "$T/run1.err" || fail "the junk file was not reported: $(cat "$T/run1.err")"

echo "== a re-run copies nothing"
run_installed migrate --plugin-dir "$T/skel" "skeleton:$T/archive" "maildir:$T/out" \
	--state "$T/s1.db" --json -q > "$T/run2.json" 2> /dev/null
grep -q '"event":"summary".*"copied":0' "$T/run2.json" || fail "second run copied again: $(tail -1 "$T/run2.json")"
maildir_manifest "$T/out" | cmp - "$T/want.txt" || fail "second run changed the target"

echo "== the autotools variant (autoreconf, configure, make) builds and loads"
if ! command -v autoreconf > /dev/null; then
	fail "autoreconf is needed (tools/install-deps.sh installs it)"
fi
cp -R "$SKEL_SRC" "$T/skel-at"
chmod -R u+w "$T/skel-at"
rm -f "$T/skel-at/skeleton.so"
start=$(date +%s)
# Out of tree, as the README says: configure must not overwrite the
# plain Makefile that sits beside configure.ac.
(
	cd "$T/skel-at"
	autoreconf -fi > "$T/at.log" 2>&1 &&
	mkdir build && cd build &&
	../configure CC="${CC:-cc}" >> "$T/at.log" 2>&1 &&
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s >> "$T/at.log" 2>&1
) || { tail -30 "$T/at.log"; fail "the autotools variant does not build from the installed SDK"; }
echo "   built in $(( $(date +%s) - start )) s"
cmp -s "$SKEL_SRC/Makefile" "$T/skel-at/Makefile" || fail "configure overwrote the plain Makefile"
if grep -e "-I$top_srcdir" -e "-I$top_builddir" "$T/skel-at/build/Makefile" > /dev/null; then
	fail "the autotools variant uses the source tree"
fi
[ -f "$T/skel-at/build/skeleton.la" ] || fail "the autotools build made no skeleton.la"
run_installed migrate --plugin-dir "$T/skel-at/build" "skeleton:$T/archive" "maildir:$T/out-at" \
	--state "$T/s2.db" -q > /dev/null 2> "$T/run3.err" ||
	fail "migration with the autotools-built skeleton failed: $(cat "$T/run3.err")"
maildir_manifest "$T/out-at" | cmp - "$T/want.txt" || fail "autotools build: bytes or flags differ"
echo "PASS"
