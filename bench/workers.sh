#!/bin/sh
# SPDX-License-Identifier: MIT
# Benchmark (issue 14): 3 workers against 1 on one run of 12 mailboxes.
# Dovecot -> Dovecot, the source on loopback, the target behind ONE
# bench/delay_proxy (25 ms each way, 100 Mbit/s shared by every connection
# of every worker: one uplink), the run's state in a PostgreSQL the bench
# starts (tests/integration/postgres.sh).  Plain IMAP on both sides.
# Cases, each into fresh target mailboxes and a fresh state, same bytes:
#   1 worker   --jobs 4
#   3 workers  --jobs 4 each (names w1 w2 w3, started together)
#   1 worker   --jobs 6
#   3 workers  --jobs 2 each (the parallelism of one --jobs 6, split)
#   1 process  --jobs 4 on a SQLite state file (what the shared store costs)
# Default streams (4) everywhere; --connections-per-host 128 (run-wide with
# PostgreSQL, and one key for source and target here, both 127.0.0.1: it
# never binds).  Prints Markdown tables: wall time, messages, bytes, link
# floor (payload bits / link rate), link use (floor / time), the ratio to
# the 1-worker case with the same --jobs per worker or in all, the
# PostgreSQL connections at peak (pg_stat_activity rows with
# application_name 'mailferry', sampled every ~0.1 s from one psql session;
# and the most one worker process held, by ss); how the mailboxes were
# shared out; CPU seconds per component (workers, both Dovecots,
# PostgreSQL, proxy); sessions and transactions each run cost the database.
# Exits non-zero if a target mailbox does not hold as many messages as its
# source, or a worker failed.
#
#   bench/workers.sh [MESSAGES_PER_MAILBOX]   (default 80; from a built
#                                             tree, or top_builddir set)
# Extra mailferry options for every worker: MF_BENCH_OPTS.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$(cd "$here/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
export top_srcdir top_builddir
MF_TEST_TIMEOUT=${MF_TEST_TIMEOUT:-1200}
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/dovecot.sh"
. "$top_srcdir/tests/integration/postgres.sh"
dovecot_available || fail "dovecot not installed"
postgres_available || fail "PostgreSQL server binaries not installed (Debian's postgresql)"
N=12
PER=${1:-80}
DELAY_MS=25
MBIT=100
RUN_LIMIT=${RUN_LIMIT:-300} # seconds, each worker process
# Run-wide cap per host name; source and target are both 127.0.0.1, so one
# key counts both sides: 3 workers x 4 jobs x 4 streams x 2 sides = 96.
CONNS=128
FOLDERS=INBOX,Sent,Archive,Projects
CASES="w1j4 w3j4 w1j6 w3j2 s1j4"
workers_of() { case $1 in ?1*) echo 1 ;; ?3*) echo 3 ;; esac; }
jobs_of() { echo "${1#??j}"; }
# w...: PostgreSQL state; s1j4: the same run with SQLite (one process, its
# state file): what the shared store costs.
state_of() { case $1 in s*) echo SQLite ;; *) echo PostgreSQL ;; esac; }

. "$here/proxy.sh"

# --- servers, mail, database ------------------------------------------------
for i in $(seq 1 $N); do
	dovecot_user src "m$i" "m$i-pw"
	for c in $CASES; do dovecot_user dst "$c-m$i" pw; done
done
dovecot_start src
dovecot_start dst
postgres_start pg
PGPASSWORD=$(postgres_var pg password)
export PGPASSWORD
PG_PORT=$(postgres_var pg port)
SRC_DIR=$(dovecot_var src dir)
echo "generating $N x $PER messages..." >&2
: > "$T/all.txt"
for i in $(seq 1 $N); do
	python3 "$top_srcdir/tests/tools/gen_mailbox.py" --format maildir --layout fs \
		--out "$SRC_DIR/mail/m$i" --messages "$PER" --seed "$((200 + i))" \
		--big-fraction 0.02 --folders "$FOLDERS" --manifest "$T/m$i.txt" > /dev/null
	cat "$T/m$i.txt" >> "$T/all.txt"
