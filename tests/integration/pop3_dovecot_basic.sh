#!/bin/sh
# SPDX-License-Identifier: MIT
# The POP3 source against a real Dovecot (dovecot-pop3d): pop3s (implicit
# TLS), STLS on the plain port, tls=none, USER/PASS, APOP, SASL PLAIN with
# a master user's authzid, certificate checks (--ca-file vs. none), a wrong
# password (clear error naming user@host, exit 3), internal dates from
# Received:/Date:, lines starting with dots, LF-only files, mark-seen, a
# re-run that copies nothing, and a server mailbox left exactly as it was.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pop3_dovecot.sh"

# Messages as Dovecot stores them (CRLF files are served byte for byte).
printf 'Received: from a by b; Tue, 3 Mar 2020 10:00:00 +0100\nReceived: from c by d; Mon, 2 Mar 2020 08:00:00 +0000\nDate: Mon, 1 Jan 2018 00:00:00 +0000\nSubject: dots\n\n.\n..\n...leading dots\n. space\n.\r\nend\n' | msg_crlf > "$T/m1"
printf 'Date: Fri, 13 Nov 2015 07:08:09 -0500\nSubject: date only\n\nbody\n' | msg_crlf > "$T/m2"
printf 'Subject: no date\n\nbody with a NUL \000 and a bare CR \r in it\n' | msg_crlf > "$T/m3"
printf 'Subject: lf only\n\nLF file\n.dot\n' > "$T/m4"
for m in m1 m2 m3 m4; do dc_add alice "$T/$m"; done
printf 'Subject: for bob\n\nbob\n' | msg_crlf > "$T/b1"
dc_add bob "$T/b1"
dc_start
dc_state alice > "$T/before"

# What mailferry must deliver: the files, with LF turned into CRLF for
# the LF-only one (POP3 is CRLF on the wire, RFC 1939 §3).
{ for m in m1 m2 m3; do sha256sum < "$T/$m"; done; msg_crlf < "$T/m4" | sed 's/\r\r$/\r/' | sha256sum; } | cut -d' ' -f1 | sort > "$T/want"

# Base names with their flags; Dovecot moving a file from new/ to cur/
# (it does so for any session: "not \Recent" any more) is not a change.
dc_files() { find "$DC/home/$1/Maildir/new" "$DC/home/$1/Maildir/cur" -type f | sed 's|.*/Maildir/[a-z]*/||; s/:2,$//' | sort; }
export MAILFERRY_SOURCE_PASSWORD=secret
run() { # run NAME URI [OPTIONS]: migrate into $T/NAME, state $T/NAME.db
	n=$1 u=$2
	shift 2
	mf migrate "$u" "maildir:$T/$n" --state "$T/$n.db" "$@" > "$T/$n.log" 2>&1
}

# 0. peek=1 (TOP instead of RETR): not even a flag changes on the server
# (after RETR, Dovecot marks the messages \Seen at QUIT, so step 9
# compares names and bytes only).
dc_files alice > "$T/files.before"
run peek "pop3s://alice@127.0.0.1:$DC_POP3S_PORT/?peek=1" --ca-file "$DC_CERT" || { cat "$T/peek.log"; fail "peek migrate"; }
assert_eq "$(maildir_digests "$T/peek")" "$(cat "$T/want")" "peek: delivered bytes"
dc_files alice > "$T/files.after"
diff "$T/files.before" "$T/files.after" || fail "peek=1 changed the server's files or flags"
grep -q "retr=0/" "$DC/log" || fail "peek=1 used RETR"

