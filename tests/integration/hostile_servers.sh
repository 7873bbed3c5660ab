#!/bin/sh
# SPDX-License-Identifier: MIT
# Hostile servers (issue 17): `mailferry migrate` against the scripted
# IMAP and POP3 servers of tests/fake in the modes real servers never use
# (an IMAP source, an IMAP APPEND target, a POP3 source): a literal
# announced as 10^11 bytes and trickled, a 10 MiB line without CRLF,
# 10,000-deep parentheses in FETCH (that message alone fails) and LIST,
# FETCH answers for UIDs and
# sequence numbers never asked, BYE in the middle of a literal, servers
# that stop answering after login or in the middle of a FETCH or an
# APPEND, servers that drip a FETCH body, a LIST, an APPEND's answer or a
# RETR one byte every --timeout/2 s (cut as too slow within twice
# --timeout + 5 s: net.h, slow peers), a target answering the lookup of an unconfirmed APPEND with a
# 10^11-byte literal, UIDVALIDITY changing between two runs (into a real Dovecot), a
# RETR that never ends, a UIDL listing line of 10 MiB, UIDL ids shared by
# distinct messages.  For every case: no crash (exit status below 128, no
# sanitizer report), wall time bounded by --timeout, an error naming the
# account, folder and message and what went wrong, and a consistent
# state: a re-run against a well-behaved server of the same mailbox
# (with --only-failed where a message was recorded as failed) completes
# with nothing lost or doubled, counted on the target.  Every fake server
# is on 127.0.0.1 and stops by itself.  HOSTILE_KEEP=DIR keeps each run's
# output in DIR.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/dovecot.sh"
. "$top_srcdir/tests/integration/imap_lib.sh"

IFAKE="$top_srcdir/tests/fake/imap_server.py"
PFAKE="$top_srcdir/tests/fake/pop3_server.py"
TO=3       # --timeout of every run
LIFE=40    # seconds each fake server lives at most
RERUN=30   # seconds a run against a well-behaved server may take (loaded CI)
DRIPMAX=$((TO * 2 + 5)) # a drip-feeding server is cut within this
FAKE_DRIP=$(awk -v t="$TO" 'BEGIN { print t / 2 }') # one byte every TO/2 s
export FAKE_DRIP
echo secret >"$T/pw"
export MAILFERRY_SOURCE_PASSWORD=secret

fpid=""
stopfake() { [ -z "$fpid" ] || { kill "$fpid" 2>/dev/null || true; wait "$fpid" 2>/dev/null || true; }; fpid=""; }
mf_on_exit stopfake
ifake() { stopfake; imap_fake "$1" "$2" "$LIFE"; } # SCENARIO LOGNAME: sets PORT, LOG
# The POP3 maildrop.
mkdir -p "$T/drop"
for n in 1 2 3; do
	printf 'From: fake@example.com\nSubject: pop %s\nMessage-ID: <%s@fake>\n\nbody %s\n' \
		"$n" "$n" "$n" >"$T/drop/$n"
done
# Well-behaved servers of the same mailboxes for the re-runs, for the
# whole test (each stops by itself after 280 s).
python3 "$IFAKE" good "$T/good.port" "$T/good.log" 280 &
gpid=$!
mf_on_exit "kill $gpid 2>/dev/null || true"
python3 "$PFAKE" --dir "$T/drop" --mode normal --port-file "$T/pgood.port" \
	--log "$T/pgood.cmds" --lifetime 280 --max-sessions 100 &
ppid=$!
mf_on_exit "kill $ppid 2>/dev/null || true"
pfake() { # MODE LOGNAME DROP: a POP3 fake; sets PORT, LOG
	stopfake
	rm -f "$T/$2.port"
	python3 "$PFAKE" --dir "$3" --mode "$1" --port-file "$T/$2.port" \
		--log "$T/$2.cmds" --lifetime "$LIFE" --drip "$FAKE_DRIP" &
	fpid=$!
	wait_port_file "$T/$2.port" "fake POP3 server ($1)"
	PORT=$WAITED_PORT
	LOG="$T/$2.cmds"
}

