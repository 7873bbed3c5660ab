#!/bin/sh
# SPDX-License-Identifier: MIT
# The whole path from Exchange to an IMAP target: the fake EWS server
# (tests/fake/ews) as source, a private Dovecot (dovecot.sh harness) as
# target through the IMAP sink, the real CLI in between.  Both sides use
# TLS with the same throw-away certificate.  Checked over IMAP: every
# message's bytes (SHA-256 against the fixture .eml files), its flags and
# keywords, its folder (special-use folders mapped onto Dovecot's Sent,
# Drafts, Junk), nothing from calendar/contacts/tasks; then a second run
# appends nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot.sh"

dovecot_available || { echo "SKIP: dovecot not installed"; exit 77; }
[ -f "$top_builddir/plugins/ews/ews.la" ] || { echo "SKIP: ews plugin not built"; exit 77; }
[ -f "$top_builddir/sinks/alimail.la" ] || { echo "SKIP: IMAP (alimail) sink not built"; exit 77; }
command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 missing"; exit 77; }
FAKE="$top_srcdir/tests/fake/ews/fake_ews.py"
FIX="$top_srcdir/tests/fake/ews/fixture"
MAIL="$FIX/mail"

dovecot_user dc alice@example.com 'alice-imap-pw'
dovecot_start dc /
CERT=$(dovecot_var dc cert)
KEY="$(dovecot_var dc dir)/key.pem"

rm -f "$T/port"
python3 "$FAKE" --fixture "$FIX/mailbox.json" --port-file "$T/port" \
	--cert "$CERT" --key "$KEY" --log "$T/requests.jsonl" \
	--user 'svc@example.com:S3cret!' --impersonator svc@example.com \
	--time-limit 120 2>"$T/fake.err" &
fake_pid=$!
mf_on_exit "kill $fake_pid 2>/dev/null || true"
wait_port_file "$T/port" "fake EWS server" "$T/fake.err"
SRC="ews://svc%40example.com@127.0.0.1:$(cat "$T/port")/EWS/Exchange.asmx"
DST="imaps://alice%40example.com@127.0.0.1:$(dovecot_var dc imaps)/"

run() { # run NAME: one migration; exit status in $rc
	rc=0
	MAILFERRY_SOURCE_PASSWORD='S3cret!' MAILFERRY_SINK_PASSWORD='alice-imap-pw' \
		mf migrate "$SRC" "$DST" --impersonate alice@example.com \
		--ca-file "$CERT" --state "$T/st.db" --json > "$T/$1.json" 2> "$T/$1.err" || rc=$?
}
counts() {
	grep '"event":"summary"' "$1" | sed 's/.*"copied":\([0-9]*\).*"failed":\([0-9]*\).*/\1 \2/'
}

# Every message in the target as "folder|flags|sha256", sorted (IMAP
# FETCH BODY.PEEK[] gives the bytes as appended, CRLF line ends).
imap_dump() {
	python3 - "$(dovecot_var dc imaps)" "$CERT" <<'EOF'
import hashlib, imaplib, re, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
m = imaplib.IMAP4_SSL("127.0.0.1", int(sys.argv[1]), ssl_context=ctx)
m.login("alice@example.com", "alice-imap-pw")
out = []
typ, boxes = m.list()
for line in boxes:
    name = re.match(rb'\(.*?\) "(.)" (.*)$', line).group(2).decode()
    name = name.strip('"')
    typ, exists = m.select('"%s"' % name, readonly=True)
    if typ != "OK" or int(exists[0]) == 0:
        continue
    typ, data = m.fetch("1:*", "(FLAGS BODY.PEEK[])")
    for part in data:
        if not isinstance(part, tuple):
            continue
        flags = re.search(rb"FLAGS \((.*?)\)", part[0]).group(1).decode().split()
        flags = " ".join(sorted(f for f in flags if f != "\\Recent"))
        out.append("%s|%s|%s" % (name, flags, hashlib.sha256(part[1]).hexdigest()))
for l in sorted(out):
    print(l)
m.logout()
EOF
}
line() { # line FOLDER FLAGS FIXTURE
	printf '%s|%s|%s\n' "$1" "$2" "$(sha256sum "$MAIL/$3.eml" | cut -d' ' -f1)"
}
expected() {
	{
		line INBOX '\Flagged \Seen' a1-welcome
		line INBOX '' a2-unread
		line INBOX '\Answered \Seen' a3-replied
		line INBOX '$Forwarded \Seen' a12-forwarded
		line INBOX/Projects '\Seen' a6-project
		line INBOX/Projects/2024_Q1 '\Flagged' a7-q1
		line Sent '\Seen' a8-sent
		line Drafts '\Draft \Seen' a9-draft
		line Junk '' a10-junk
	} | sort
}

run run1
if [ "$rc" -ne 1 ]; then
	dovecot_dump_logs dc
	fail "first run: exit $rc (expected 1: one item cannot be converted): $(cat "$T/run1.err")"
fi
assert_eq "$(counts "$T/run1.json")" "9 1" "first run copied/failed"
imap_dump > "$T/dump1" || fail "IMAP dump failed"
assert_eq "$(cat "$T/dump1")" "$(expected)" "messages, flags and folders in Dovecot"
grep -q 'VCALENDAR' "$T/dump1" && fail "calendar item copied"
python3 - "$(dovecot_var dc imaps)" "$CERT" > "$T/folders" <<'EOF'
import imaplib, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
m = imaplib.IMAP4_SSL("127.0.0.1", int(sys.argv[1]), ssl_context=ctx)
m.login("alice@example.com", "alice-imap-pw")
for l in m.list()[1]:
    print(l.decode())
EOF
grep -q 'Kalender/Mail under calendar' "$T/folders" || fail "mail folder under the calendar missing: $(cat "$T/folders")"
for d in Kontakte Aufgaben Notizen Postausgang 'Unread Mail' 'Gesendete Elemente'; do
	grep -q "$d" "$T/folders" && fail "folder $d should not exist: $(cat "$T/folders")"
done

run run2
[ "$rc" -eq 0 ] || fail "second run: exit $rc: $(cat "$T/run2.err")"
assert_eq "$(counts "$T/run2.json")" "0 0" "second run"
assert_eq "$(imap_dump)" "$(cat "$T/dump1")" "target after the second run"
echo "ok: ews_to_dovecot"
