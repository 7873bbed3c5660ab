#!/bin/sh
# SPDX-License-Identifier: MIT
# Benchmark (issue 15): how much of a WAN link to the target mailferry
# uses.  Dovecot -> Dovecot, the source on loopback, the target behind
# bench/delay_proxy (25 ms each way, 100 Mbit/s shared by all connections:
# the customer's uplink to Alibaba Mail).  Plain IMAP on both sides.
# Cases, each against the link floor (payload bits / link rate) measured on
# the same bytes, and mbsync (Debian's isync) on the first one:
#   one    1 mailbox, N messages (default 1000), 9 folders
#   many   10 mailboxes x N/10 messages, --jobs 1 and --jobs 8
#   nolit  "one" into a target that does not offer LITERAL+ (every APPEND
#          waits for "+"), default streams and append lanes
#   loop   "one" straight into the target on loopback, no link between, for
#          mailferry and mbsync: what the servers alone take, which no
#          link use can beat, and the "never slower than mbsync on
#          loopback" check
# The servers' mail is on tmpfs (bench/setup.sh; TMPDIR=/tmp for disk).
# Prints a Markdown table and the idle round trips mailferry's sessions
# counted (-v log); exits non-zero only if a copy was incomplete.
#
#   bench/wan.sh [MESSAGES]     (from a built tree, or top_builddir set)
# Extra mailferry options for every run: MF_BENCH_OPTS (e.g. "--streams 1").
# Only some runs: MF_BENCH_RUNS, labels out of "mbsync-one mf-one mf-many1
# mf-many8 mf-nolit mf-nolit8 mbsync-loop mf-loop" (default all).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$(cd "$here/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
export top_srcdir top_builddir
MF_TEST_TIMEOUT=${MF_TEST_TIMEOUT:-3000}
. "$here/setup.sh"
. "$top_srcdir/tests/integration/dovecot.sh"
N=${1:-1000}
DELAY_MS=25
MBIT=100
FOLDERS=INBOX,Sent,Drafts,Trash,Archive,Projects,Projects/2025,Projects/2026,Clients

. "$here/proxy.sh"
# A fresh link to SERVER's IMAP for run LABEL, traced into $T/link-LABEL
# (bench/link_idle.awk reads it); sets PROXY_PORT.
link() { proxy "$(dovecot_var "$2" imap)" "$DELAY_MS" "$MBIT" "$T/link-$1"; }

# --- servers and mail ------------------------------------------------------
dovecot_user src one one-pw
i=0
while [ $i -lt 10 ]; do dovecot_user src "m$i" "m$i-pw"; i=$((i + 1)); done
# The loopback runs are short (about a second) and the machine's noise as
# large as their difference: each tool runs LOOPS times, alternating, and
# the median counts.
LOOPS=3
loop_labels() { echo "$1"; k=2; while [ $k -le $LOOPS ]; do echo "$1-$k"; k=$((k + 1)); done; }
for u in mbsync-one mf-one $(loop_labels mbsync-loop) $(loop_labels mf-loop); do
	dovecot_user dst "$u" "$u-pw"
done
i=0
while [ $i -lt 10 ]; do
	dovecot_user dst "mf-many1-m$i" pw
	dovecot_user dst "mf-many8-m$i" pw
	i=$((i + 1))
done
dovecot_user nolit mf-nolit mf-nolit-pw
dovecot_user nolit mf-nolit8 mf-nolit8-pw
dovecot_start src
dovecot_start dst
# Without LITERAL+ / LITERAL- (dovecot.sh),
# and 16 sessions per account (4 streams x 4 append lanes, mailferry's
# defaults for such a target; Dovecot's default is 10).
DOVECOT_EXTRA_CONF="protocol imap {
  mail_max_userip_connections = 16
  imap_capability = $DOVECOT_NO_LITERAL_PLUS
}" dovecot_start nolit
SRC_DIR=$(dovecot_var src dir)
echo "generating mail..." >&2
python3 "$top_srcdir/tests/tools/gen_mailbox.py" --format maildir --layout fs \
	--out "$SRC_DIR/mail/one" --messages "$N" --seed 42 --big-fraction 0.02 \
	--folders "$FOLDERS" --manifest "$T/one.txt" > /dev/null
: > "$T/many.txt"
i=0
while [ $i -lt 10 ]; do
	python3 "$top_srcdir/tests/tools/gen_mailbox.py" --format maildir --layout fs \
		--out "$SRC_DIR/mail/m$i" --messages "$((N / 10))" --seed "$((100 + i))" \
		--big-fraction 0.02 --folders INBOX,Sent,Archive --manifest "$T/m$i.txt" > /dev/null
	cat "$T/m$i.txt" >> "$T/many.txt"
	i=$((i + 1))