# run NAME MAXSECS EXPECT-RC ARGS...: mailferry migrate ARGS into
# $T/NAME.out; fails on a signal or sanitizer report, on a wall time over
# MAXSECS, or on an exit status other than EXPECT-RC ("nz": any non-zero).
ncases=0
figures=""
run() {
	name=$1 max=$2 want=$3
	shift 3
	start=$(date +%s.%N)
	rc=0
	mf migrate "$@" --timeout "$TO" --retries 1 --streams 1 >"$T/$name.out" 2>&1 || rc=$?
	took=$(echo "$start $(date +%s.%N)" | awk '{ printf "%.1f", $2 - $1 }')
	# HOSTILE_KEEP=DIR keeps every run's output there (to read the errors).
	[ -z "${HOSTILE_KEEP:-}" ] || cp "$T/$name.out" "$HOSTILE_KEEP/"
	ncases=$((ncases + 1))
	figures="$figures $name=${took}s/rc$rc"
	[ "$rc" -lt 128 ] || { cat "$T/$name.out"; fail "$name: killed by a signal (exit $rc)"; }
	if grep -q 'AddressSanitizer\|LeakSanitizer\|runtime error:' "$T/$name.out"; then
		cat "$T/$name.out"
		fail "$name: sanitizer report"
	fi
	awk -v t="$took" -v m="$max" 'BEGIN { exit !(t <= m) }' ||
		{ cat "$T/$name.out"; fail "$name: took ${took}s, more than ${max}s"; }
	case $want in
	nz) [ "$rc" -ne 0 ] || { cat "$T/$name.out"; fail "$name: succeeded"; } ;;
	*) [ "$rc" -eq "$want" ] || { cat "$T/$name.out"; fail "$name: exit $rc, expected $want"; } ;;
	esac
}
says() { # NAME REGEX: the run's output names what went wrong
	grep -Eq "$2" "$T/$1.out" || { cat "$T/$1.out"; fail "$1: no error matching '$2'"; }
}
# The fake's 3 messages, each exactly once, nothing else, in a maildir.
three() { # MAILDIR WHAT
	assert_eq "$(maildir_count "$1")" 3 "$2: messages"
	for n in 1 2 3; do
		assert_eq "$(grep -rl "^Message-ID: <$n@fake>" "$1" | wc -l)" 1 "$2: copies of message $n"
	done
	if grep -rlq 'EVIL\|BYE' "$1"; then fail "$2: foreign bytes stored"; fi
}

# ---- IMAP source -> maildir --------------------------------------------

isrc() { # NAME MAXSECS EXPECT-RC [options]: fake source -> $T/md-NAME
	n=$1 mx=$2 rcw=$3
	shift 3
	run "$n" "$mx" "$rcw" "imap://alice@127.0.0.1:$PORT/?tls=none" "maildir:$T/md-$n" \
		--state "$T/$n.db" --source-password-file "$T/pw" "$@"
}
# good_again NAME [of]: the same mailbox from a well-behaved server, same
# state: a re-run (then --only-failed when a message was recorded as
# failed for good); the 3 messages once each.
wait_port_file "$T/good.port" "good fake IMAP server"
GPORT=$WAITED_PORT
good_again() {
	run "$1-re" "$RERUN" 0 "imap://alice@127.0.0.1:$GPORT/?tls=none" "maildir:$T/md-$1" \
		--state "$T/$1.db" --source-password-file "$T/pw"
	[ "${2:-}" != of ] ||
		run "$1-of" "$RERUN" 0 "imap://alice@127.0.0.1:$GPORT/?tls=none" "maildir:$T/md-$1" \
			--state "$T/$1.db" --source-password-file "$T/pw" --only-failed
	three "$T/md-$1" "$1 after a good re-run"
}

# Literal of 10^11 bytes, trickled: refused at once, uid 2 failed (its
# size named), 1 and 3 copied over a fresh connection.
ifake huge-literal huge
isrc huge 15 1
says huge "alice.*INBOX uid 2: .*100000000000 bytes"
assert_eq "$(maildir_count "$T/md-huge")" 2 "huge: the other messages"
good_again huge of

# 10 MiB line without CRLF: refused at the line cap, not waited for.
ifake long-line long
isrc long $((TO * 4 + 10)) nz
says long "alice.*line longer than [0-9]+ bytes.*reading folder INBOX"
good_again long

# 10,000-deep parentheses: FETCH (an unsolicited BODYSTRUCTURE for
# message 1 before the metadata) and LIST.  The FETCH answer is skipped
# to its end (the session goes on), uid 1 alone is recorded failed with
# the reason, 2 and 3 copied; --only-failed then fetches uid 1.  A LIST
# too deep fails the mailbox.
ifake deep-fetch deepf
isrc deepf 15 1
says deepf "alice.*INBOX uid 1: .*nested too deeply"
assert_eq "$(maildir_count "$T/md-deepf")" 2 "deepf: the other messages"
good_again deepf of
ifake deep-list deepl
isrc deepl $((TO * 4 + 10)) nz
says deepl "alice.*nested too deeply"
good_again deepl

# FETCH answers for a UID never asked and sequence numbers out of range:
# ignored; exactly the 3 messages, nothing of "EVIL".
ifake unasked unasked
isrc unasked 15 0
three "$T/md-unasked" "unasked"

