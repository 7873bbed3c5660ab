#!/bin/sh
# SPDX-License-Identifier: MIT
# IMAP with OAuth 2.0 tokens from the core's service, against a real
# Dovecot whose oauth2 passdb checks every token at the fake token
# service's RFC 7662 introspection endpoint (tests/fake/graph).  Refresh
# token grant (the Microsoft 365 delegated case), tokens living 2 s:
#   a. XOAUTH2: 100 messages byte-identical into maildir;
#   b. OAUTHBEARER (RFC 7628) for a second mailbox;
#   b2. the alimail/IMAP sink with XOAUTH2: alice's copy into dave's
#      mailbox, byte-identical;
#   c. the re-run works with the refresh token the first run rotated (the
#      fake invalidates the old one on use) and copies 0;
#   d. connections cut mid-run (imap_proxy): every reconnect logs in with
#      a renewed token, nothing lost or doubled;
#   e. POP3 AUTH XOAUTH2 through the same passdb;
#   f. a revoked refresh token: exit 3, the endpoint's invalid_grant and
#      the account named;
#   g. no token or refresh token in any output or state file.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/dovecot.sh"
. "$top_srcdir/tests/integration/imap_lib.sh"
. "$top_srcdir/tests/integration/graph_lib.sh"

start_fake --generate nobody@example.com:1:1 --token-lifetime 2 \
	--refresh-token "M.R3_alice-initial:app1:alice@example.com" \
	--refresh-token "M.R3_bob-initial:app1:bob@example.com" \
	--refresh-token "M.R3_dave-initial:app1:dave@example.com"
for u in alice bob dave; do
	printf 'M.R3_%s-initial\n' "$u" > "$T/rt-$u"
	chmod 600 "$T/rt-$u"
done

# Dovecot's auth process runs as its own user and cannot enter $T (0700):
# the CA it needs to trust the fake goes where it can read it.
PUB=$(mktemp -d "${TMPDIR:-/tmp}/mfoauth.XXXXXX")
mf_on_exit "rm -rf '$PUB'"
chmod 755 "$PUB"
cp "$T/cert.pem" "$PUB/fake-ca.pem"
chmod 644 "$PUB/fake-ca.pem"
cat > "$T/dovecot-oauth2.conf.ext" <<EOF
introspection_mode = post
introspection_url = $BASE/introspect
username_attribute = username
active_attribute = active
active_value = true
tls_ca_cert_file = $PUB/fake-ca.pem
EOF
DOVECOT_AUTH_MECHS="plain login xoauth2 oauthbearer"
DOVECOT_EXTRA_CONF="passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = $T/dovecot-oauth2.conf.ext
}"
dovecot_user src alice@example.com seed-pw
dovecot_user src bob@example.com seed-pw
dovecot_user src dave@example.com seed-pw
dovecot_start src /
for u in alice bob; do
	imap_py src "$u@example.com" seed-pw <<'EOF'
M.create(q("Work"))
for i in range(100):
    box = "INBOX" if i % 3 else "Work"
    data = ("From: x@old.example\r\nSubject: oauth %d\r\nMessage-ID: <o%d-%s@old>\r\n\r\nbody %d\r\n"
            % (i, i, sys.argv[2], i)).encode()
    typ, _ = M.append(q(box), "(\\Seen)" if i % 2 else "()", '"01-Feb-2026 10:00:00 +0000"', data)
    if typ != "OK":
        die("append %d" % i)
EOF
done
cat "$T/cert.pem" "$(dovecot_var src cert)" > "$T/ca.pem"
TOKEN_URL="$BASE/tenant1/oauth2/v2.0/token"

oauth_run() { # oauth_run NAME USER AUTH PORT TARGET [options]: exit status in $rc
	name=$1 u=$2 auth=$3 port=$4 target=$5
	shift 5
	rc=0
	mf migrate "imaps://$u%40example.com@127.0.0.1:$port/?auth=$auth" "$target" \
		--name "$u" --ca-file "$T/ca.pem" --oauth-token-url "$TOKEN_URL" \
		--oauth-client-id app1 --oauth-refresh-token-file "$T/rt-$u" \
		--oauth-scope https://outlook.office365.com/.default --json "$@" \
		> "$T/$name.json" 2> "$T/$name.err" || rc=$?
}
digests_of() { # digests_of USER: the seeded messages' SHA-256, sorted
	imap_py src "$1@example.com" seed-pw <<'EOF'
out = []
for box in ("INBOX", "Work"):
    M.select(q(box), readonly=True)
    typ, data = M.fetch("1:*", "(BODY.PEEK[])")
    out += [hashlib.sha256(p[1]).hexdigest() for p in data if isinstance(p, tuple)]
print("\n".join(sorted(out)))
EOF
}
IMAPS=$(dovecot_var src imaps)

# a. XOAUTH2
oauth_run a alice xoauth2 "$IMAPS" "maildir:$T/alice" --state "$T/st-alice.db"
[ "$rc" -eq 0 ] || { dovecot_dump_logs src; show a; fail "XOAUTH2 run exited $rc"; }
assert_eq "$(counts "$T/a.json")" "100 0" "XOAUTH2: copied failed"
assert_eq "$(maildir_digests "$T/alice")" "$(digests_of alice)" "XOAUTH2 copy"
grep -q -v 'M.R3_alice-initial' "$T/rt-alice" || fail "the rotated refresh token was not saved"

