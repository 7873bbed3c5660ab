#!/bin/sh
# SPDX-License-Identifier: MIT
# Per-customer plugin bundles through the CLI: "bundle create" from the
# example plugin and a configuration, "bundle inspect", a migration with
# --bundle (the plugin is found only in the bundle), configuration
# precedence (bundle < --config < command line), and refusals: a changed
# byte (naming the file), a damaged archive, path traversal and links, an
# ABI-incompatible plugin (naming plugin and versions) -- each leaving no
# extracted files behind.
. "$(dirname "$0")/lib.sh"
command -v python3 > /dev/null || fail "python3 is needed (tools/install-deps.sh installs it)"
CC=${CC:-cc}
# Only the sinks from the build: a source must come from the bundle.
MAILFERRY_PLUGIN_PATH="$top_builddir/sinks"
MAILFERRY_NO_DEFAULT_PLUGINS=1
TMPDIR="$T/tmp"
export MAILFERRY_PLUGIN_PATH MAILFERRY_NO_DEFAULT_PLUGINS TMPDIR
mkdir -p "$TMPDIR" "$T/p"
no_leftovers() { [ -z "$(ls -A "$TMPDIR")" ] || fail "extraction left files behind: $(ls -A "$TMPDIR")"; }

echo "== build plugins: the SDK example, and test fixtures of other ABIs"
"$CC" -shared -fPIC -fvisibility=hidden -I"$top_srcdir/include" -o "$T/p/skeleton.so" \
	"$top_srcdir/examples/plugin-skeleton/skeleton.c" -L"$top_builddir/lib/.libs" -lmailferry
fixture() { # name, extra -D flags
	n=$1
	shift
	"$CC" -shared -fPIC -fvisibility=hidden -I"$top_srcdir/include" -I"$top_builddir" \
		-DFIXTURE="$n" "$@" -o "$T/p/$n.so" "$top_srcdir/tests/abi/abi_fixture.c"
}
fixture wrong_major -DFIXTURE_ABI_MAJOR=2
fixture newer_minor -DFIXTURE_ABI_MINOR=9

ARCHIVE="$top_srcdir/examples/plugin-skeleton/sample-archive"
printf '# defaults for ACME\nfolder-policy = inbox\nset = acme.region=eu\nquiet = yes\n' > "$T/acme.conf"

echo "== bundle create / inspect"
# The skeleton is built against this tree's headers: it carries our ABI.
ABI=$(mf --version | sed -n 's/.*plugin ABI \([0-9]*\.[0-9]*\).*/\1/p')
[ -n "$ABI" ] || fail "mailferry --version does not say its plugin ABI"
mf bundle create "$T/acme.tar.gz" --plugin "$T/p/skeleton.so" --config "$T/acme.conf" \
	--name acme > "$T/create.out" || fail "bundle create failed"
mf bundle inspect "$T/acme.tar.gz" > "$T/inspect.out" || fail "inspect failed: $(cat "$T/inspect.out")"
sha=$(sha256sum < "$T/p/skeleton.so" | cut -d' ' -f1)
grep -q "name: acme" "$T/inspect.out" || fail "inspect lacks the name: $(cat "$T/inspect.out")"
grep -q "plugin skeleton   source v1.0.0    ABI $ABI  schemes: skeleton:" "$T/inspect.out" ||
	fail "inspect lacks the plugin line: $(cat "$T/inspect.out")"
grep -q "plugins/skeleton.so sha256 $sha" "$T/inspect.out" || fail "inspect lacks the digest"
grep -q "folder-policy = inbox" "$T/inspect.out" || fail "inspect lacks the config"
mf bundle inspect --json "$T/acme.tar.gz" | python3 -c '
import json, sys
m = json.load(sys.stdin)
p = m["plugins"][0]
assert m["format"] == 1 and m["name"] == "acme", m
abi = "%d.%d" % (p["abi_major"], p["abi_minor"])
assert (p["name"], p["kind"], abi) == ("skeleton", "source", sys.argv[2]), p
assert p["schemes"] == ["skeleton"] and p["sha256"] == sys.argv[1], p
' "$sha" "$ABI" || fail "inspect --json manifest is wrong"
mf plugins --bundle "$T/acme.tar.gz" > "$T/plugins.out" || fail "plugins --bundle failed"
grep -q "skeleton source ABI $ABI" "$T/plugins.out" || fail "plugins --bundle: $(cat "$T/plugins.out")"
grep -q "$TMPDIR/mailferry-bundle\.[^/]*/plugins/skeleton.so" "$T/plugins.out" ||
	fail "plugins --bundle does not load the bundle's copy: $(cat "$T/plugins.out")"