done
chown -R nobody "$SRC_DIR/mail" 2>/dev/null || true
bytes() { awk -F'\t' '{s += $3} END {print s}' "$1"; }
ONE_BYTES=$(bytes "$T/one.txt")
MANY_BYTES=$(bytes "$T/many.txt")
SRC_PORT=$(dovecot_var src imap)
# Warm Dovecot's indexes once so no run pays for it.
for u in one m0 m1 m2 m3 m4 m5 m6 m7 m8 m9; do dovecot_adm src fetch -u "$u" guid all > /dev/null; done
printf 'user,source_password\n' > "$T/accounts.csv"
i=0
while [ $i -lt 10 ]; do printf 'm%d,m%d-pw\n' $i $i >> "$T/accounts.csv"; i=$((i + 1)); done

# --- runs -------------------------------------------------------------------
timed() { # timed LABEL CMD...: wall seconds and max RSS into $T/time-LABEL
	label=$1
	shift
	/usr/bin/time -f "%e %M" -o "$T/time-$label" "$@" > "$T/log-$label" 2>&1 ||
		{ tail -30 "$T/log-$label" >&2; fail "$label failed"; }
}
run_mf() { # run_mf LABEL TARGET_PORT SOURCE_USER EXTRA...
	label=$1 port=$2 user=$3
	shift 3
	# shellcheck disable=SC2086
	MAILFERRY_SOURCE_PASSWORD=$user-pw MAILFERRY_SINK_PASSWORD=$label-pw \
		timed "$label" "$MAILFERRY" migrate -v --state "$T/state-$label.db" \
		--connections-per-host 64 \
		"imap://$user@127.0.0.1:$SRC_PORT/?tls=none" "imap://$label@127.0.0.1:$port/?tls=none" \
		${MF_BENCH_OPTS:-} "$@"
}
run_mf_many() { # run_mf_many LABEL JOBS: mailbox mI into target LABEL-mI
	# shellcheck disable=SC2086
	MAILFERRY_SINK_PASSWORD=pw \
		timed "$1" "$MAILFERRY" migrate -v --state "$T/state-$1.db" --jobs "$2" \
		--connections-per-host 64 \
		--accounts "$T/accounts.csv" \
		"imap://{user}@127.0.0.1:$SRC_PORT/?tls=none" \
		"imap://$1-{user}@127.0.0.1:$PROXY_PORT/?tls=none" \
		${MF_BENCH_OPTS:-}
}
run_mbsync() { # run_mbsync LABEL TARGET_PORT SOURCE_USER
	mkdir -p "$T/mbsync-$1"
	cat > "$T/mbsync-$1/rc" <<RC
IMAPAccount far
Host 127.0.0.1
Port $SRC_PORT
User $3
Pass $3-pw
SSLType None
AuthMechs LOGIN
PipelineDepth 64

IMAPStore far
Account far

IMAPAccount near
Host 127.0.0.1
Port $2
User $1
Pass $1-pw
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
	timed "$1" mbsync -q -c "$T/mbsync-$1/rc" -a
}

RUNS=${MF_BENCH_RUNS:-mbsync-one mf-one mf-many1 mf-many8 mf-nolit mf-nolit8 mbsync-loop mf-loop}
wanted() { case " $RUNS " in *" $1 "*) echo "$1..." >&2 ;; *) return 1 ;; esac; }
if wanted mbsync-one; then link mbsync-one dst && run_mbsync mbsync-one "$PROXY_PORT" one; fi
if wanted mf-one; then link mf-one dst && run_mf mf-one "$PROXY_PORT" one; fi
if wanted mf-many1; then link mf-many1 dst && run_mf_many mf-many1 1; fi
if wanted mf-many8; then link mf-many8 dst && run_mf_many mf-many8 8; fi
if wanted mf-nolit; then link mf-nolit nolit && run_mf mf-nolit "$PROXY_PORT" one; fi
if wanted mf-nolit8; then
	link mf-nolit8 nolit && run_mf mf-nolit8 "$PROXY_PORT" one --streams 8
fi
k=1
while [ $k -le $LOOPS ]; do
	sfx=$([ $k = 1 ] || echo "-$k")
	if wanted mbsync-loop; then run_mbsync "mbsync-loop$sfx" "$(dovecot_var dst imap)" one; fi
	if wanted mf-loop; then run_mf "mf-loop$sfx" "$(dovecot_var dst imap)" one; fi
	k=$((k + 1))
done

# --- checks and table ------------------------------------------------------
status=0
check() { # check SERVER USER EXPECTED (of a wanted run)
	case " $RUNS " in *" $(echo "$2" | sed 's/-m[0-9]*$//; s/-[0-9]$//') "*) ;; *) return 0 ;; esac
	got=$(dovecot_adm "$1" search -u "$2" mailbox '*' all | wc -l)
	[ "$got" = "$3" ] || { echo "INCOMPLETE: $2 has $got of $3 messages" >&2; status=1; }
}
check dst mbsync-one "$N"
check dst mf-one "$N"
for u in $(loop_labels mbsync-loop) $(loop_labels mf-loop); do check dst "$u" "$N"; done
i=0
while [ $i -lt 10 ]; do
	check dst "mf-many1-m$i" "$((N / 10))"
	check dst "mf-many8-m$i" "$((N / 10))"
	i=$((i + 1))