# b. OAUTHBEARER
oauth_run b bob oauthbearer "$IMAPS" "maildir:$T/bob" --state "$T/st-bob.db"
[ "$rc" -eq 0 ] || { dovecot_dump_logs src; show b; fail "OAUTHBEARER run exited $rc"; }
assert_eq "$(counts "$T/b.json")" "100 0" "OAUTHBEARER: copied failed"
assert_eq "$(maildir_digests "$T/bob")" "$(digests_of bob)" "OAUTHBEARER copy"

# b2. The IMAP sink (sinks/alimail) logs in with XOAUTH2 the same way.
rc=0
mf migrate "maildir:$T/alice" "imaps://dave%40example.com@127.0.0.1:$IMAPS/?auth=xoauth2" \
	--name dave --ca-file "$T/ca.pem" --state "$T/st-dave.db" --oauth-token-url "$TOKEN_URL" \
	--oauth-client-id app1 --oauth-refresh-token-file "$T/rt-dave" \
	--oauth-scope https://outlook.office365.com/.default --json > "$T/s.json" 2> "$T/s.err" || rc=$?
[ "$rc" -eq 0 ] || { dovecot_dump_logs src; show s; fail "IMAP sink XOAUTH2 run exited $rc"; }
assert_eq "$(counts "$T/s.json")" "100 0" "IMAP sink XOAUTH2: copied failed"
assert_eq "$(digests_of dave)" "$(digests_of alice)" "IMAP sink XOAUTH2 copy"

# c. The re-run lives on the rotated refresh token.
oauth_run c alice xoauth2 "$IMAPS" "maildir:$T/alice" --state "$T/st-alice.db"
[ "$rc" -eq 0 ] || { show c; fail "re-run with the rotated refresh token exited $rc"; }
assert_eq "$(counts "$T/c.json")" "0 0" "re-run: copied failed"

# d. Cuts: every reconnect after the 2 s lifetime needs a renewed token.
rm -f "$T/proxy.port"
python3 "$top_srcdir/tests/fake/imap_proxy.py" "$T/proxy.port" "$IMAPS" --cuts 3 --cut-seed 7 \
	--cut-max 6000 --delay-ms 40 --time-limit "$MF_TEST_TIMEOUT" &
mf_on_exit "kill $! 2>/dev/null || true"
wait_port_file "$T/proxy.port" "proxy"
g0=$(stat_of token refresh_token)
oauth_run d alice xoauth2 "$(cat "$T/proxy.port")" "maildir:$T/alice-cut" --state "$T/st-cut.db" \
	--retries 10
[ "$rc" -eq 0 ] || { dovecot_dump_logs src; show d; fail "run with cuts exited $rc"; }
assert_eq "$(maildir_digests "$T/alice-cut")" "$(digests_of alice)" "copy through cuts"
grants=$(( $(stat_of token refresh_token) - g0 ))
[ "$grants" -ge 2 ] || fail "only $grants token grant(s) over a run with 3 cuts"

# POP3 with AUTH XOAUTH2 through the same passdb: the INBOX's 66.
rc=0
mf migrate "pop3s://bob%40example.com@127.0.0.1:$(dovecot_var src pop3s)/?auth=xoauth2" \
	"maildir:$T/bob-pop3" --name bob-pop3 --state "$T/st-pop3.db" --ca-file "$T/ca.pem" \
	--oauth-token-url "$TOKEN_URL" --oauth-client-id app1 --oauth-refresh-token-file "$T/rt-bob" \
	--oauth-scope https://outlook.office365.com/.default --json > "$T/p.json" 2> "$T/p.err" || rc=$?
[ "$rc" -eq 0 ] || { dovecot_dump_logs src; show p; fail "POP3 XOAUTH2 run exited $rc"; }
assert_eq "$(counts "$T/p.json")" "66 0" "POP3 XOAUTH2: copied failed"

# f. A revoked refresh token.
printf 'M.R3_revoked\n' > "$T/rt-carol"
oauth_run e carol xoauth2 "$IMAPS" "maildir:$T/carol" --state "$T/st-carol.db"
assert_eq "$rc" 3 "exit status with a revoked refresh token"
grep -q 'invalid_grant' "$T/e.err" || { show e; fail "no invalid_grant in the error"; }
grep -q 'carol' "$T/e.err" || { show e; fail "the error does not name the account"; }

# g. No token anywhere.  The fake's access tokens start EwB, its rotated
# refresh tokens M.C5 (the fake does not log the tokens it issues, so
# these shapes stand for them); the refresh tokens now in use are known
# exactly.
rt_now="$(cat "$T/rt-alice" "$T/rt-bob" "$T/rt-dave")"
for f in "$T"/*.json "$T"/*.err "$T"/st*.db; do
	[ -f "$f" ] || continue
	if grep -q -a -E 'EwB[A-Za-z0-9_-]{60}|M\.C5[A-Za-z0-9_-]{20}|M\.R3_' "$f"; then
		fail "a token appears in $f"
	fi
	for rt in $rt_now; do
		if grep -q -a -F "$rt" "$f"; then fail "a refresh token appears in $f"; fi
	done
done
total=$(stat_of token)
echo "imap oauth: XOAUTH2 100 + OAUTHBEARER 100 + sink 100 + POP3 66 copied, rotation kept," \
	"$grants grants over 3 cuts, $total token requests, $(stat_of introspect) introspections"
