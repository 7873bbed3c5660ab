#!/bin/sh
# SPDX-License-Identifier: MIT
# Courier IMAP and Courier POP3 as the third real server (issue 17),
# beside Dovecot and Cyrus: a generated mailbox (a few hundred messages,
# nested non-ASCII folders, flags, dates, 8-bit headers, LF and CRLF mail,
# Sent/Drafts/Trash/Junk) moved
#   1. Dovecot -> Courier (STARTTLS): Courier has no SPECIAL-USE, so the
#      special folders land in its existing "Sent Items", "Deleted Items",
#      "Spam" by name, Drafts is created;
#   2. Courier -> Cyrus (imaps from Courier): Courier's folders get their
#      roles from their names and land in Cyrus's own \Sent, \Trash,
#      \Drafts folders (other names);
#   3. POP3 from Courier (pop3s) into a Maildir;
#   4. POP3 from Cyrus (STLS) into Dovecot;
# each: byte-identical (with flags and internal dates over IMAP), a
# re-run copies 0, mailferry verify agrees.  And Courier refuses a wrong
# password (the harness's authdaemond really checks).
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/dovecot.sh"
. "$top_srcdir/tests/integration/imap_lib.sh"
. "$top_srcdir/tests/integration/cyrus.sh"
. "$top_srcdir/tests/integration/courier.sh"
courier_available || { echo "SKIP: $COURIER_WHY"; exit 77; }
cyrus_available || { echo "SKIP: Cyrus not unpacked (tools/install-cyrus.sh)"; exit 77; }
[ -x "$CYRUS_BIN/pop3d" ] || { echo "SKIP: cyrus-pop3d not unpacked (tools/install-cyrus.sh)"; exit 77; }

N=${MF_COURIER_MESSAGES:-300}
dovecot_user src alice secret-a
dovecot_user src erin secret-e
dovecot_start src
courier_user cou bob secret-b
courier_start cou
cyrus_user cyr carol secret-c
cyrus_start cyr
trap 'st=$?; [ $st = 0 ] || { dovecot_dump_logs src; courier_dump_logs cou; cyrus_dump_logs cyr; }; eval "$mf_cleanup_hooks"; [ -n "${MF_KEEP_TEMP:-}" ] || rm -rf "$T"; exit $st' EXIT

python3 "$top_srcdir/tests/tools/gen_mailbox.py" --format maildir --layout fs \
	--out "$(dovecot_var src dir)/mail/alice" --messages "$N" --seed 17 \
	--big-fraction 0.02 --max-big 200000 \
	--folders 'INBOX,Sent,Drafts,Trash,Junk,Projects,Projects/2024,Archiv/Übersicht,Archiv/Übersicht/Älter,日本語'
dovecot_seeded src alice
# Keywords, \Draft, odd names and a deeper non-ASCII level, over IMAP.
imap_py src alice secret-a <<'EOF'
for n in ("Kunden & Partner", "日本語/子供 (2024)", "Release v1.2"):
    typ, r = M.create(q(n))
    if typ != "OK":
        die("create %s: %r" % (n, r))
EOF
printf 'From: a@example.com\r\nSubject: keywords\r\n\r\nbody\r\n' |
	imap_append src alice secret-a 'Kunden & Partner' '\Seen $Forwarded Projekt-X' \
	'03-Mar-2021 11:12:13 +0100'
printf 'From: a@example.com\r\nSubject: draft\r\n\r\nbody\r\n' |
	imap_append src alice secret-a INBOX '\Draft \Answered $MDNSent' \
	'04-Apr-2019 23:59:59 -0700'
printf 'From: a@example.com\r\nSubject: =?UTF-8?B?w5w=?=\r\nX-Legacy: caf\351\r\n\r\nbody\r\n' |
	imap_append src alice secret-a '日本語/子供 (2024)' '\Flagged' '05-May-2018 05:05:05 +0000'
printf 'From: a@example.com\r\nSubject: dot\r\n\r\nbody\r\n' |
	imap_append src alice secret-a 'Release v1.2' '' '06-Jun-2017 06:06:06 +0200'
N=$((N + 4))
cat "$(dovecot_var src cert)" "$(courier_var cou cert)" "$(cyrus_var cyr cert)" >"$T/ca.pem"
for u in a b c e; do echo "secret-$u" >"$T/pw-$u"; done
DOVE="imaps://alice@127.0.0.1:$(dovecot_var src imaps)"
COU="imap://bob@127.0.0.1:$(courier_var cou imap)"
COUS="imaps://bob@127.0.0.1:$(courier_var cou imaps)"
CYR="imap://carol@127.0.0.1:$(cyrus_var cyr imap)/?tls=none"