done
check nolit mf-nolit "$N"
check nolit mf-nolit8 "$N"

secs() { cut -d' ' -f1 "$T/time-$1"; }
rss() { cut -d' ' -f2 "$T/time-$1"; }
# Idle round trips the sink sessions counted (lib/imapc, -v log).
rtts() { sed -n 's/.*imap-sink.* \([0-9][0-9]*\) idle round trips.*/\1/p' "$T/log-$1" 2>/dev/null |
	awk '{s += $1} END {print s + 0}'; }
# Start-up, link idle while mail moved, idle in the last 10% of the bytes
# (seconds, bench/link_idle.awk); "- - -" without a link.
idle() { if [ -f "$T/link-$1" ]; then awk -v mbit="$MBIT" -f "$here/link_idle.awk" "$T/link-$1"; else echo "- - -"; fi; }
# The label of LABEL's loopback runs that took the median time.
median() { for l in $(loop_labels "$1"); do [ ! -f "$T/time-$l" ] || echo "$(secs "$l") $l"; done |
	sort -n | awk '{a[NR] = $2} END {if (NR) print a[int((NR + 1) / 2)]}'; }
MB_LOOP=$(median mbsync-loop)
MF_LOOP=$(median mf-loop)
row() { # row CASE TOOL LABEL BYTES (of a wanted run)
	[ -n "$3" ] || return 0
	[ -f "$T/time-$3" ] || return 0
	awk -v c="$1" -v tool="$2" -v s="$(secs "$3")" -v r="$(rss "$3")" -v b="$4" \
		-v mbit="$MBIT" -v rt="$5" -v idle="$(idle "$3")" 'BEGIN {
		floor = b * 8 / (mbit * 1e6)
		split(idle, i, " ")
		f = sprintf("%.2f", floor)
		use = sprintf("%.0f%%", floor / s * 100)
		if (i[1] == "-") f = use = "-" # no link: nothing to use
		printf "| %s | %s | %.2f | %s | %s | %s | %s | %s | %s | %.1f MiB |\n", c,
			tool, s, f, use, i[1], i[2], i[3], rt, r / 1024 }'
}
printf 'Dovecot -> Dovecot, target behind %d ms each way + %d Mbit/s (shared), plain IMAP.\n\n' \
	"$DELAY_MS" "$MBIT"
printf '| case | tool | seconds | link floor | link use | start-up | link idle | idle in last 10%% | idle round trips (sink) | max RSS |\n'
printf '|---|---|---|---|---|---|---|---|---|---|\n'
row "1 mailbox, $N messages, 9 folders" mbsync mbsync-one "$ONE_BYTES" -
row "1 mailbox, $N messages, 9 folders" mailferry mf-one "$ONE_BYTES" "$(rtts mf-one)"
row "10 mailboxes x $((N / 10)), --jobs 1" mailferry mf-many1 "$MANY_BYTES" "$(rtts mf-many1)"
row "10 mailboxes x $((N / 10)), --jobs 8" mailferry mf-many8 "$MANY_BYTES" "$(rtts mf-many8)"
row "1 mailbox, target without LITERAL+" mailferry mf-nolit "$ONE_BYTES" "$(rtts mf-nolit)"
row "same, --streams 8" mailferry mf-nolit8 "$ONE_BYTES" "$(rtts mf-nolit8)"
row "1 mailbox, no link (loopback, median of $LOOPS)" mbsync "$MB_LOOP" "$ONE_BYTES" -
row "1 mailbox, no link (loopback, median of $LOOPS)" mailferry "$MF_LOOP" "$ONE_BYTES" \
	"$(rtts "$MF_LOOP")"
[ ! -f "$T/time-mbsync-one" ] || [ ! -f "$T/time-mf-one" ] ||
	printf '\nLink floor: payload bits / link rate.  mailferry vs mbsync on case 1: %s\n' \
	"$(awk -v m="$(secs mbsync-one)" -v f="$(secs mf-one)" 'BEGIN {printf "%.2fx", m / f}')"
[ -z "$MB_LOOP" ] || [ -z "$MF_LOOP" ] ||
	printf 'Loopback, no link: mailferry vs mbsync %s; mailferry alone takes %s of the link floor\n' \
	"$(awk -v m="$(secs "$MB_LOOP")" -v f="$(secs "$MF_LOOP")" 'BEGIN {printf "%.2fx", m / f}')" \
	"$(awk -v f="$(secs "$MF_LOOP")" -v b="$ONE_BYTES" -v mbit="$MBIT" \
		'BEGIN {printf "%.0f%%", f / (b * 8 / (mbit * 1e6)) * 100}')"
exit $status
