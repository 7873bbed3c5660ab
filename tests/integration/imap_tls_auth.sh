#!/bin/sh
# SPDX-License-Identifier: MIT
# Connection security and authentication through the CLI against Dovecot:
# a self-signed certificate is refused (source and sink) unless --ca-file
# or --insecure (which warns), STARTTLS on imap://, tls=none in clear text
# with a warning, a wrong password fails once with a clear error and is
# not retried, a master user logs in as alice with AUTHENTICATE PLAIN and
# an authorization identity (single runs, and a bulk run whose accounts CSV
# has no passwords), and LOGIN with an odd password (quotes, backslash,
# 8-bit: sent as a literal).
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/dovecot.sh"
. "$top_srcdir/tests/integration/imap_lib.sh"

odd='p"w\x ü'
dovecot_user src alice secret-a
dovecot_user src odd "$odd"
dovecot_user src carol secret-c
dovecot_master src admin master-pw
dovecot_user dst bob secret-b
dovecot_start src
dovecot_start dst
trap 'st=$?; [ $st = 0 ] || dovecot_dump_logs src dst; eval "$mf_cleanup_hooks"; rm -rf "$T"; exit $st' EXIT

printf 'From: a@example.com\r\nSubject: t\r\nMessage-ID: <t@x>\r\n\r\nhello\r\n' |
	imap_append src alice secret-a INBOX '\Seen' '01-Feb-2020 10:00:00 +0000'
printf 'From: a@example.com\r\nSubject: o\r\n\r\nodd\r\n' |
	dovecot_adm src save -u odd -m INBOX
echo secret-a >"$T/pw-a"
echo secret-b >"$T/pw-b"
echo wrong >"$T/pw-bad"
echo master-pw >"$T/pw-master"
printf '%s\n' "$odd" >"$T/pw-odd"
IMAPS="127.0.0.1:$(dovecot_var src imaps)"
IMAP="127.0.0.1:$(dovecot_var src imap)"
n=0
to_maildir() { # source-uri password-file [options...]
	n=$((n + 1))
	src=$1 pw=$2
	shift 2
	mf migrate "$src" "maildir:$T/md$n" --state "$T/s$n.db" \
		--source-password-file "$pw" --timeout 10 "$@" >"$T/out" 2>&1
}

# Self-signed: refused by default, with the reason and the way out.
if to_maildir "imaps://alice@$IMAPS" "$T/pw-a"; then
	fail "self-signed certificate accepted without --ca-file"
fi
grep -q "certificate verify failed: self-signed certificate" "$T/out" ||
	{ cat "$T/out"; fail "no certificate error"; }
grep -q "imaps 127.0.0.1:" "$T/out" || fail "error does not name host:port"

to_maildir "imaps://alice@$IMAPS" "$T/pw-a" --ca-file "$(dovecot_var src cert)" ||
	{ cat "$T/out"; fail "--ca-file run failed"; }
assert_eq "$(maildir_count "$T/md$n")" 1 "messages with --ca-file"

to_maildir "imaps://alice@$IMAPS" "$T/pw-a" --insecure ||
	{ cat "$T/out"; fail "--insecure run failed"; }
grep -qi "warning.*not verified\|warning.*checks are off" "$T/out" ||
	{ cat "$T/out"; fail "--insecure did not warn"; }

# STARTTLS on the plain port (the default for imap://), verified.
to_maildir "imap://alice@$IMAP" "$T/pw-a" --ca-file "$(dovecot_var src cert)" ||
	{ cat "$T/out"; fail "STARTTLS run failed"; }
assert_eq "$(maildir_count "$T/md$n")" 1 "messages over STARTTLS"
grep -q "Login: user=<alice>.*TLS" "$(dovecot_var src log)" ||
	fail "Dovecot saw no TLS login"
# ... and its certificate is checked too.
to_maildir "imap://alice@$IMAP" "$T/pw-a" && fail "STARTTLS skipped verification"
grep -q "certificate verify failed" "$T/out" || { cat "$T/out"; fail "no STARTTLS cert error"; }

# tls=none: works, warns about clear text.
to_maildir "imap://alice@$IMAP/?tls=none" "$T/pw-a" ||
	{ cat "$T/out"; fail "tls=none run failed"; }