# describe PORT USER PASS [ARGS]: tests/tools/imap_describe.py (the same
# lines as cyrus_compress.sh compares: folder, sha256, flags, date).
describe() {
	port=$1 user=$2 pass=$3
	shift 3
	MF_PASS=$pass python3 "$top_srcdir/tests/tools/imap_describe.py" "$port" "$user" "$@"
}
copied() { grep '"event":"summary"' "$1" | sed 's/.*"copied":\([0-9]*\).*/\1/'; }
run() { # state source sink [options]
	st=$1 src=$2 snk=$3
	shift 3
	mf migrate "$src" "$snk" --state "$T/$st.db" --ca-file "$T/ca.pem" --json \
		--timeout 30 "$@"
}
# check NAME STATE SOURCE SINK SRCPW SINKPW: a re-run copies 0 and
# mailferry verify agrees (exit 0).
check() {
	n=$1 st=$2 src=$3 snk=$4 spw=$5 kpw=$6
	run "$st" "$src" "$snk" --source-password-file "$spw" --sink-password-file "$kpw" \
		>"$T/$n.rerun.json" 2>"$T/$n.rerun.err" || { cat "$T/$n.rerun.err"; fail "$n: re-run failed"; }
	assert_eq "$(copied "$T/$n.rerun.json")" 0 "$n: re-run copies"
	MAILFERRY_SOURCE_PASSWORD=$(cat "$spw") MAILFERRY_SINK_PASSWORD=$(cat "$kpw") \
		mf verify "$src" "$snk" --ca-file "$T/ca.pem" --state "$T/$st.db" \
		--report "$T/$n.report" >"$T/$n.verify" 2>&1 || { cat "$T/$n.verify"; fail "$n: verify"; }
}

# Special folders the targets already have, under other names: Courier's
# by name only (no SPECIAL-USE), Cyrus's with their special-use.
courier_py cou bob secret-b <<'EOF'
for n in ("INBOX.Sent Items", "INBOX.Deleted Items", "INBOX.Spam"):
    typ, r = M.create('"%s"' % n)
    assert typ == "OK", (n, r)
EOF
cyrus_py cyr carol secret-c <<'EOF'
for n, use in (("INBOX.Gesendet", "\\Sent"), ("INBOX.Papierkorb", "\\Trash"),
               ("INBOX.Entw&APw-rfe", "\\Drafts")):
    typ, r = M._simple_command("CREATE", '"%s"' % n, "(USE (%s))" % use)
    assert typ == "OK", (n, r)
EOF
# Courier refuses a wrong password.
MF_PORT=$(courier_var cou imap) python3 - <<'EOF' || fail "Courier accepted a wrong password"
import imaplib, os, sys
M = imaplib.IMAP4("127.0.0.1", int(os.environ["MF_PORT"]))
try:
    M.login("bob", "not-the-password")
except imaplib.IMAP4.error:
    sys.exit(0)
sys.exit(1)
EOF

describe "$(dovecot_var src imaps)" alice secret-a --tls --ca "$T/ca.pem" >"$T/alice.txt"
[ "$(wc -l <"$T/alice.txt")" -eq "$N" ] || fail "seeding: $(wc -l <"$T/alice.txt") messages"

echo "== 1. Dovecot -> Courier (STARTTLS)"
t0=$(date +%s)
run s1 "$DOVE" "$COU" --source-password-file "$T/pw-a" --sink-password-file "$T/pw-b" \
	>"$T/run1.json" 2>"$T/run1.err" || { cat "$T/run1.err"; fail "Dovecot -> Courier failed"; }
echo "   $(copied "$T/run1.json") copied in $(( $(date +%s) - t0 )) s"
assert_eq "$(copied "$T/run1.json")" "$N" "messages copied to Courier"
# A '.' inside a level (Courier's separator) becomes '_'.
sed -e 's|^Sent |Sent Items |' -e 's|^Trash |Deleted Items |' -e 's|^Junk |Spam |' \
	-e 's|^Release v1\.2 |Release v1_2 |' "$T/alice.txt" | LC_ALL=C sort >"$T/want1.txt"
describe "$(courier_var cou imap)" bob secret-b --starttls --ca "$T/ca.pem" | LC_ALL=C sort >"$T/bob.txt"
diff "$T/want1.txt" "$T/bob.txt" >&2 || fail "Courier copy differs from the Dovecot source"
t0=$(date +%s)
check c1 s1 "$DOVE" "$COU" "$T/pw-a" "$T/pw-b"
echo "   re-run and verify in $(( $(date +%s) - t0 )) s"