# 1. pop3s with our CA file: verified TLS.
run tls "pop3s://alice@127.0.0.1:$DC_POP3S_PORT" --ca-file "$DC_CERT" || { cat "$T/tls.log"; fail "pop3s migrate"; }
assert_eq "$(maildir_digests "$T/tls")" "$(cat "$T/want")" "pop3s: delivered bytes"
# Internal dates: newest Received:, else Date:, else now.
f1=$(grep -l 'Subject: dots' "$T"/tls/cur/* "$T"/tls/new/* 2>/dev/null | head -1)
assert_eq "$(stat -c %Y "$f1")" "1583226000" "date from the newest Received:"
f2=$(grep -l 'Subject: date only' "$T"/tls/cur/* "$T"/tls/new/* 2>/dev/null | head -1)
assert_eq "$(stat -c %Y "$f2")" "1447416489" "date from Date:"
f3=$(grep -l 'Subject: no date' "$T"/tls/cur/* "$T"/tls/new/* 2>/dev/null | head -1)
age=$(( $(date +%s) - $(stat -c %Y "$f3") ))
[ "$age" -ge 0 ] && [ "$age" -lt 600 ] || fail "no date: internal date should be now, is $age s old"
# Unread unless asked: no S flag.
if find "$T/tls" -type f -name '*:2,*S*' | grep -q .; then fail "messages marked seen"; fi

# 2. A re-run copies nothing (UIDL ids in the state file).
run tls "pop3s://alice@127.0.0.1:$DC_POP3S_PORT" --ca-file "$DC_CERT" || fail "re-run"
assert_eq "$(maildir_count "$T/tls")" 4 "re-run duplicated messages"
grep -q "0 of 4 messages to download" "$T/tls.log" || { cat "$T/tls.log"; fail "re-run downloaded again"; }

# 3. Without --ca-file the self-signed certificate is refused.
if run nocert "pop3s://alice@127.0.0.1:$DC_POP3S_PORT"; then fail "unverified certificate accepted"; fi
grep -qi "certificate" "$T/nocert.log" || { cat "$T/nocert.log"; fail "certificate error not explained"; }

# 4. STLS on the plain port, USER/PASS; mark-seen.
run stls "pop3://alice@127.0.0.1:$DC_POP3_PORT/?auth=user&mark-seen=1" --insecure || { cat "$T/stls.log"; fail "STLS migrate"; }
assert_eq "$(maildir_digests "$T/stls")" "$(cat "$T/want")" "STLS: delivered bytes"
assert_eq "$(find "$T/stls" -type f -name '*:2,*S*' | wc -l)" 4 "mark-seen"
grep -q "method=PLAIN\|user=<alice>" "$DC/log" || fail "no login in the Dovecot log"

# 5. tls=none: plain text, with a warning.
run plain "pop3://alice@127.0.0.1:$DC_POP3_PORT/?tls=none" || { cat "$T/plain.log"; fail "tls=none migrate"; }
grep -q "clear text" "$T/plain.log" || fail "tls=none did not warn"
assert_eq "$(maildir_digests "$T/plain")" "$(cat "$T/want")" "tls=none: delivered bytes"

# 6. APOP (the greeting carries a timestamp when Dovecot offers APOP).
run apop "pop3://alice@127.0.0.1:$DC_POP3_PORT/?auth=apop" --insecure || { cat "$T/apop.log"; fail "APOP migrate"; }
assert_eq "$(maildir_count "$T/apop")" 4 "APOP: messages"
grep -q "method=APOP" "$DC/log" || fail "Dovecot did not see an APOP login"

# 7. SASL PLAIN as master user for bob (authzid = mailbox to open).
MAILFERRY_SOURCE_PASSWORD=masterpw run master "pop3s://master@127.0.0.1:$DC_POP3S_PORT/?auth=plain&authzid=bob" --insecure ||
	{ cat "$T/master.log"; fail "master-user migrate"; }
assert_eq "$(maildir_digests "$T/master")" "$(sha256sum < "$T/b1" | cut -d' ' -f1)" "master user got bob's mail"

# 8. Wrong password: exit 3, the server's text, user@host, no password.
MAILFERRY_SOURCE_PASSWORD=wrong-pw-xyz run bad "pop3s://alice@127.0.0.1:$DC_POP3S_PORT" --insecure && fail "wrong password accepted"
rc=0
MAILFERRY_SOURCE_PASSWORD=wrong-pw-xyz run bad "pop3s://alice@127.0.0.1:$DC_POP3S_PORT" --insecure || rc=$?
assert_eq "$rc" 3 "exit code for a refused login"
grep -q "alice@127.0.0.1" "$T/bad.log" || { cat "$T/bad.log"; fail "error does not name user@host"; }
grep -q "Authentication failed" "$T/bad.log" || { cat "$T/bad.log"; fail "error lacks the server's text"; }
if grep -q "wrong-pw-xyz" "$T/bad.log"; then fail "password in the log"; fi
MAILFERRY_SOURCE_PASSWORD=wrong-pw-xyz run badplain "pop3://alice@127.0.0.1:$DC_POP3_PORT/?auth=user" --insecure && fail "USER/PASS: wrong password accepted"
grep -q "USER/PASS login of alice refused" "$T/badplain.log" || { cat "$T/badplain.log"; fail "USER/PASS refusal text"; }

# 9. Nothing on the server changed: same files, same bytes, and every
# session ended without DELE (Dovecot logs del=0/N).
dc_state alice > "$T/after"
diff "$T/before" "$T/after" || fail "the server mailbox changed"
if grep "Disconnected" "$DC/log" | grep -v "del=0/" | grep -q "del="; then fail "a session deleted mail"; fi

# 10. Dovecot's LIST octets equal the bytes RETR delivers (CRLF size):
# what makes streaming without a spool possible, checked on real data.
python3 - "$DC_POP3S_PORT" "$T/tls" > "$T/sizes" <<'PY'
import poplib, ssl, sys, os, glob
c = ssl.create_default_context(); c.check_hostname = False; c.verify_mode = ssl.CERT_NONE
p = poplib.POP3_SSL("127.0.0.1", int(sys.argv[1]), context=c, timeout=20)
p.user("alice"); p.pass_("secret")
listed = sorted(int(l.split()[1]) for l in p.list()[1])
p.quit()
got = sorted(os.path.getsize(f) for f in glob.glob(sys.argv[2] + "/*/*"))
print(listed == got, listed, got)
PY
grep -q '^True' "$T/sizes" || fail "LIST sizes differ from delivered sizes: $(cat "$T/sizes")"
exit 0
