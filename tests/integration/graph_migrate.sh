#!/bin/sh
# SPDX-License-Identifier: MIT
# Microsoft Graph source against the fake Graph service: 1,500 messages in
# nested folders (a 2 MB one among them) copied byte-identical with flags
# into the maildir sink, while tokens expire every 3 s and every 150th
# request is throttled (429 Retry-After); 5 new messages make a re-run
# fetch exactly 5 bodies; a message deleted mid-run is skipped and
# counted; a wrong secret fails with the token endpoint's words; a
# certificate credential and a service account work too; no secret
# reaches any output or the state file.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/graph_lib.sh"

U=alice@contoso.example
make_fixture "$T/fix" "$U" 1500
start_fake --fixture "$T/fix" --token-lifetime 3 --throttle-every 150

# 1. The whole mailbox.
graph_run run1 "$U" "maildir:$T/out" --state "$T/st.db" --retries 30
[ "$rc" -eq 0 ] || { show run1; fail "first run exited $rc"; }
assert_eq "$(counts "$T/run1.json")" "1500 0" "first run: copied failed"
find "$T/fix" -name '*.eml' -exec sha256sum {} + | cut -d' ' -f1 | sort > "$T/want"
maildir_digests "$T/out" > "$T/got"
cmp -s "$T/want" "$T/got" || fail "maildir bytes differ from the fixture ($(wc -l < "$T/got") messages)"
# Flags: isRead -> S, flagged -> F ("complete" is not flagged), drafts -> D.
want_seen=$(find "$T/fix" -name '*.eml.json' -exec grep -l '"isRead": true' {} + | wc -l)
want_flagged=$(find "$T/fix" -name '*.eml.json' -exec grep -l '"flagStatus": "flagged"' {} + | wc -l)
got_seen=$(find "$T/out" -path '*/cur/*' -name '*:2,*S*' | wc -l)
got_flagged=$(find "$T/out" -path '*/cur/*' -name '*:2,*F*' | wc -l)
got_draft=$(find "$T/out" -path '*/cur/*' -name '*:2,D*' | wc -l)
assert_eq "$got_seen" "$want_seen" "messages marked seen"
assert_eq "$got_flagged" "$want_flagged" "messages flagged"
assert_eq "$got_draft" "$(find "$T/fix" -path '*/Drafts/*.eml' | wc -l)" "drafts"
# Nested, non-ASCII folders arrive as folders.
[ -d "$T/out/.Données.Été" ] || [ -d "$T/out/Données/Été" ] || [ -d "$T/out/.Donn&AOk-es.&AMk-t&AOk-" ] ||
	fail "no Données/Été folder in the target: $(ls -a "$T/out")"
tokens=$(stat_of token client_credentials)
throttled=$(stat_of status 429)
[ "$tokens" -ge 2 ] || fail "the token (3 s lifetime) was never renewed ($tokens requests)"
[ "$throttled" -ge 5 ] || fail "the fake throttled only $throttled times"
echo "run 1: 1500 copied, $tokens token requests, $throttled throttled answers"

# 2. Nothing new: nothing fetched.  Then 5 new ones: exactly 5 bodies.
v0=$(stat_of value)
graph_run run2 "$U" "maildir:$T/out" --state "$T/st.db" --retries 30
assert_eq "$rc" 0 "second run exit status"
assert_eq "$(counts "$T/run2.json")" "0 0" "second run: copied failed"
assert_eq "$(stat_of value)" "$v0" "bodies fetched by a run with nothing new"
for i in 1 2 3 4 5; do
	control add "{\"user\":\"$U\",\"folder\":\"Inbox/Projects\",\"name\":\"new$i.eml\",\"mime\":\"From: n@old.example\\r\\nSubject: new $i\\r\\nMessage-ID: <new$i@old.example>\\r\\n\\r\\nnew body $i\\r\\n\",\"isRead\":true}"
done
graph_run run3 "$U" "maildir:$T/out" --state "$T/st.db" --retries 30
assert_eq "$rc" 0 "third run exit status"
assert_eq "$(counts "$T/run3.json")" "5 0" "third run: copied failed"
assert_eq "$(( $(stat_of value) - v0 ))" 5 "bodies fetched for 5 new messages"
assert_eq "$(maildir_digests "$T/out" | wc -l)" 1505 "messages in the target"

# 3. A message deleted between listing and download: skipped, counted.
start_fake --generate bob@contoso.example:40:2 --delete-on-value 5
# One $value request per message here (batch=1): the path big messages take.
GRAPH_QUERY="&batch=1" graph_run del bob@contoso.example "maildir:$T/bob" --state "$T/st-bob.db"
[ "$rc" -eq 0 ] || { show del; fail "deleted-mid-run case exited $rc"; }
grep -q 'deleted on the server during the run' "$T/del.err" ||
	{ show del; fail "the deleted message is not reported"; }
set -- $(counts "$T/del.json")
assert_eq "$2" 0 "failed messages when one vanished mid-run"

