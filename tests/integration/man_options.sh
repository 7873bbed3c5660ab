#!/bin/sh
# SPDX-License-Identifier: MIT
# The manual pages stay true to the program: every long option and every
# command "mailferry --help" prints is in mailferry(1) and the other way
# round; every URI scheme of the plugins this build loads is in the
# page's URIS section and in --help; mailferry-plugin(7) states the
# header's ABI; "mailferry --version" names every plugin found with its
# version; and all three pages render without a single warning (groff
# -ww, man --warnings, and mandoc -Tlint when installed).
. "$(dirname "$0")/lib.sh"
MAN="$top_srcdir/man"
bad=0
complain() { echo "FAIL: $*" >&2; bad=1; }

# Long options as written: --word or --word-word, never a bare "--" or a
# wildcard's "--oauth-".
long_opts() { grep -oE -- '--[a-z][a-z0-9]*(-[a-z0-9]+)*' | sort -u; }
# The man page's text with roff's escaped hyphens made plain.
man_text() { sed -e 's/\\-/-/g' "$MAN/$1"; }
# Lines of $1 missing from $2 (both sorted), joined by blanks.
missing() { comm -23 "$1" "$2" | tr '\n' ' '; }

mf --help > "$T/help.txt"
[ -s "$T/help.txt" ] || fail "mailferry --help printed nothing"

echo "== options: --help against mailferry.1"
long_opts < "$T/help.txt" > "$T/help.opts"
man_text mailferry.1 | long_opts > "$T/man.opts"
n_help=$(wc -l < "$T/help.opts")
[ "$n_help" -ge 30 ] || fail "only $n_help long options found in --help: the extraction is broken"
m=$(missing "$T/help.opts" "$T/man.opts")
[ -z "$m" ] || complain "options in --help but not in man/mailferry.1: $m"
m=$(missing "$T/man.opts" "$T/help.opts")
[ -z "$m" ] || complain "options in man/mailferry.1 but not in --help: $m"
echo "   $n_help options in --help, $(wc -l < "$T/man.opts") in the man page"

# Every option the page mentions must also be described: a .TP/.B/.BI/.BR
# line that starts with it (mentions in prose or examples alone do not
# count).
man_text mailferry.1 | sed -n 's/^\.\(B\|BI\|BR\) \(-[a-z], \)\{0,1\}\(--[a-z0-9-]*\).*/\3/p' |
	sed 's/"//g' | sort -u > "$T/man.described"
# "-v, --verbose" is written .BR -v ", " --verbose.
man_text mailferry.1 | sed -n 's/^\.BR -[a-z] ", " \(--[a-z0-9-]*\).*/\1/p' >> "$T/man.described"
sort -u -o "$T/man.described" "$T/man.described"
m=$(missing "$T/help.opts" "$T/man.described")
[ -z "$m" ] || complain "options man/mailferry.1 mentions but never describes (.B/.BI/.BR line): $m"

echo "== commands: --help against mailferry.1 (.SS under COMMANDS)"
# --help: the "Commands:" block, one command per line that starts with two
# blanks and a letter; "a|b" is two; "bundle X" names a subcommand;
# "--version" beside "version" is the same command.
sed -n '/^Commands:/,/^$/p' "$T/help.txt" | sed -n 's/^  \([a-z][^ ]*\)\( [a-z][a-z]*\)\{0,1\}.*/\1\2/p' |
	while read -r first second; do
		if [ "$first" = bundle ]; then
			echo "bundle $second"
		else
			echo "$first" | tr '|' '\n' | grep -v '^-'
		fi
	done | sort -u > "$T/help.cmds"
man_text mailferry.1 | sed -n '/^\.SH COMMANDS/,/^\.SH /s/^\.SS //p' | sed 's/"//g; s/, /\n/g' |
	sort -u > "$T/man.cmds"
n_cmds=$(wc -l < "$T/help.cmds")
[ "$n_cmds" -ge 8 ] || fail "only $n_cmds commands found in --help: the extraction is broken"
m=$(missing "$T/help.cmds" "$T/man.cmds")
[ -z "$m" ] || complain "commands in --help but not in man/mailferry.1 COMMANDS: $m"
m=$(missing "$T/man.cmds" "$T/help.cmds")
[ -z "$m" ] || complain "commands in man/mailferry.1 COMMANDS but not in --help: $m"
# Each command --help names is one main.c dispatches.
while read -r cmd; do
	# shellcheck disable=SC2086 # "bundle create" is two words
	if mf $cmd --help 2>&1 </dev/null | grep -q "unknown command"; then
		complain "--help lists '$cmd', which mailferry does not know"
	fi
done < "$T/help.cmds"
echo "   $n_cmds commands: $(tr '\n' ' ' < "$T/help.cmds")"

echo "== URI schemes of the loaded plugins in --help and in the page's URIS"
mf plugins --json > "$T/plugins.json" || fail "mailferry plugins --json failed"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
for p in d["plugins"]:
    for s in p["schemes"]:
        print(s)
' "$T/plugins.json" | sort -u > "$T/schemes"
[ "$(wc -l < "$T/schemes")" -ge 9 ] || fail "plugins list too few schemes: $(cat "$T/schemes")"
man_text mailferry.1 | sed -n '/^\.SH URIS/,/^\.SH /p' | sed 's/\\f[BIRP]//g' > "$T/man.uris"
sed -n '/^URIs:/,/^$/p' "$T/help.txt" > "$T/help.uris"
while read -r s; do
	grep -q "\(^\|[^a-z0-9]\)$s:" "$T/man.uris" || complain "scheme $s: is not in the URIS section of man/mailferry.1"
	grep -q "\(^\|[^a-z0-9]\)$s:" "$T/help.uris" || complain "scheme $s: is not in the URIs of --help"