done
chown -R nobody "$SRC_DIR/mail" 2>/dev/null || true
MSGS=$(wc -l < "$T/all.txt")
BYTES=$(awk -F'\t' '{s += $3} END {print s}' "$T/all.txt")
SRC_PORT=$(dovecot_var src imap)
# Warm Dovecot's indexes once so no run pays for it.
for i in $(seq 1 $N); do dovecot_adm src fetch -u "m$i" guid all > /dev/null; done
proxy "$(dovecot_var dst imap)" "$DELAY_MS" "$MBIT"
P_DST=$PROXY_PORT
printf 'user,source_password\n' > "$T/accounts.csv"
for i in $(seq 1 $N); do printf 'm%d,m%d-pw\n' "$i" "$i" >> "$T/accounts.csv"; done

# --- runs -------------------------------------------------------------------
# Peak PostgreSQL connections while a case runs: in all (pg_stat_activity:
# the workers' sessions carry application_name 'mailferry'; psql's own do
# not) and the most any one worker process held (ss, by pid).
sample_pg() { # sample_pg LABEL: until $T/stop-LABEL exists
	# One psql session for all samples (a new one each time would cost
	# the server more than the workers do); ss counts per process.
	: > "$T/ssproc-$1"
	while [ ! -e "$T/stop-$1" ]; do
		echo "SELECT count(*) FROM pg_stat_activity WHERE application_name='mailferry';"
		ss -Htnp state established "( dport = :$PG_PORT )" 2>/dev/null |
			grep -o 'pid=[0-9]*' | sort | uniq -c |
			awk '$1 > m {m = $1} END {print m + 0}' >> "$T/ssproc-$1"
		sleep 0.1
	done | postgres_psql pg -d postgres -At > "$T/pgsamples-$1" 2>&1
	max() { awk '$1 > m {m = $1} END {print m + 0}' "$1"; }
	max "$T/pgsamples-$1" > "$T/pgpeak-$1"
	max "$T/ssproc-$1" > "$T/pgproc-$1"
}

# CPU ticks (user + system, with reaped children) of each process tree
# given by its root pid, one line each: Dovecot's and PostgreSQL's
# per-connection processes are counted once their parent has reaped them.
tree_cpu() {
	python3 - "$@" <<'PY'
import os, sys
procs = {}
for p in os.listdir("/proc"):
    if not p.isdigit():
        continue
    try:
        s = open("/proc/%s/stat" % p).read()
    except OSError:
        continue
    r = s[s.rindex(")") + 2:].split()
    procs[int(p)] = (int(r[1]), sum(int(x) for x in r[11:15]))
kids = {}
for q, (pp, _) in procs.items():
    kids.setdefault(pp, []).append(q)
for root in sys.argv[1:]:
    tot, todo = 0, [int(root)]
    while todo:
        q = todo.pop()
        if q in procs:
            tot += procs[q][1]
            todo += kids.get(q, [])
    print(tot)
PY
}
cpu_roots() { echo "$(dovecot_var src pid) $(dovecot_var dst pid) $(postgres_var pg pid) $PROXY_PID"; }