no_leftovers

echo "== without the bundle there is no skeleton plugin"
rc=0
mf migrate "skeleton:$ARCHIVE" "maildir:$T/none" --state "$T/none.db" 2> "$T/none.err" || rc=$?
assert_eq "$rc" 2 "exit status without the bundle"
grep -q "no source plugin handles 'skeleton:'" "$T/none.err" || fail "$(cat "$T/none.err")"

echo "== migrate --bundle: plugin and default configuration (folder-policy = inbox)"
mf migrate --bundle "$T/acme.tar.gz" "skeleton:$ARCHIVE" "maildir:$T/out1" --state "$T/s1.db" \
	--json > "$T/run1.json" 2> "$T/run1.err" || fail "run with the bundle failed: $(cat "$T/run1.err")"
assert_eq "$(maildir_count "$T/out1")" 4 "messages in INBOX (all folders merged by the bundle's policy)"
[ ! -d "$T/out1/.Sent" ] || fail "folder-policy from the bundle was not applied"
src=$(find "$ARCHIVE" -name '*.eml' -type f -exec sha256sum {} + | cut -d' ' -f1 | sort)
assert_eq "$(maildir_digests "$T/out1")" "$src" "message bytes"
no_leftovers

echo "== --config overrides the bundle, the command line overrides both"
printf 'folder-policy = folder:Imported\n' > "$T/site.conf"
mf migrate --bundle "$T/acme.tar.gz" --config "$T/site.conf" "skeleton:$ARCHIVE" \
	"maildir:$T/out2" --state "$T/s2.db" 2> "$T/run2.err" || fail "$(cat "$T/run2.err")"
assert_eq "$(maildir_count "$T/out2/.Imported")" 4 "messages in Imported"
mf migrate --bundle "$T/acme.tar.gz" --config "$T/site.conf" --folder-policy original \
	"skeleton:$ARCHIVE" "maildir:$T/out3" --state "$T/s3.db" 2> "$T/run3.err" ||
	fail "$(cat "$T/run3.err")"
assert_eq "$(maildir_count "$T/out3/.Sent")" 1 "Sent kept with --folder-policy original"
assert_eq "$(maildir_count "$T/out3")" 2 "INBOX kept with --folder-policy original"
printf 'folder-policy = inbox\nno-such-option = 1\n' > "$T/bad.conf"
rc=0
mf migrate --config "$T/bad.conf" "skeleton:$ARCHIVE" "maildir:$T/x" --state "$T/x.db" 2> "$T/bad.err" || rc=$?
assert_eq "$rc" 2 "exit status with a bad config file"
grep -q "bad.conf:2: 'no-such-option' is not a setting" "$T/bad.err" || fail "$(cat "$T/bad.err")"