done < "$T/schemes"
echo "   schemes: $(tr '\n' ' ' < "$T/schemes")"

echo "== environment variables the code reads are in ENVIRONMENT"
grep -rhoE 'getenv\("[A-Z_]+"\)|define [A-Z_]+_ENV "[A-Z_]+"|"MAILFERRY_[A-Z_]+"' \
	"$top_srcdir/core" "$top_srcdir/cli" "$top_srcdir/bundle" "$top_srcdir/plugins" \
	"$top_srcdir/sinks" "$top_srcdir/lib" --include='*.c' --include='*.h' |
	grep -oE 'MAILFERRY_[A-Z_]+|TMPDIR' | sort -u > "$T/env.code"
man_text mailferry.1 | sed -n '/^\.SH ENVIRONMENT/,/^\.SH /s/^\.B \([A-Z_]*\)$/\1/p' | sort -u > "$T/env.man"
m=$(missing "$T/env.code" "$T/env.man")
[ -z "$m" ] || complain "environment variables read by the code but not in ENVIRONMENT: $m"
m=$(missing "$T/env.man" "$T/env.code")
[ -z "$m" ] || complain "ENVIRONMENT names variables the code never reads: $m"
echo "   $(tr '\n' ' ' < "$T/env.code")"

echo "== mailferry-plugin.7 states the header's ABI"
major=$(sed -n 's/^#define MF_ABI_MAJOR \([0-9]*\)$/\1/p' "$top_srcdir/include/mailferry/plugin.h")
minor=$(sed -n 's/^#define MF_ABI_MINOR \([0-9]*\)$/\1/p' "$top_srcdir/include/mailferry/plugin.h")
grep -q "^The current version is ABI $major\.$minor\$" "$MAN/mailferry-plugin.7" ||
	complain "man/mailferry-plugin.7 does not say 'The current version is ABI $major.$minor'"
grep -q "(plugin ABI $major\.$minor)\$" "$MAN/mailferry-plugin.7" ||
	complain "man/mailferry-plugin.7 NAME line does not say plugin ABI $major.$minor"

echo "== mailferry --version"
version=$(sed -n 's/^PACKAGE_VERSION = //p' "$top_builddir/Makefile")
mf --version > "$T/version.txt" || fail "mailferry --version failed"
assert_eq "$(head -1 "$T/version.txt")" "mailferry $version (plugin ABI $major.$minor)" "--version first line"
python3 -c '
import json, sys
for p in json.load(open(sys.argv[1]))["plugins"]:
    print(p["name"], p["version"], p["kind"], "ABI %d.%d" % (p["abi_major"], p["abi_minor"]), p["file"])
' "$T/plugins.json" > "$T/plugins.expected"
n_plugins=$(wc -l < "$T/plugins.expected")
[ "$n_plugins" -ge 7 ] || fail "only $n_plugins plugins loaded from the build tree"
sed -n '3,$p' "$T/version.txt" | sed 's/^  //; s/  */ /g' > "$T/plugins.got"
assert_eq "$(cat "$T/plugins.got")" "$(cat "$T/plugins.expected")" "--version's plugin lines"
# Only what is on the search path: one plugin directory, no default one.
MAILFERRY_PLUGIN_PATH="$top_builddir/plugins/mbox" MAILFERRY_NO_DEFAULT_PLUGINS=1 \
	mf --version > "$T/version1.txt"
assert_eq "$(sed -n '3,$p' "$T/version1.txt" | awk '{print $1}')" "mbox" "--version with only plugins/mbox"
MAILFERRY_PLUGIN_PATH="$T/none" MAILFERRY_NO_DEFAULT_PLUGINS=1 mf --version > "$T/version0.txt"
assert_eq "$(sed -n 2p "$T/version0.txt")" "plugins: none found" "--version without plugins"
echo "   $(head -1 "$T/version.txt"), $n_plugins plugins listed with their versions"

echo "== every page renders without warnings"
for page in mailferry.1 mailferry-accounts.5 mailferry-plugin.7; do
	command -v groff > /dev/null || fail "groff not installed (tools/install-deps.sh installs groff-base)"
	groff -man -Tutf8 -ww -z "$MAN/$page" > "$T/groff.err" 2>&1 || complain "$page: groff failed"
	[ ! -s "$T/groff.err" ] || complain "$page: groff -ww warns: $(cat "$T/groff.err")"
	if command -v man > /dev/null; then
		LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$MAN/$page" > "$T/man.out" 2> "$T/man.err" ||
			complain "$page: man -l failed: $(cat "$T/man.err")"
		[ ! -s "$T/man.err" ] || complain "$page: man --warnings: $(cat "$T/man.err")"
		[ "$(wc -l < "$T/man.out")" -ge 40 ] || complain "$page: rendered to only $(wc -l < "$T/man.out") lines"
	fi
	if command -v mandoc > /dev/null; then
		mandoc -Tlint -W warning "$MAN/$page" > "$T/mandoc.err" 2>&1 ||
			complain "$page: mandoc -Tlint: $(cat "$T/mandoc.err")"
	fi
	echo "   $page: no warnings"
done

exit $bad