grep -q "CLEAR TEXT" "$T/out" || { cat "$T/out"; fail "tls=none did not warn"; }

# Wrong password: a clear error, one attempt only (Alibaba locks accounts).
before=$(grep -c "auth failed" "$(dovecot_var src log)" || true)
to_maildir "imaps://alice@$IMAPS" "$T/pw-bad" --ca-file "$(dovecot_var src cert)" &&
	fail "wrong password accepted"
grep -q "LOGIN as alice refused: NO \[AUTHENTICATIONFAILED\]" "$T/out" ||
	{ cat "$T/out"; fail "unclear auth error"; }
grep -q wrong "$T/out" && fail "password in the output"
sleep 1
after=$(grep -c "auth failed" "$(dovecot_var src log)" || true)
assert_eq "$((after - before))" 1 "login attempts with a wrong password"

# Same for the sink side.
mf migrate "imaps://alice@$IMAPS" "alimail://bob@127.0.0.1:$(dovecot_var dst imaps)" \
	--state "$T/sink.db" --source-password-file "$T/pw-a" \
	--sink-password-file "$T/pw-b" --ca-file "$(dovecot_var src cert)" \
	--timeout 10 >"$T/out" 2>&1 && fail "sink accepted a self-signed cert"
grep -q "alimail.*certificate verify failed" "$T/out" || { cat "$T/out"; fail "no sink cert error"; }

# Master user: admin logs in as alice (AUTHENTICATE PLAIN, authzid).
to_maildir "imaps://admin@$IMAPS/?authzid=alice" "$T/pw-master" \
	--ca-file "$(dovecot_var src cert)" || { cat "$T/out"; fail "master login failed"; }
assert_eq "$(maildir_count "$T/md$n")" 1 "messages via master user"
grep -q "Login: user=<alice>.*method=PLAIN" "$(dovecot_var src log)" || fail "no PLAIN login"

# A password that needs a literal.
to_maildir "imaps://odd@$IMAPS" "$T/pw-odd" --ca-file "$(dovecot_var src cert)" ||
	{ cat "$T/out"; fail "odd password login failed"; }
assert_eq "$(maildir_count "$T/md$n")" 1 "messages of the odd-password user"
# Bulk master-user mode: rows without a password take the master's from
# --source-password-file (not the environment's); a row's own wins, so
# carol's wrong one fails her alone, clearly.
printf 'From: c@example.com\r\nSubject: c\r\n\r\ncarol\r\n' |
	imap_append src carol secret-c INBOX '' '02-Feb-2020 10:00:00 +0000'
# The CSV has addresses; the server wants logins without the domain.
printf 'source_user,source_password\nalice@old.example,\nodd@old.example,\ncarol@old.example,not-carols\n' \
	>"$T/accounts.csv"
rc=0
MAILFERRY_SOURCE_PASSWORD=not-the-master mf migrate --accounts "$T/accounts.csv" \
	--source-password-file "$T/pw-master" --ca-file "$(dovecot_var src cert)" \
	--state "$T/bulk.db" --timeout 10 --retries 1 \
	"imaps://admin@$IMAPS/?authzid={source_user.local}" "maildir:$T/bulk/{source_user.local}" \
	>"$T/out" 2>&1 || rc=$?
assert_eq "$rc" 3 "exit status of the bulk run with one refused row"
assert_eq "$(maildir_count "$T/bulk/alice")" 1 "alice's messages via the master user"
assert_eq "$(maildir_count "$T/bulk/odd")" 1 "odd's messages via the master user"
[ -e "$T/bulk/carol" ] && [ "$(maildir_count "$T/bulk/carol")" != 0 ] &&
	fail "carol copied with a wrong row password"
grep -q "carol.*refused" "$T/out" || { cat "$T/out"; fail "carol's refusal not reported"; }
grep -q "not-carols\|master-pw" "$T/out" && fail "a password in the output"
mf status --state "$T/bulk.db" --csv >"$T/status.csv"
grep -q "^alice@old.example,done" "$T/status.csv" || { cat "$T/status.csv"; fail "alice not done"; }
grep -q "^carol@old.example,failed" "$T/status.csv" || { cat "$T/status.csv"; fail "carol not failed"; }
echo "ok: TLS, STARTTLS, insecure, tls=none, wrong password, master user (single and bulk)"
