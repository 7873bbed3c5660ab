#!/bin/sh
# SPDX-License-Identifier: MIT
# Benchmark (issue 15): COMPRESS=DEFLATE on the WAN side.  Dovecot (source,
# loopback) -> Cyrus IMAP 3.6 (tests/integration/cyrus.sh; it offers
# COMPRESS=DEFLATE, Debian 12's Dovecot does not) behind bench/delay_proxy
# (25 ms each way, 100 Mbit/s), one mailbox of N messages (default 1000)
# in 9 folders, with compression (the default) and with ?compress=no.
# Prints a Markdown table: seconds, the raw link floor (payload bits / link
# rate), effective rate as a share of that floor (over 100% means the mail
# crossed faster than the raw link could carry it uncompressed), and the
# sink's plain and wire bytes from the --json summary.  Exits non-zero
# only if a copy was incomplete.
#
#   bench/cyrus_compress.sh [MESSAGES]   (top_builddir set, or a built tree)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$(cd "$here/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
export top_srcdir top_builddir
MF_TEST_TIMEOUT=${MF_TEST_TIMEOUT:-3000}
. "$here/setup.sh"
. "$top_srcdir/tests/integration/dovecot.sh"
. "$top_srcdir/tests/integration/cyrus.sh"
cyrus_available || fail "Cyrus not unpacked: run tools/install-cyrus.sh"
N=${1:-1000}
DELAY_MS=25
MBIT=100
FOLDERS=INBOX,Sent,Drafts,Trash,Archive,Projects,Projects/2025,Projects/2026,Clients

. "$here/proxy.sh"
dovecot_user src one one-pw
dovecot_start src
cyrus_user dst mf-comp mf-comp-pw
cyrus_user dst mf-plain mf-plain-pw
cyrus_user dst mf-lo mf-lo-pw
cyrus_start dst
SRC_DIR=$(dovecot_var src dir)
echo "generating mail..." >&2
python3 "$top_srcdir/tests/tools/gen_mailbox.py" --format maildir --layout fs \
	--out "$SRC_DIR/mail/one" --messages "$N" --seed 42 --big-fraction 0.02 \
	--folders "$FOLDERS" --manifest "$T/one.txt" >/dev/null
chown -R nobody "$SRC_DIR/mail" 2>/dev/null || true
BYTES=$(awk -F'\t' '{s += $3} END {print s}' "$T/one.txt")
dovecot_adm src fetch -u one guid all >/dev/null
proxy "$(cyrus_var dst imap)" "$DELAY_MS" "$MBIT"

run() { # run LABEL URI-OPTIONS [PORT]
	port=${3:-$PROXY_PORT}
	MAILFERRY_SOURCE_PASSWORD=one-pw MAILFERRY_SINK_PASSWORD=$1-pw \
		/usr/bin/time -f "%e %M" -o "$T/time-$1" "$MAILFERRY" migrate --json \
		--state "$T/state-$1.db" "imap://one@127.0.0.1:$(dovecot_var src imap)/?tls=none" \
		"imap://$1@127.0.0.1:$port/?tls=none$2" >"$T/json-$1" 2>"$T/log-$1" ||
		{ tail -30 "$T/log-$1" >&2; fail "$1 failed"; }
}
echo "loopback, no proxy (what Cyrus itself allows)..." >&2
run mf-lo "&compress=no" "$(cyrus_var dst imap)"
echo "with COMPRESS..." >&2
run mf-comp ""
echo "with compress=no..." >&2
run mf-plain "&compress=no"

status=0
for u in mf-comp mf-plain mf-lo; do
	got=$(cyrus_py dst "$u" "$u-pw" <<'PY'
n = 0
typ, boxes = M.list('""', '"*"')
for b in boxes:
    name = b.decode().rsplit(' "." ', 1)[1]
    typ, d = M.select(name, readonly=True)
    n += int(d[0])
print(n)
PY
)
	[ "$got" = "$N" ] || { echo "INCOMPLETE: $u has $got of $N messages" >&2; status=1; }
done
row() { # row LABEL CASE
	python3 - "$T/json-$1" "$T/time-$1" "$BYTES" "$MBIT" "$2" <<'PY'
import json, sys
jpath, tpath, payload, mbit, case = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
ev = [json.loads(l) for l in open(jpath) if l.startswith("{")]
s = [e for e in ev if e.get("event") == "summary"][-1]
io = s["io"]["sink"]
secs, rss = open(tpath).read().split()
secs = float(secs)
floor = payload * 8 / (mbit * 1e6)
print("| %s | %.2f | %.2f | %.0f%% | %.1f MB | %.1f MB | %.0f%% | %.1f MiB |" % (
    case, secs, floor, floor / secs * 100, (io["plain_out"] + io["plain_in"]) / 1e6,
    (io["wire_out"] + io["wire_in"]) / 1e6, 100 * io.get("compress_ratio", 1), int(rss) / 1024))
PY
}
printf 'Dovecot -> Cyrus 3.6, target behind %d ms each way + %d Mbit/s, plain IMAP, %d messages (%s bytes), 9 folders.\n\n' \
	"$DELAY_MS" "$MBIT" "$N" "$BYTES"
printf '| case | seconds | link floor | effective rate / raw link | sink plain | sink wire | wire/plain | max RSS |\n'
printf '|---|---|---|---|---|---|---|---|\n'
row mf-comp "mailferry, COMPRESS=DEFLATE"
row mf-plain "mailferry, compress=no"
row mf-lo "mailferry, loopback without the proxy (server-bound)"
printf '\nLink floor: payload bits / link rate.  COMPRESS speed-up: %s\n' \
	"$(awk -v a="$(cut -d' ' -f1 "$T/time-mf-plain")" -v b="$(cut -d' ' -f1 "$T/time-mf-comp")" 'BEGIN {printf "%.2fx", a / b}')"
exit $status