# Rewrite a bundle with python's tarfile: tamper(src, dst, action).
tamper() {
	python3 - "$@" << 'EOF'
import io, sys, tarfile
src, dst, action = sys.argv[1], sys.argv[2], sys.argv[3]
with tarfile.open(src, "r:gz") as t:
    members = [(m, t.extractfile(m).read() if m.isfile() else None) for m in t.getmembers()]
out = tarfile.open(dst, "w:gz", format=tarfile.USTAR_FORMAT)
for m, data in members:
    if action == "flip" and m.name == "plugins/skeleton.so":
        data = bytearray(data); data[len(data) // 2] ^= 1; data = bytes(data)
    out.addfile(m, io.BytesIO(data) if data is not None else None)
extra = tarfile.TarInfo(sys.argv[4] if len(sys.argv) > 4 else "x")
if action == "traverse":
    extra.size = 6
    out.addfile(extra, io.BytesIO(b"pwned\n"))
elif action == "symlink":
    extra.type = tarfile.SYMTYPE
    extra.linkname = "/etc/passwd"
    out.addfile(extra)
out.close()
EOF
}
refused() { # bundle, expected text
	rc=0
	mf migrate --bundle "$1" "skeleton:$ARCHIVE" "maildir:$T/refused" --state "$T/r.db" \
		2> "$T/refused.err" || rc=$?
	assert_eq "$rc" 2 "exit status for a refused bundle"
	grep -q -- "$2" "$T/refused.err" || fail "refusal lacks '$2': $(cat "$T/refused.err")"
	[ ! -d "$T/refused" ] || fail "a refused bundle still ran"
	no_leftovers
}

echo "== a changed byte in the plugin is refused, naming the file"
tamper "$T/acme.tar.gz" "$T/flip.tar.gz" flip
refused "$T/flip.tar.gz" "plugins/skeleton.so does not match the manifest"
rc=0
mf plugins --bundle "$T/flip.tar.gz" > /dev/null 2> "$T/pl.err" || rc=$?
assert_eq "$rc" 2 "plugins --bundle with a tampered bundle"
grep -q "plugins/skeleton.so does not match" "$T/pl.err" || fail "$(cat "$T/pl.err")"
echo "== a damaged archive is refused"
cp "$T/acme.tar.gz" "$T/dmg.tar.gz"
size=$(stat -c %s "$T/dmg.tar.gz")
printf '\377' | dd of="$T/dmg.tar.gz" bs=1 seek=$((size / 2)) conv=notrunc 2> /dev/null
refused "$T/dmg.tar.gz" "bundle $T/dmg.tar.gz: "
echo "== path traversal and links are refused before anything is written"
tamper "$T/acme.tar.gz" "$T/trav.tar.gz" traverse "../../escaped"
refused "$T/trav.tar.gz" "path traversal"
[ ! -e "$T/escaped" ] && [ ! -e "$TMPDIR/../escaped" ] || fail "a file escaped the extraction directory"
tamper "$T/acme.tar.gz" "$T/abs.tar.gz" traverse "$T/escaped-abs"
refused "$T/abs.tar.gz" "path traversal"
[ ! -e "$T/escaped-abs" ] || fail "an absolute name was extracted"
tamper "$T/acme.tar.gz" "$T/link.tar.gz" symlink "plugins/evil.so"
refused "$T/link.tar.gz" "links are not allowed"
tamper "$T/acme.tar.gz" "$T/extra.tar.gz" traverse "plugins/evil.so"
refused "$T/extra.tar.gz" "plugins/evil.so is not listed in the manifest"

echo "== an ABI-incompatible plugin: not bundled, and refused if bundled by hand"
rc=0
mf bundle create "$T/wrong.tar.gz" --plugin "$T/p/wrong_major.so" 2> "$T/wc.err" || rc=$?
assert_eq "$rc" 2 "exit status of bundle create with a wrong-major plugin"
grep -q "built for plugin ABI 2.x, this mailferry speaks 1.x" "$T/wc.err" || fail "$(cat "$T/wc.err")"
[ ! -e "$T/wrong.tar.gz" ] || fail "bundle create left a bundle behind"
# What a newer mailferry's "bundle create" would produce: consistent
# digests, a plugin for ABI 2.
python3 - "$T/p/wrong_major.so" "$T/wrong.tar.gz" << 'EOF'
import hashlib, io, json, sys, tarfile
so, out = sys.argv[1], sys.argv[2]
data = open(so, "rb").read()
manifest = {"format": 1, "name": "future", "created": "2027-01-01T00:00:00Z",
            "mailferry_version": "2.0.0", "abi": "2.0",
            "plugins": [{"name": "wrong_major", "version": "0.0-test",
                         "file": "plugins/wrong_major.so", "kind": "source",
                         "abi_major": 2, "abi_minor": 0, "schemes": ["fixture-wrong_major"],
                         "sha256": hashlib.sha256(data).hexdigest()}]}
t = tarfile.open(out, "w:gz", format=tarfile.USTAR_FORMAT)
for name, body in (("manifest.json", json.dumps(manifest).encode()), ("plugins/wrong_major.so", data)):
    i = tarfile.TarInfo(name); i.size = len(body); t.addfile(i, io.BytesIO(body))
t.close()
EOF
refused "$T/wrong.tar.gz" "plugin 'wrong_major' (version 0.0-test, built for ABI 2.0) cannot be used by this mailferry"
grep -q "rebuild it" "$T/refused.err" || fail "no remedy given: $(cat "$T/refused.err")"
rc=0
mf bundle inspect "$T/wrong.tar.gz" > /dev/null 2>&1 || rc=$?
assert_eq "$rc" 2 "inspect of an ABI-incompatible bundle"

echo "== a plugin for a newer minor ABI is accepted (by design: it only appended)"
mf bundle create "$T/newer.tar.gz" --plugin "$T/p/newer_minor.so" > /dev/null ||
	fail "a newer-minor plugin was not bundled"
mf bundle inspect "$T/newer.tar.gz" | grep -q "newer_minor source v0.0-test ABI 1.9" ||
	fail "inspect of the newer-minor bundle"
no_leftovers
echo PASS