# 4. A wrong secret: exit 3, the endpoint's error named, nothing copied.
printf 'wrong-secret\n' > "$T/bad.secret"
SECRET_FILE="$T/bad.secret" graph_run bad bob@contoso.example "maildir:$T/bad" --state "$T/st-bad.db"
assert_eq "$rc" 3 "exit status with a wrong client secret"
grep -q 'invalid_client' "$T/bad.err" || { show bad; fail "no invalid_client in the error"; }
grep -q 'AADSTS7000215' "$T/bad.err" || { show bad; fail "no AADSTS code in the error"; }
grep -q 'bob@contoso.example' "$T/bad.err" || { show bad; fail "the error does not name the mailbox"; }

# 5. The other two app credentials against the same fake: a certificate
# (RFC 7523 client assertion, checked by the fake against app2's
# certificate) and a Google-style service account acting for the mailbox.
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=app2 \
	-keyout "$T/app2.key" -out "$T/app2.crt" >/dev/null 2>&1 || fail "openssl app2"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=sa \
	-keyout "$T/sa.key" -out "$T/sa.crt" >/dev/null 2>&1 || fail "openssl sa"
start_fake --generate carol@contoso.example:30:2 --app-cert "app2:$T/app2.crt" \
	--service-account "sa@proj.iam.gserviceaccount.com:$T/sa.crt"
mkdir "$T/keys"
python3 - "$T/sa.key" "$BASE/token" > "$T/keys/sa.json" <<'EOF2'
import json, sys
print(json.dumps({"type": "service_account", "client_email": "sa@proj.iam.gserviceaccount.com",
                  "private_key_id": "k1", "private_key": open(sys.argv[1]).read(),
                  "token_uri": sys.argv[2]}))
EOF2
URI="graph://tenant1/carol@contoso.example?base=$BASE"
rc=0
mf migrate "$URI" "maildir:$T/carol-cert" --name carol --state "$T/st-cert.db" --ca-file "$T/cert.pem" \
	--oauth-authority "$BASE" --oauth-client-id app2 --oauth-cert-file "$T/app2.crt" \
	--oauth-key-file "$T/app2.key" --json > "$T/cert.json" 2> "$T/cert.err" || rc=$?
[ "$rc" -eq 0 ] || { show cert; fail "certificate credential run exited $rc"; }
assert_eq "$(stat_of token client_credentials+assertion)" 1 "token requests by assertion"
rc=0
mf migrate "$URI" "maildir:$T/carol-sa" --name carol --state "$T/st-sa.db" --ca-file "$T/cert.pem" \
	--oauth-service-account-file "$T/keys/sa.json" --oauth-scope "$BASE/.default" \
	--json > "$T/sa-run.json" 2> "$T/sa-run.err" || rc=$?
[ "$rc" -eq 0 ] || { show sa-run; fail "service account run exited $rc"; }
assert_eq "$(stat_of token urn:ietf:params:oauth:grant-type:jwt-bearer)" 1 "service account grants"
assert_eq "$(maildir_digests "$T/carol-sa")" "$(maildir_digests "$T/carol-cert")" \
	"the two credentials' copies"

# 6. Admin mode: one app registration, an accounts CSV of three
# mailboxes, one app token for all of them (cached per tenant and scope).
start_fake --generate u1@contoso.example:12:1 --generate u2@contoso.example:12:1 \
	--generate u3@contoso.example:12:1
printf 'source_user\nu1@contoso.example\nu2@contoso.example\nu3@contoso.example\n' > "$T/users.csv"
rc=0
mf migrate --accounts "$T/users.csv" "graph://tenant1/{source_user}?base=$BASE" \
	"maildir:$T/bulk/{source_user}" --state "$T/st-bulk.db" --ca-file "$T/cert.pem" \
	--oauth-authority "$BASE" --oauth-client-id app1 --oauth-client-secret-file "$T/app1.secret" \
	--jobs 3 --json > "$T/bulk.json" 2> "$T/bulk.err" || rc=$?
[ "$rc" -eq 0 ] || { show bulk; fail "accounts CSV run exited $rc"; }
for u in u1 u2 u3; do
	[ "$(maildir_digests "$T/bulk/$u@contoso.example" | wc -l)" -gt 0 ] || fail "nothing for $u"
done
assert_eq "$(stat_of token client_credentials)" 1 "app tokens for three mailboxes"

# 7. No secret anywhere: outputs and state files.  The fake's access
# tokens are "EwB" + 64 base64url characters, as Microsoft's look.
for f in "$T"/*.json "$T"/*.err "$T"/st*.db; do
	[ -f "$f" ] || continue
	if grep -q -a -F "$SECRET" "$f"; then fail "the client secret appears in $f"; fi
	if grep -q -a 'PRIVATE KEY' "$f"; then fail "a private key appears in $f"; fi
	if grep -q -a -E 'EwB[A-Za-z0-9_-]{60}' "$f"; then fail "an access token appears in $f"; fi
done
echo "graph: 1500 + 5 copied byte-identical, re-run fetched 5, deletion skipped, wrong secret refused"