echo "== 2. Courier -> Cyrus (imaps from Courier)"
t0=$(date +%s)
run s2 "$COUS" "$CYR" --source-password-file "$T/pw-b" --sink-password-file "$T/pw-c" \
	>"$T/run2.json" 2>"$T/run2.err" || { cat "$T/run2.err"; fail "Courier -> Cyrus failed"; }
echo "   $(copied "$T/run2.json") copied in $(( $(date +%s) - t0 )) s"
assert_eq "$(copied "$T/run2.json")" "$N" "messages copied to Cyrus"
sed -e 's|^Sent Items |Gesendet |' -e 's|^Deleted Items |Papierkorb |' \
	-e 's|^Drafts |Entw\&APw-rfe |' "$T/bob.txt" | LC_ALL=C sort >"$T/want2.txt"
describe "$(cyrus_var cyr imap)" carol secret-c | LC_ALL=C sort >"$T/carol.txt"
diff "$T/want2.txt" "$T/carol.txt" >&2 || fail "Cyrus copy differs from the Courier source"
# Cyrus's special-use folders are still the ones it had: none made anew.
describe "$(cyrus_var cyr imap)" carol secret-c --special-use >"$T/carol.use"
assert_eq "$(cat "$T/carol.use")" "$(printf '%s\n' '\Drafts Entw&APw-rfe' '\Sent Gesendet' \
	'\Trash Papierkorb')" "Cyrus's special-use folders"
t0=$(date +%s)
check c2 s2 "$COUS" "$CYR" "$T/pw-b" "$T/pw-c"
echo "   re-run and verify in $(( $(date +%s) - t0 )) s"

# POP3 sees INBOX only, and carries neither flags nor dates.
inbox_digests() { grep '^INBOX ' "$1" | cut -d' ' -f2 | LC_ALL=C sort; }
ninbox=$(grep -c '^INBOX ' "$T/bob.txt")

echo "== 3. POP3 from Courier (pop3s) into a Maildir"
t0=$(date +%s)
run s3 "pop3s://bob@127.0.0.1:$(courier_var cou pop3s)" "maildir:$T/pop-courier" \
	--source-password-file "$T/pw-b" >"$T/run3.json" 2>"$T/run3.err" ||
	{ cat "$T/run3.err"; fail "POP3 from Courier failed"; }
echo "   $(copied "$T/run3.json") copied in $(( $(date +%s) - t0 )) s"
assert_eq "$(copied "$T/run3.json")" "$ninbox" "messages copied over POP3 from Courier"
assert_eq "$(maildir_digests "$T/pop-courier")" "$(inbox_digests "$T/bob.txt")" \
	"POP3 from Courier: delivered bytes"
run s3 "pop3s://bob@127.0.0.1:$(courier_var cou pop3s)" "maildir:$T/pop-courier" \
	--source-password-file "$T/pw-b" >"$T/run3b.json" 2>"$T/run3b.err" ||
	{ cat "$T/run3b.err"; fail "POP3 re-run failed"; }
assert_eq "$(copied "$T/run3b.json")" 0 "POP3 from Courier: re-run copies"
MAILFERRY_SOURCE_PASSWORD=secret-b mf verify "pop3s://bob@127.0.0.1:$(courier_var cou pop3s)" \
	"maildir:$T/pop-courier" --ca-file "$T/ca.pem" --state "$T/s3.db" \
	--report "$T/c3.report" >"$T/c3.verify" 2>&1 || { cat "$T/c3.verify"; fail "POP3 from Courier: verify"; }

echo "== 4. POP3 from Cyrus (STLS) into Dovecot"
t0=$(date +%s)
POPC="pop3://carol@127.0.0.1:$(cyrus_var cyr pop3)"
DOVE_E="imaps://erin@127.0.0.1:$(dovecot_var src imaps)"
run s4 "$POPC" "$DOVE_E" --source-password-file "$T/pw-c" --sink-password-file "$T/pw-e" \
	>"$T/run4.json" 2>"$T/run4.err" || { cat "$T/run4.err"; fail "POP3 from Cyrus failed"; }
echo "   $(copied "$T/run4.json") copied in $(( $(date +%s) - t0 )) s"
assert_eq "$(copied "$T/run4.json")" "$ninbox" "messages copied over POP3 from Cyrus"
describe "$(dovecot_var src imaps)" erin secret-e --tls --ca "$T/ca.pem" --content-only |
	cut -d' ' -f2 | LC_ALL=C sort >"$T/erin.txt"
assert_eq "$(cat "$T/erin.txt")" "$(inbox_digests "$T/carol.txt")" "POP3 from Cyrus: delivered bytes"
check c4 s4 "$POPC" "$DOVE_E" "$T/pw-c" "$T/pw-e"
echo "courier_matrix: OK ($N messages, $ninbox over POP3)"
