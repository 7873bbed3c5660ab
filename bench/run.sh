#!/bin/sh
# SPDX-License-Identifier: MIT
# Benchmark (issue 3): mailferry against mbsync (Debian's isync) on the same
# Dovecot -> Dovecot copy, in the same run: directly on loopback, and through
# bench/delay_proxy (25 ms each way, 100 Mbit/s) to look like a WAN.
# Figures are reported as ratios against mbsync measured in this run.
#
#   bench/run.sh [MESSAGES]        (default 3000; run from a built tree,
#                                   or set top_builddir to the build dir)
#   bench/run.sh workers [PER]     bench/workers.sh instead (issue 14: 3
#                                   workers vs 1 on 12 mailboxes, PostgreSQL)
# Prints a Markdown table; exits non-zero only if a copy was incomplete.
set -eu
case ${1:-} in
workers) shift; exec "$(dirname "$0")/workers.sh" "$@" ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$(cd "$here/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
export top_srcdir top_builddir
MF_TEST_TIMEOUT=${MF_TEST_TIMEOUT:-3000}
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/dovecot.sh"
N=${1:-3000}
DELAY_MS=25
MBIT=100

. "$here/proxy.sh"
dovecot_user src bench bench-pw
for u in mbsync-direct mf-direct mbsync-wan mf-wan; do dovecot_user dst "$u" "$u-pw"; done
dovecot_start src
dovecot_start dst
SRC_DIR=$(dovecot_var src dir)
echo "generating $N messages..." >&2
python3 "$top_srcdir/tests/tools/gen_mailbox.py" --format maildir --layout fs \
	--out "$SRC_DIR/mail/bench" --messages "$N" --seed 42 --big-fraction 0.03 \
	--folders INBOX,Sent,Projects,Projects/2024,Archive --manifest "$T/manifest.txt"
chown -R nobody "$SRC_DIR/mail" 2>/dev/null || true
BYTES=$(awk -F'\t' '{s += $3} END {print s}' "$T/manifest.txt")
SRC_PORT=$(dovecot_var src imap)
DST_PORT=$(dovecot_var dst imap)
# Warm Dovecot's indexes once so neither tool pays for it.
dovecot_adm src fetch -u bench 'guid' all > /dev/null

run_mbsync() { # run_mbsync LABEL SRC_PORT DST_PORT DST_USER
	mkdir -p "$T/mbsync-$1"
	cat > "$T/mbsync-$1/rc" <<RC
IMAPAccount far
Host 127.0.0.1
Port $2
User bench
Pass bench-pw
SSLType None
AuthMechs LOGIN
PipelineDepth 64

IMAPStore far
Account far

IMAPAccount near
Host 127.0.0.1
Port $3
User $4
Pass $4-pw
SSLType None
AuthMechs LOGIN
PipelineDepth 64

IMAPStore near
Account near

Channel copy
Far :far:
Near :near:
Patterns *
Create Near
Sync Pull New
Expunge None
CopyArrivalDate yes
SyncState $T/mbsync-$1/
RC
	/usr/bin/time -f "%e %M" -o "$T/time-$1" mbsync -q -c "$T/mbsync-$1/rc" -a >"$T/log-$1" 2>&1 ||
		{ cat "$T/log-$1" >&2; fail "mbsync $1 failed"; }
}

run_mailferry() { # run_mailferry LABEL SRC_PORT DST_PORT DST_USER
	MAILFERRY_SOURCE_PASSWORD=bench-pw MAILFERRY_SINK_PASSWORD="$4-pw" \
		/usr/bin/time -f "%e %M" -o "$T/time-$1" "$MAILFERRY" migrate -q \
		--state "$T/state-$1.db" --connections-per-host 8 \
		"imap://bench@127.0.0.1:$2/?tls=none" "imap://$4@127.0.0.1:$3/?tls=none" \
		>"$T/log-$1" 2>&1 || { cat "$T/log-$1" >&2; fail "mailferry $1 failed"; }
}

count_target() { dovecot_adm dst search -u "$1" mailbox '*' all | wc -l; }

echo "direct: mbsync..." >&2
run_mbsync mbsync-direct "$SRC_PORT" "$DST_PORT" mbsync-direct
echo "direct: mailferry..." >&2
run_mailferry mf-direct "$SRC_PORT" "$DST_PORT" mf-direct
proxy "$SRC_PORT" "$DELAY_MS" "$MBIT"
P_SRC=$PROXY_PORT
proxy "$DST_PORT" "$DELAY_MS" "$MBIT"
P_DST=$PROXY_PORT
echo "wan: mbsync..." >&2
run_mbsync mbsync-wan "$P_SRC" "$P_DST" mbsync-wan
echo "wan: mailferry..." >&2
run_mailferry mf-wan "$P_SRC" "$P_DST" mf-wan

status=0
for u in mbsync-direct mf-direct mbsync-wan mf-wan; do
	got=$(count_target "$u")
	[ "$got" = "$N" ] || { echo "INCOMPLETE: $u has $got of $N messages" >&2; status=1; }
done

secs() { cut -d' ' -f1 "$T/time-$1"; }
rss() { cut -d' ' -f2 "$T/time-$1"; }
awk -v n="$N" -v bytes="$BYTES" -v mbit="$MBIT" -v delay="$DELAY_MS" \
	-v md="$(secs mbsync-direct)" -v fd="$(secs mf-direct)" \
	-v mw="$(secs mbsync-wan)" -v fw="$(secs mf-wan)" \
	-v rmd="$(rss mbsync-direct)" -v rfd="$(rss mf-direct)" \
	-v rmw="$(rss mbsync-wan)" -v rfw="$(rss mf-wan)" 'BEGIN {
	mb = bytes / 1048576
	printf "Copy of %d messages (%.1f MiB), Dovecot -> Dovecot, IMAP without TLS.\n\n", n, mb
	printf "| link | tool | seconds | messages/s | MiB/s | link use | max RSS | vs mbsync |\n"
	printf "|---|---|---|---|---|---|---|---|\n"
	printf "| loopback | mbsync | %.2f | %.0f | %.1f | - | %.1f MiB | 1.00 |\n", md, n/md, mb/md, rmd/1024
	printf "| loopback | mailferry | %.2f | %.0f | %.1f | - | %.1f MiB | %.2f |\n", fd, n/fd, mb/fd, rfd/1024, md/fd
	printf "| %d ms + %d Mbit/s | mbsync | %.2f | %.0f | %.1f | %.0f%% | %.1f MiB | 1.00 |\n", delay, mbit, mw, n/mw, mb/mw, bytes*8/mw/(mbit*1e6)*100, rmw/1024
	printf "| %d ms + %d Mbit/s | mailferry | %.2f | %.0f | %.1f | %.0f%% | %.1f MiB | %.2f |\n", delay, mbit, fw, n/fw, mb/fw, bytes*8/fw/(mbit*1e6)*100, rfw/1024, mw/fw
	printf "\n\"vs mbsync\" is mbsync time / mailferry time (above 1: mailferry faster). Link use is payload bits / (time x link rate).\n"
}'
exit $status