run_case() { # run_case LABEL: its workers started together, wall time in $T/secs-LABEL
	label=$1
	w=$(workers_of "$label")
	j=$(jobs_of "$label")
	case $label in
	s*) url=$T/state-$label.db ;;
	*)
		postgres_psql pg -d postgres -c "CREATE DATABASE $label" > /dev/null
		url="postgresql://mf@127.0.0.1:$PG_PORT/$label"
		;;
	esac
	sample_pg "$label" &
	sampler=$!
	mf_on_exit ": > '$T/stop-$label'"
	shared=
	[ "$(state_of "$label")" = SQLite ] || shared=1
	pids=""
	head -n 1 /proc/stat > "$T/stat0-$label"
	# shellcheck disable=SC2046
	tree_cpu $(cpu_roots) > "$T/tree0-$label"
	t0=$(date +%s%N)
	for k in $(seq 1 "$w"); do
		# shellcheck disable=SC2086
		MAILFERRY_SINK_PASSWORD=pw /usr/bin/time -f "%U %S" -o "$T/cpu-$label-w$k" \
			timeout -k 5 "$RUN_LIMIT" "$MAILFERRY" migrate -v \
			--state "$url" ${shared:+--worker "w$k"} --jobs "$j" --connections-per-host "$CONNS" \
			--accounts "$T/accounts.csv" \
			"imap://{user}@127.0.0.1:$SRC_PORT/?tls=none" \
			"imap://$label-{user}@127.0.0.1:$P_DST/?tls=none" \
			${MF_BENCH_OPTS:-} > "$T/log-$label-w$k" 2>&1 &
		pids="$pids $!"
		mf_on_exit "kill $! 2>/dev/null || true"
	done
	rc=0
	for p in $pids; do wait "$p" || rc=$?; done
	t1=$(date +%s%N)
	head -n 1 /proc/stat > "$T/stat1-$label"
	# shellcheck disable=SC2046
	tree_cpu $(cpu_roots) > "$T/tree1-$label"
	: > "$T/stop-$label"
	wait "$sampler" || true
	echo $(( (t1 - t0) / 1000000 )) | awk '{printf "%.2f\n", $1 / 1000}' > "$T/secs-$label"
	# Sessions the workers opened on this case's database, and what they
	# did (the statistics reach the view within a second of a session's end).
	case $label in
	s*) echo "- - -" > "$T/pgstat-$label"; echo "(one process)" > "$T/split-$label" ;;
	*)
		sleep 1
		postgres_psql pg -d postgres -At -F ' ' -c "SELECT sessions, xact_commit + xact_rollback,
			tup_inserted + tup_updated + tup_deleted FROM pg_stat_database WHERE datname='$label'" \
			> "$T/pgstat-$label"
		postgres_psql pg -d "$label" -At -c \
			"SELECT worker || ':' || count(*) FROM mailboxes GROUP BY worker ORDER BY worker" |
			tr '\n' ' ' > "$T/split-$label"
		;;
	esac
	if [ "$rc" != 0 ]; then
		for k in $(seq 1 "$w"); do tail -15 "$T/log-$label-w$k" >&2; done
		echo "FAILED: $label: a worker exited $rc" >&2
		status=1
	fi
}

status=0
for c in $CASES; do
	echo "$c: $(workers_of "$c") worker(s), --jobs $(jobs_of "$c") each..." >&2
	run_case "$c"
done

# --- checks and table ------------------------------------------------------
for c in $CASES; do
	for i in $(seq 1 $N); do
		want=$(wc -l < "$T/m$i.txt")
		got=$(dovecot_adm dst search -u "$c-m$i" mailbox '*' all | wc -l)
		[ "$got" = "$want" ] ||
			{ echo "INCOMPLETE: $c-m$i has $got of $want messages" >&2; status=1; }
	done
done

secs() { cat "$T/secs-$1"; }
# CPU seconds (user + system) of all workers of a case.
cpu() { for f in "$T"/cpu-"$1"-w*; do tail -n 1 "$f"; done | awk '{s += $1 + $2} END {printf "%.1f", s}'; }
# Idle round trips the sink sessions counted (lib/imapc, -v log).
rtts() { cat "$T"/log-"$1"-w* | sed -n 's/.*imap-sink.* \([0-9][0-9]*\) idle round trips.*/\1/p' |
	awk '{s += $1} END {print s + 0}'; }
# The whole machine's CPU busy share while the case ran (/proc/stat: all
# processes, Dovecot, PostgreSQL and the proxy too), in % of all cores.
busy() { cat "$T/stat0-$1" "$T/stat1-$1" | awk '{ t = 0; for (i = 2; i <= NF; i++) t += $i
		idle = $5 + $6; if (NR == 1) { t0 = t; i0 = idle } else { t1 = t; i1 = idle } }
	END { printf "%.0f%%", (1 - (i1 - i0) / (t1 - t0)) * 100 }'; }
