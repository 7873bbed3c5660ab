#!/bin/sh
# SPDX-License-Identifier: MIT
# Smoke test of the built Debian packages on this (throwaway CI) machine:
# installs mailferry + libmailferry0 with apt, runs a real migration with
# the installed /usr/bin/mailferry (generated mbox -> Maildir, then the
# Maildir -> another Maildir, counts and contents checked, a re-run copies
# nothing), checks the man pages and the bash completion are where man and
# bash-completion look, that "mailferry plugins" and "--version" list the
# EWS plugin only once mailferry-plugin-ews is installed, and builds the
# example plugin from libmailferry-dev and runs it.  Removes the packages
# again at the end.  As root.
#
#   tests/packaging/deb_smoke.sh DEBDIR     (what tools/build-debs.sh made)
set -eu
debdir=$(cd "${1:?usage: deb_smoke.sh DEBDIR}" && pwd)
[ "$(id -u)" = 0 ] || { echo "deb_smoke: run as root (it installs packages)" >&2; exit 2; }
export DEBIAN_FRONTEND=noninteractive
T=$(mktemp -d "${TMPDIR:-/tmp}/mf-debsmoke.XXXXXX")
# Bounded in time, and the machine left as it was.
( sleep 240; echo "deb_smoke: TIMEOUT" >&2; kill -TERM $$ ) </dev/null >/dev/null 2>&1 &
watchdog=$!
cleanup() {
	kill $watchdog 2>/dev/null || true
	apt-get purge -y -qq mailferry mailferry-plugin-ews libmailferry-dev libmailferry0 \
		>/dev/null 2>&1 || true
	rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
deb() { ls "$debdir"/"$1"_*.deb 2>/dev/null | head -1; }
for p in mailferry mailferry-plugin-ews libmailferry0 libmailferry-dev; do
	[ -n "$(deb $p)" ] || fail "no $p .deb in $debdir"
done
count() { find "$1/cur" "$1/new" -type f 2>/dev/null | wc -l; }

echo "== apt-get install mailferry libmailferry0"
apt-get install -y -qq --no-install-recommends "$(deb mailferry)" "$(deb libmailferry0)" \
	> "$T/apt.log" 2>&1 || { cat "$T/apt.log"; fail "installing the packages failed"; }
MF=/usr/bin/mailferry
[ -x $MF ] || fail "$MF not installed"
# The installed program with nothing of a build tree around it.
unset MAILFERRY_PLUGIN_PATH MAILFERRY_NO_DEFAULT_PLUGINS LD_LIBRARY_PATH
cd "$T"

echo "== a migration with $MF: mbox (12 messages, 2 folders) -> Maildir -> Maildir"
mkdir -p export/alice
i=1
while [ $i -le 12 ]; do
	f=export/alice/INBOX
	[ $i -gt 8 ] && f=export/alice/Sent
	printf 'From alice@old.example Mon Jan  5 10:%02d:00 2026\nFrom: alice@old.example\nTo: bob@old.example\nSubject: message %d\nMessage-ID: <m%d@old.example>\nDate: Mon, 5 Jan 2026 10:%02d:00 +0000\n\nBody of message %d.\nFrom here on, a quoted line.\n\n' \
		$i $i $i $i $i >> $f
	i=$((i + 1))
done
$MF migrate --state s1.db mbox:export/alice maildir:out1 > m1.log 2>&1 || { cat m1.log; fail "mbox -> maildir failed"; }
[ "$(count out1)" = 8 ] || fail "INBOX: expected 8 messages, got $(count out1)"
[ "$(count out1/.Sent)" = 4 ] || fail "Sent: expected 4 messages, got $(count out1/.Sent)"
grep -rq '^Subject: message 12$' out1/.Sent/cur || fail "message 12 is not in Sent"
$MF migrate --state s1.db mbox:export/alice maildir:out1 > m1b.log 2>&1 || fail "re-run failed"
[ "$(count out1)" = 8 ] && [ "$(count out1/.Sent)" = 4 ] || fail "the re-run copied again"
$MF status --state s1.db --csv > status.csv
grep -q ',12,' status.csv || fail "status does not show 12 copied: $(cat status.csv)"
$MF migrate --state s2.db maildir:out1 maildir:out2 > m2.log 2>&1 || { cat m2.log; fail "maildir -> maildir failed"; }
[ "$(count out2)" = 8 ] && [ "$(count out2/.Sent)" = 4 ] || fail "maildir -> maildir: wrong counts"
digests() { find "$1" \( -path '*/cur/*' -o -path '*/new/*' \) -type f -exec sha256sum {} + | cut -d' ' -f1 | sort; }
[ "$(digests out1)" = "$(digests out2)" ] || fail "maildir -> maildir changed message bytes"
$MF verify --state s2.db --report report maildir:out1 maildir:out2 > v.log 2>&1 || { cat v.log; fail "verify failed"; }
[ -s report/verify-report.json ] || fail "no verify report"
echo "   12 messages copied twice over, re-run copied nothing, verify complete"

echo "== man pages and bash completion"
for page in mailferry mailferry-accounts; do
	man -w "$page" > /dev/null 2>&1 || fail "man cannot find $page"
done
[ "$(man -w mailferry-accounts)" = /usr/share/man/man5/mailferry-accounts.5.gz ] || fail "mailferry-accounts(5) misplaced"
compdir=$(pkg-config --variable=completionsdir bash-completion 2>/dev/null || echo /usr/share/bash-completion/completions)
[ -f "$compdir/mailferry" ] || fail "no bash completion in $compdir"
out=$(bash -c ". '$compdir/mailferry'; COMP_LINE='mailferry mi'; COMP_POINT=12; COMP_WORDS=(mailferry mi); COMP_CWORD=1; _mailferry; echo \"\${COMPREPLY[*]}\"")
[ "$out" = migrate ] || fail "installed completion: 'mailferry mi' gave '$out'"

echo "== plugins: EWS only with mailferry-plugin-ews"
$MF plugins > p1.txt
grep -q '^  mbox ' p1.txt && grep -q '^  local ' p1.txt && grep -q '^  graph ' p1.txt ||
	fail "core plugins missing: $(cat p1.txt)"
! grep -q '^  ews ' p1.txt || fail "ews listed without mailferry-plugin-ews"
! $MF --version | grep -q '^  ews ' || fail "--version lists ews without mailferry-plugin-ews"
apt-get install -y -qq --no-install-recommends "$(deb mailferry-plugin-ews)" > "$T/apt2.log" 2>&1 ||
	{ cat "$T/apt2.log"; fail "installing mailferry-plugin-ews failed"; }
$MF plugins > p2.txt
grep -q '^  ews ' p2.txt || fail "ews not listed with mailferry-plugin-ews: $(cat p2.txt)"
$MF --version | grep -q '^  ews  *[0-9]' || fail "--version does not list ews with its version"
[ "$(grep -c '^  [a-z]' p2.txt)" = "$(($(grep -c '^  [a-z]' p1.txt) + 1))" ] || fail "plugin counts"
echo "   $(grep -c '^  [a-z]' p1.txt) plugins, $(grep -c '^  [a-z]' p2.txt) with mailferry-plugin-ews"

echo "== libmailferry-dev: the example plugin builds from the package and runs"
apt-get install -y -qq --no-install-recommends "$(deb libmailferry-dev)" > "$T/apt3.log" 2>&1 ||
	{ cat "$T/apt3.log"; fail "installing libmailferry-dev failed"; }
cp -R /usr/share/doc/libmailferry-dev/examples/plugin-skeleton skel
make -s -C skel > skel.log 2>&1 || { cat skel.log; fail "the example plugin does not build"; }
$MF migrate --plugin-dir skel --state s3.db skeleton:skel/sample-archive maildir:out3 > m3.log 2>&1 ||
	{ cat m3.log; fail "the example plugin's migration failed"; }
n=$(digests out3 | wc -l)
[ "$n" = 4 ] || fail "the example plugin copied $n messages, expected 4"
echo "   skeleton.so built with pkg-config mailferry-plugin, 4 messages copied"
echo "deb_smoke: all checks passed"
