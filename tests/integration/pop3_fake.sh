#!/bin/sh
# SPDX-License-Identifier: MIT
# The POP3 source against scripted servers (tests/fake/pop3_server.py) for
# what Dovecot never does: no UIDL (ids from TOP header digests, WARN in
# the log, a re-run downloads nothing), repeated UIDL ids, neither UIDL nor
# TOP (content ids), a refused RETR (that message fails, the rest is
# copied), a server without STLS, plaintext injected after the STLS
# reply, and a server that never greets (--timeout).  Every session's
# commands are checked: never a DELE, QUIT at the end of a clean run.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 needed"; exit 77; }
FAKE="$top_srcdir/tests/fake/pop3_server.py"

mkdir -p "$T/drop"
printf 'Subject: one\nDate: Sat, 1 Feb 2025 12:00:00 +0000\n\nfirst\n.dot\n' > "$T/drop/1"
printf 'Subject: two\n\nsecond\n' > "$T/drop/2"
printf 'Subject: three\n\n..\n.\n' > "$T/drop/3"
# What must arrive: each file with CRLF line ends.
want=$(for f in 1 2 3; do sed 's/$/\r/' "$T/drop/$f" | sha256sum | cut -d' ' -f1; done | sort)
want13=$(for f in 1 3; do sed 's/$/\r/' "$T/drop/$f" | sha256sum | cut -d' ' -f1; done | sort)

fake() { # fake MODE [DIR]: start a server, set PORT and LOG
	LOG="$T/$1.cmds"
	rm -f "$T/$1.port"
	python3 "$FAKE" --dir "${2:-$T/drop}" --mode "$1" --port-file "$T/$1.port" --log "$LOG" --lifetime 60 &
	fpid=$!
	mf_on_exit "kill $fpid 2>/dev/null || true"
	wait_port_file "$T/$1.port" "fake server"
	PORT=$(cat "$T/$1.port")
}
export MAILFERRY_SOURCE_PASSWORD=secret
run() { # run NAME [URI-OPTIONS]
	mf migrate "pop3://alice@127.0.0.1:$PORT/?tls=none${2:+&$2}" "maildir:$T/$1" --state "$T/$1.db" --retries 1 > "$T/$1.log" 2>&1
}
no_dele() { if grep -qi '^DELE' "$1"; then fail "DELE sent: $1"; fi; }

# 1. No UIDL: TOP digests, a warning, and a re-run downloads nothing.
fake nouidl
run nouidl || { cat "$T/nouidl.log"; fail "no-UIDL run"; }
grep -q "server has no UIDL" "$T/nouidl.log" || fail "no WARN about missing UIDL"
assert_eq "$(maildir_digests "$T/nouidl")" "$want" "no-UIDL: delivered bytes"
run nouidl || fail "no-UIDL re-run"
grep -q "INBOX: 0 of 3 messages to download" "$T/nouidl.log" || { cat "$T/nouidl.log"; fail "no-UIDL re-run downloaded again"; }
grep -q '^TOP 3 0$' "$LOG" || fail "no TOP sent"
assert_eq "$(grep -c '^RETR' "$LOG")" 3 "RETRs over both runs"
assert_eq "$(tail -1 "$LOG")" "QUIT" "last command"
no_dele "$LOG"

# 2. UIDL with a repeated id: header digests instead; the same message
# twice in the maildrop is kept twice ("#2"), and a re-run adds nothing.
mkdir -p "$T/drop2"
cp "$T/drop/1" "$T/drop/2" "$T/drop/3" "$T/drop2/"
cp "$T/drop/1" "$T/drop2/4"
want4=$( (echo "$want"; sed 's/$/\r/' "$T/drop/1" | sha256sum | cut -d' ' -f1) | sort)
fake dupuidl "$T/drop2"
run dup || { cat "$T/dup.log"; fail "dup-UIDL run"; }
grep -q "repeated or missing ids" "$T/dup.log" || fail "no WARN about repeated ids"
assert_eq "$(maildir_digests "$T/dup")" "$want4" "dup-UIDL: delivered bytes"
run dup || fail "dup-UIDL re-run"
grep -q "INBOX: 0 of 4 messages to download" "$T/dup.log" || { cat "$T/dup.log"; fail "dup-UIDL re-run downloaded again"; }
assert_eq "$(maildir_count "$T/dup")" 4 "dup-UIDL: messages after the re-run"
no_dele "$LOG"

# 3. Neither UIDL nor TOP: content ids; a re-run adds nothing.
fake notop
run notop || { cat "$T/notop.log"; fail "no-TOP run"; }
grep -q "no TOP either" "$T/notop.log" || fail "no WARN about missing TOP"
run notop || fail "no-TOP re-run"
assert_eq "$(maildir_digests "$T/notop")" "$want" "no-TOP: delivered bytes after two runs"
no_dele "$LOG"

# 4. RETR refused for message 2: it fails (exit 1), 1 and 3 arrive.
fake retrerr
rc=0
run retrerr || rc=$?
assert_eq "$rc" 1 "exit code with one failed message"
grep -q "RETR refused" "$T/retrerr.log" || { cat "$T/retrerr.log"; fail "RETR error not reported"; }
assert_eq "$(maildir_digests "$T/retrerr")" "$want13" "the other messages"
no_dele "$LOG"

# 5. pop3:// without tls=none on a server without STLS: refused, clearly.
fake nostls
rc=0
mf migrate "pop3://alice@127.0.0.1:$PORT" "maildir:$T/nostls" --state "$T/nostls.db" --retries 1 > "$T/nostls.log" 2>&1 || rc=$?
[ "$rc" -ne 0 ] || fail "plain session without STLS accepted"
grep -q "does not offer STLS" "$T/nostls.log" || { cat "$T/nostls.log"; fail "STLS error text"; }
if grep -q '^USER\|^PASS' "$LOG"; then fail "credentials sent without TLS"; fi

# 6. Bytes injected after "+OK Begin TLS": refused before any handshake.
fake inject
rc=0
mf migrate "pop3://alice@127.0.0.1:$PORT" "maildir:$T/inject" --state "$T/inject.db" --retries 1 > "$T/inject.log" 2>&1 || rc=$?
[ "$rc" -ne 0 ] || fail "STLS injection accepted"
grep -q "after its STLS" "$T/inject.log" || { cat "$T/inject.log"; fail "injection error text"; }
if grep -q '^USER\|^PASS' "$LOG"; then fail "credentials sent after an injection"; fi

# 7. Wrong password over USER/PASS: exit 3, the server's words.
fake normal
rc=0
MAILFERRY_SOURCE_PASSWORD=nope run bad || rc=$?
assert_eq "$rc" 3 "exit code for a refused login"
grep -q "alice@127.0.0.1.*invalid login" "$T/bad.log" || { cat "$T/bad.log"; fail "login error text"; }

# 8. A server that never sends its greeting: --timeout ends the session.
fake hang
start=$(date +%s)
rc=0
mf migrate "pop3://alice@127.0.0.1:$PORT/?tls=none" "maildir:$T/hang" --state "$T/hang.db" --retries 1 --timeout 2 > "$T/hang.log" 2>&1 || rc=$?
took=$(( $(date +%s) - start ))
[ "$rc" -ne 0 ] || fail "hung server: run succeeded"
[ "$took" -lt 15 ] || fail "hung server: --timeout 2 took $took s"
grep -q "no answer from server within 2 s" "$T/hang.log" || { cat "$T/hang.log"; fail "hung server: no timeout in the error"; }
exit 0