row() { # row LABEL BASELINE_LABEL
	awk -v c="$1" -v w="$(workers_of "$1")" -v j="$(jobs_of "$1")" -v s="$(secs "$1")" \
		-v st="$(state_of "$1")" \
		-v base="$(secs "$2")" -v m="$MSGS" -v b="$BYTES" -v mbit="$MBIT" \
		-v rt="$(rtts "$1")" -v pg="$(cat "$T/pgpeak-$1")" -v pp="$(cat "$T/pgproc-$1")" 'BEGIN {
		floor = b * 8 / (mbit * 1e6)
		printf "| %d x --jobs %d, %s | %.2f | %d | %.1f MiB | %.2f | %.0f%% | %s | %.2f | %s |\n",
			w, j, st, s, m, b / 1048576, floor, floor / s * 100, rt, s / base,
			st == "SQLite" ? "-" : sprintf("%d (%d)", pg, pp) }'
}
printf '%d Dovecot mailboxes x %d messages (%d folders), Dovecot -> Dovecot, target behind one\n' \
	"$N" "$PER" "$(echo "$FOLDERS" | tr ',' '\n' | wc -l)"
printf 'delay proxy (%d ms each way, %d Mbit/s shared by all workers), plain IMAP, state in PostgreSQL\n(but for the SQLite row).\n\n' \
	"$DELAY_MS" "$MBIT"
printf '| run | seconds | messages | bytes | link floor | link use | idle round trips (sink) | time vs 1 worker | PG connections at peak (most by one worker) |\n'
printf '|---|---|---|---|---|---|---|---|---|\n'
row w1j4 w1j4
row w3j4 w1j4
row w1j6 w1j6
row w3j2 w1j6
row s1j4 w1j4
printf '\nPG connections: peak of pg_stat_activity rows with application_name mailferry (all\n'
printf 'workers), and in brackets the most TCP sessions to the server one worker process held (ss);\n'
printf 'both sampled every ~0.1 s, at slightly different instants.\n'
printf 'Link floor: payload bits / link rate.  "time vs 1 worker": seconds / seconds of 1 worker with\n'
printf 'the same --jobs per worker (3 x --jobs 4 against 1 x --jobs 4) or the same total (3 x --jobs 2\n'
printf 'against 1 x --jobs 6; SQLite against 1 x --jobs 4 on PostgreSQL); below 1: faster.  Mailboxes per worker:\n'
for c in $CASES; do printf '  %s: %s\n' "$c" "$(cat "$T/split-$c")"; done
printf '\nCPU seconds (user + system) while each case ran, by component:\n\n'
printf '| run | mailferry workers | source Dovecot | target Dovecot | PostgreSQL | delay proxy | machine busy (all %d cores, everything) |\n' "$(nproc)"
printf '|---|---|---|---|---|---|---|\n'
tck=$(getconf CLK_TCK)
for c in $CASES; do
	paste "$T/tree0-$c" "$T/tree1-$c" | awk -v c="$(workers_of "$c") x --jobs $(jobs_of "$c"), $(state_of "$c")" \
		-v mf="$(cpu "$c")" -v busy="$(busy "$c")" -v hz="$tck" '
		{ d[NR] = ($2 - $1) / hz }
		END { printf "| %s | %s | %.1f | %.1f | %.1f | %.1f | %s |\n", c, mf, d[1], d[2], d[3], d[4], busy }'
done
printf '\nPostgreSQL includes the sampler'"'"'s one psql session (a query every ~0.1 s).\n'
printf '\nPostgreSQL work of each case (pg_stat_database of its database):\n\n'
printf '| run | sessions opened | transactions | rows written |\n|---|---|---|---|\n'
for c in $CASES; do
	read -r ses xact rows < "$T/pgstat-$c"
	[ "$ses" = - ] && continue
	printf '| %s x --jobs %s | %s | %s | %s |\n' "$(workers_of "$c")" "$(jobs_of "$c")" "$ses" "$xact" "$rows"
done
exit $status