# BYE inside a literal, then the connection closes (every time): uid 1
# kept, the folder fails naming uid 2's connection loss, no partial body.
ifake bye-literal bye
isrc bye $((TO * 4 + 15)) nz
says bye "alice.*connection closed by server.*reading folder INBOX uid 2"
good_again bye

# A server that stops answering after LOGIN, and one in mid-FETCH.
ifake stall-login stl
isrc stl $((TO * 6 + 10)) nz
says stl "alice.*no answer from server within $TO s .awaiting the answer to [A-Z]+"
good_again stl
ifake stall-fetch stf
isrc stf $((TO * 6 + 10)) nz
says stf "alice.*no answer from server within $TO s.*reading folder INBOX uid 2"
assert_eq "$(grep -rl '^Message-ID: <1@fake>' "$T/md-stf" | wc -l)" 1 "stall-fetch: message 1 kept"
good_again stf

# Drip-feeding: uid 2's body (6.5 KB) or the LIST answer one byte every
# TO/2 s, so no single read ever waits TO: cut as too slow after about TO
# s, naming the message (or LIST); uid 1 kept; a good re-run completes.
ifake drip-literal drip
isrc drip "$DRIPMAX" nz
says drip "alice.*server too slow, stalled.*reading folder INBOX uid 2"
assert_eq "$(grep -rl '^Message-ID: <1@fake>' "$T/md-drip" | wc -l)" 1 "drip: message 1 kept"
good_again drip
ifake drip-list dripl
isrc dripl "$DRIPMAX" nz
says dripl "alice.*server too slow, stalled.*awaiting the answer to LIST"
good_again dripl

# ---- UIDVALIDITY changes between two runs, into a real Dovecot ---------
dovecot_user dst bob secret
dovecot_start dst
PORT=$GPORT
dst() { run "$1" "$RERUN" 0 "imap://alice@127.0.0.1:$PORT/?tls=none" \
	"imaps://bob@127.0.0.1:$(dovecot_var dst imaps)" --state "$T/uv.db" \
	--source-password-file "$T/pw" --sink-password-file "$T/pw" \
	--ca-file "$(dovecot_var dst cert)"; }
dst uv1
ifake uidvalidity-8 uv2
dst uv2
imap_describe dst bob secret >"$T/uv.desc"
assert_eq "$(wc -l <"$T/uv.desc")" 3 "UIDVALIDITY change: messages on the target"
assert_eq "$(cut -d' ' -f2 "$T/uv.desc" | sort -u | wc -l)" 3 "UIDVALIDITY change: distinct messages"
says uv2 "UIDVALIDITY changed from 7 to 8; matching messages by content"
says uv2 "0 copied .*3 already there"
grep -q 'UID FETCH 101:103' "$LOG" || grep -q 'UID FETCH 101' "$LOG" ||
	{ cat "$LOG"; fail "UIDVALIDITY change: the renumbered messages were not read"; }

# ---- IMAP APPEND target (maildir source) --------------------------------
mkdir -p "$T/src/cur" "$T/src/new" "$T/src/tmp"
for n in 1 2 3; do
	printf 'From: fake@example.com\r\nSubject: message %s\r\nMessage-ID: <%s@fake>\r\n\r\nbody %s\r\n' \
		"$n" "$n" "$n" >"$T/src/cur/100000000$n.M1P1.host:2,S"
done
isnk() { # NAME MAXSECS EXPECT-RC: maildir -> fake target, state NAME.db
	run "$1" "$2" "$3" "maildir:$T/src" "imap://bob@127.0.0.1:$PORT/?tls=none" \
		--state "$T/$1.db" --sink-password-file "$T/pw"
}
# sink_three NAME: a re-run against a well-behaved target holding what
# the hostile one stored: the 3 messages once each (lookup settled the
# one whose APPEND was never answered).
sink_three() {
	ifake sink-good "$1"
	run "$1-re" "$RERUN" 0 "maildir:$T/src" "imap://bob@127.0.0.1:$PORT/?tls=none" \
		--state "$T/$1.db" --sink-password-file "$T/pw"
	assert_eq "$(ls "$T/$1.log.d" | wc -l)" 3 "$1: messages on the target"
	for n in 1 2 3; do
		assert_eq "$(grep -l "^Message-ID: <$n@fake>" "$T/$1.log.d"/* | wc -l)" 1 \
			"$1: copies of message $n"
	done
}
W=".* .awaiting the answer to INBOX: message 1000000002"
for c in huge-literal long-line deep bye stall drip; do
	ifake "sink-$c" "s$c"
	mx=$((TO * 6 + 10))
	[ "$c" != drip ] || mx=$DRIPMAX # its APPEND answer, one byte every TO/2 s
	isnk "s$c" "$mx" nz
	case $c in
	huge-literal) says "s$c" "imap-sink: maildir:$T/src .imap 127.0.0.1:$PORT.: .*100000000000 bytes is too large$W" ;;
	long-line) says "s$c" "imap-sink: maildir:$T/src .imap 127.0.0.1:$PORT.: .*line longer than [0-9]+ bytes$W" ;;
	deep) says "s$c" "imap-sink: maildir:$T/src .imap 127.0.0.1:$PORT.: .*nested too deeply$W" ;;
	bye) says "s$c" "imap-sink: maildir:$T/src .imap 127.0.0.1:$PORT.: .*(BYE going away now|closed)$W" ;;
	stall) says "s$c" "imap-sink: maildir:$T/src .imap 127.0.0.1:$PORT.: .*no answer from server within $TO s$W" ;;
	drip) says "s$c" "imap-sink: maildir:$T/src .imap 127.0.0.1:$PORT.: .*server too slow, stalled$W" ;;
	esac
	sink_three "s$c"
	# Message 2 was stored but never confirmed: the re-run asked the
	# target for it (lookup) instead of storing it again.
	grep -q 'UID SEARCH HEADER Message-ID "<2@fake>"' "$T/s$c.log" ||
		{ cat "$T/s$c.log"; fail "s$c: no lookup of the unconfirmed message"; }
