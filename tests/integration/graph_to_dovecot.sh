#!/bin/sh
# SPDX-License-Identifier: MIT
# Microsoft Graph source into a real IMAP target (Dovecot, through the
# alimail sink as imaps://): 1,500 messages in nested non-ASCII folders
# arrive byte-identical (IMAP FETCH BODY.PEEK[] against the fixture) with
# \Seen and \Flagged as the fixture's sidecars say, tokens expiring every
# 3 s; the re-run copies nothing and leaves the target unchanged.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/dovecot.sh"
dovecot_available || { echo "SKIP: dovecot not installed"; exit 77; }
. "$top_srcdir/tests/integration/graph_lib.sh"

U=alice@contoso.example
make_fixture "$T/fix" "$U" 1500
dovecot_user dc "$U" 'alice-imap-pw'
dovecot_start dc /
start_fake --fixture "$T/fix" --token-lifetime 3
DST="imaps://alice%40contoso.example@127.0.0.1:$(dovecot_var dc imaps)/"
# One CA file for both servers' certificates.
cat "$T/cert.pem" "$(dovecot_var dc cert)" > "$T/ca.pem"

run() { # run NAME
	rc=0
	MAILFERRY_SINK_PASSWORD='alice-imap-pw' mf migrate \
		"graph://tenant1/$U?base=$BASE" "$DST" --name "$U" --state "$T/st.db" \
		--ca-file "$T/ca.pem" --oauth-authority "$BASE" --oauth-client-id app1 \
		--oauth-client-secret-file "$T/app1.secret" --json > "$T/$1.json" 2> "$T/$1.err" || rc=$?
}
# Every message in the target as "flags|sha256", sorted.
imap_dump() {
	python3 - "$(dovecot_var dc imaps)" "$(dovecot_var dc cert)" "$U" <<'EOF'
import hashlib, imaplib, re, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
m = imaplib.IMAP4_SSL("127.0.0.1", int(sys.argv[1]), ssl_context=ctx)
m.login(sys.argv[3], "alice-imap-pw")
out = []
for line in m.list()[1]:
    name = re.match(rb'\(.*?\) "(.)" (.*)$', line).group(2).decode().strip('"')
    typ, exists = m.select('"%s"' % name, readonly=True)
    if typ != "OK" or int(exists[0]) == 0:
        continue
    typ, data = m.fetch("1:*", "(FLAGS BODY.PEEK[])")
    for part in data:
        if isinstance(part, tuple):
            flags = re.search(rb"FLAGS \((.*?)\)", part[0]).group(1).decode().split()
            flags = " ".join(sorted(f for f in flags if f in ("\\Seen", "\\Flagged")))
            out.append("%s|%s" % (flags, hashlib.sha256(part[1]).hexdigest()))
print("\n".join(sorted(out)))
m.logout()
EOF
}
# The same from the fixture: flags from the sidecars.
expected() {
	python3 - "$T/fix" <<'EOF'
import hashlib, json, os, sys
out = []
for d, _s, files in os.walk(sys.argv[1]):
    for n in files:
        if n.endswith(".eml"):
            side = json.load(open(os.path.join(d, n + ".json")))
            flags = []
            if side.get("flagStatus") == "flagged":
                flags.append("\\Flagged")
            if side.get("isRead"):
                flags.append("\\Seen")
            digest = hashlib.sha256(open(os.path.join(d, n), "rb").read()).hexdigest()
            out.append("%s|%s" % (" ".join(sorted(flags)), digest))
print("\n".join(sorted(out)))
EOF
}

run run1
[ "$rc" -eq 0 ] || { dovecot_dump_logs dc; show run1; fail "first run exited $rc"; }
assert_eq "$(counts "$T/run1.json")" "1500 0" "first run: copied failed"
imap_dump > "$T/dump1" || fail "IMAP dump failed"
expected > "$T/want"
cmp -s "$T/dump1" "$T/want" ||
	fail "Dovecot differs from the fixture: $(diff "$T/want" "$T/dump1" | head -5)"
python3 - "$(dovecot_var dc imaps)" "$(dovecot_var dc cert)" "$U" > "$T/folders" <<'EOF'
import imaplib, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
m = imaplib.IMAP4_SSL("127.0.0.1", int(sys.argv[1]), ssl_context=ctx)
m.login(sys.argv[3], "alice-imap-pw")
for l in m.list()[1]:
    print(l.decode())
EOF
grep -q 'INBOX/Projects/2026' "$T/folders" || fail "nested folder missing: $(cat "$T/folders")"
grep -q 'Donn&AOk-es/&AMk-t&AOk-' "$T/folders" || fail "non-ASCII folder missing: $(cat "$T/folders")"

run run2
assert_eq "$rc" 0 "second run exit status"
assert_eq "$(counts "$T/run2.json")" "0 0" "second run: copied failed"
assert_eq "$(imap_dump)" "$(cat "$T/dump1")" "target after the second run"
echo "graph -> dovecot: 1500 byte-identical with flags, $(stat_of token client_credentials) token requests"