done
# The lookup itself answered with a literal of 10^11 bytes, trickled:
# refused at once (not read until the server gives up), nothing stored;
# then a well-behaved target settles it.
ifake sink-stall slk
isnk slk $((TO * 6 + 10)) nz
ifake sink-huge-lookup slk
run slk-lk 15 nz "maildir:$T/src" "imap://bob@127.0.0.1:$PORT/?tls=none" \
	--state "$T/slk.db" --sink-password-file "$T/pw"
says slk-lk "imap-sink: maildir:$T/src .imap 127.0.0.1:$PORT.: lookup: server announced a body of 100000000000 bytes"
sink_three slk

# ---- POP3 source --------------------------------------------------------
psrc() { # NAME MAXSECS EXPECT-RC [options]
	n=$1 mx=$2 rcw=$3
	shift 3
	run "$n" "$mx" "$rcw" "pop3://alice@127.0.0.1:$PORT/?tls=none" "maildir:$T/md-$n" \
		--state "$T/$n.db" "$@"
}
wait_port_file "$T/pgood.port" "good fake POP3 server"
PPORT=$WAITED_PORT
pgood() { # NAME [of]: the same drop from a well-behaved server, same state
	run "$1-re" "$RERUN" 0 "pop3://alice@127.0.0.1:$PPORT/?tls=none" "maildir:$T/md-$1" \
		--state "$T/$1.db"
	[ "${2:-}" != of ] ||
		run "$1-of" "$RERUN" 0 "pop3://alice@127.0.0.1:$PPORT/?tls=none" "maildir:$T/md-$1" \
			--state "$T/$1.db" --only-failed
	three "$T/md-$1" "$1 after a good re-run"
}
# A RETR that never ends (lines without the final dot): cut well past
# LIST's size, that message failed, the others copied.
pfake retrendless pend "$T/drop"
psrc pend 20 nz
says pend "pop3: alice@127.0.0.1: INBOX message 2: RETR went on past [0-9]+ bytes without its end"
assert_eq "$(maildir_count "$T/md-pend")" 1 "retrendless: the message before"
pgood pend of
# RETR stalls half way; UIDL answers with a 10 MiB line; nothing after PASS.
pfake retrstall pstall "$T/drop"
psrc pstall $((TO * 6 + 10)) nz
says pstall "pop3: alice@127.0.0.1: INBOX message 2: .*no answer from server within $TO s"
pgood pstall
# RETR 2 answered one byte every TO/2 s: too slow, that message named.
pfake retrdrip pdrip "$T/drop"
psrc pdrip "$DRIPMAX" nz
says pdrip "pop3: alice@127.0.0.1: INBOX message 2: .*server too slow, stalled"
pgood pdrip
pfake longline plong "$T/drop"
psrc plong $((TO * 4 + 10)) nz
says plong "alice.*line longer than"
pgood plong
pfake stall pquiet "$T/drop"
psrc pquiet $((TO * 6 + 10)) nz
says pquiet "pop3: alice@127.0.0.1: .*no answer from server within $TO s"
pgood pquiet
# UIDL ids shared by two distinct messages: all three kept, once each.
pfake dupuidl2 pdup "$T/drop"
psrc pdup 15 0
three "$T/md-pdup" "dupuidl2"
psrc pdup 15 0
three "$T/md-pdup" "dupuidl2 re-run"
stopfake
for f in "$T"/*.cmds; do
	if grep -qi '^DELE' "$f"; then fail "DELE sent: $f"; fi
done

echo "ok: $ncases runs against hostile servers:$figures"
