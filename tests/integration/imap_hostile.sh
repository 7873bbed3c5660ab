#!/bin/sh
# SPDX-License-Identifier: MIT
# The IMAP client against scripted servers (tests/fake/imap_server.py)
# through the CLI: a hung greeting is bounded by --timeout; a connection
# cut in the middle of a message literal is reopened and the folder
# resumed with nothing lost or doubled; unsolicited and unknown untagged
# data is tolerated and [ALERT] shown; a refused COMPRESS leaves the
# session uncompressed; XOAUTH2 sends the bearer token; and
# an Alibaba-shaped target (glued greeting without capabilities, no
# LITERAL+/UIDPLUS/SPECIAL-USE, Chinese folder names, no keywords) gets an
# explicit CAPABILITY, synchronising literals, only system flags, Sent
# mapped onto 已发送, and a refused message recorded while the run goes on.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/dovecot.sh"
. "$top_srcdir/tests/integration/imap_lib.sh"

fake() { imap_fake "$1" "$2" 60; } # scenario name -> sets PORT, LOG
echo secret >"$T/pw"

# 1. Hung greeting: bounded by --timeout.
fake hung-greeting hung
start=$(date +%s)
mf migrate "imap://alice@127.0.0.1:$PORT/?tls=none" "maildir:$T/md-hung" \
	--state "$T/hung.db" --source-password-file "$T/pw" --timeout 2 \
	--retries 1 >"$T/out" 2>&1 && fail "hung greeting succeeded"
elapsed=$(( $(date +%s) - start ))
[ "$elapsed" -lt 30 ] || fail "hung greeting took ${elapsed}s"
grep -q "no answer from server within 2 s" "$T/out" || { cat "$T/out"; fail "no timeout error"; }

# 2. Disconnect in the middle of the 2nd message's literal.
fake mid-literal mid
mf migrate "imap://alice@127.0.0.1:$PORT/?tls=none" "maildir:$T/md-mid" \
	--state "$T/mid.db" --source-password-file "$T/pw" --timeout 5 \
	>"$T/out" 2>&1 || { cat "$T/out"; fail "mid-literal run failed"; }
assert_eq "$(maildir_count "$T/md-mid")" 3 "messages after a cut literal"
assert_eq "$(cat "$T/md-mid"/cur/* "$T/md-mid"/new/* 2>/dev/null | grep -c '^Message-ID:')" 3 \
	"distinct messages"
for n in 1 2 3; do
	grep -rlq "Message-ID: <$n@fake>" "$T/md-mid" || fail "message $n missing"
done
grep -q "== connection 2" "$LOG" || fail "no reconnect"
# The first session pipelined: the body fetch was sent before the
# metadata of the next batch was awaited (one UID FETCH for all three).
grep -q "UID FETCH 1:3 (UID BODY.PEEK\[\])" "$LOG" || { cat "$LOG"; fail "no batched body fetch"; }

# 3. Bogus untagged data everywhere.
fake bogus-untagged bogus
mf migrate "imap://alice@127.0.0.1:$PORT/?tls=none" "maildir:$T/md-bogus" \
	--state "$T/bogus.db" --source-password-file "$T/pw" --timeout 5 \
	>"$T/out" 2>&1 || { cat "$T/out"; fail "bogus-untagged run failed"; }
assert_eq "$(maildir_count "$T/md-bogus")" 3 "messages despite noise"
grep -q "server alert: maintenance tonight" "$T/out" || { cat "$T/out"; fail "ALERT not shown"; }

# 3b. COMPRESS=DEFLATE offered but refused with NO: go on uncompressed.
fake compress-refused nocomp
mf migrate "imap://alice@127.0.0.1:$PORT/?tls=none" "maildir:$T/md-nocomp" \
	--state "$T/nocomp.db" --source-password-file "$T/pw" --timeout 5 \
	>"$T/out" 2>&1 || { cat "$T/out"; fail "compress-refused run failed"; }
assert_eq "$(maildir_count "$T/md-nocomp")" 3 "messages after a refused COMPRESS"
grep -q "COMPRESS DEFLATE" "$LOG" || { cat "$LOG"; fail "COMPRESS not asked for"; }
grep -q "server refused COMPRESS DEFLATE (\[CANNOT\] compression is off today)" "$T/out" ||
	{ cat "$T/out"; fail "refusal not logged"; }

# 4. XOAUTH2 with a bearer token as the password.
fake xoauth2 xo
echo tok-123 >"$T/tok"
mf migrate "imap://alice@example.com@127.0.0.1:$PORT/?tls=none&auth=xoauth2" \
	"maildir:$T/md-xo" --state "$T/xo.db" --source-password-file "$T/tok" \
	--timeout 5 >"$T/out" 2>&1 || { cat "$T/out"; fail "xoauth2 run failed"; }
grep -q "AUTHENTICATE XOAUTH2 " "$LOG" || fail "no XOAUTH2"
assert_eq "$(maildir_count "$T/md-xo")" 3 "messages via XOAUTH2"
echo bad-token >"$T/tok"
mf migrate "imap://alice@example.com@127.0.0.1:$PORT/?tls=none&auth=xoauth2" \
	"maildir:$T/md-xo2" --state "$T/xo2.db" --source-password-file "$T/tok" \
	--timeout 5 >"$T/out" 2>&1 && fail "bad token accepted"
grep -q "AUTHENTICATE XOAUTH2 as alice@example.com refused" "$T/out" ||
	{ cat "$T/out"; fail "unclear XOAUTH2 error"; }

# 5. Alibaba-shaped target, Dovecot source.
dovecot_user src alice secret
dovecot_start src
msgf() { printf 'From: a@example.com\r\nSubject: %s\r\nMessage-ID: <%s@x>\r\n\r\n%s\r\n' "$1" "$1" "$2"; }
msgf sent1 'sent body' | imap_append src alice secret Sent '\Seen $Label1' '01-Feb-2020 10:00:00 +0800'
msgf inbox1 'inbox body' | imap_append src alice secret INBOX '\Flagged \Answered' '02-Feb-2020 10:00:00 +0000'
msgf big 'REJECTME please' | imap_append src alice secret INBOX '' '03-Feb-2020 10:00:00 +0000'
imap_py src alice secret <<'EOF'
M.create(q("Plus+Star*Back\\slash"))
EOF
msgf odd 'odd folder' | imap_append src alice secret 'Plus+Star*Back\slash' '' '04-Feb-2020 10:00:00 +0000'
fake alibaba ali
rc=0
mf migrate "imaps://alice@127.0.0.1:$(dovecot_var src imaps)" \
	"alimail://bob@corp.example@127.0.0.1:$PORT/?tls=none" \
	--state "$T/ali.db" --source-password-file "$T/pw" --sink-password-file "$T/pw" \
	--ca-file "$(dovecot_var src cert)" --timeout 5 >"$T/out" 2>&1 || rc=$?
[ $rc -ne 0 ] || fail "a refused message must make the run report failure"
grep -q "3 messages copied" "$T/out" || { cat "$T/out"; fail "expected 3 copied"; }
grep -q "NO \[TOOBIG\] Message too large" "$T/out" || { cat "$T/out"; fail "server's words missing"; }
# CAPABILITY asked right after the greeting (none in it), before LOGIN.
sed -n '2p' "$LOG" | grep -q "^a1 CAPABILITY$" || { cat "$LOG"; fail "CAPABILITY not first"; }
grep -q '^a[0-9]* LOGIN bob@corp.example ' "$LOG" || fail "no LOGIN with the full address"
grep -q 'LIST "" ""$' "$LOG" || fail "separator not asked"
# Sent went to 已发送, system flags only, synchronising literal, the
# date (Dovecot Maildir keeps it in UTC).
grep -q '^a[0-9]* APPEND &XfJT0ZAB- (\\Seen) "01-Feb-2020 02:00:00 +0000" {[0-9]*} <literal [0-9]* bytes sync>' "$LOG" ||
	{ cat "$LOG"; fail "APPEND to Sent wrong"; }
grep -q 'Label1' "$LOG" && fail "keyword sent to a target without \\*"
grep -q '^a[0-9]* APPEND INBOX (\\Answered \\Flagged) ' "$LOG" || fail "INBOX APPEND flags"
grep -q '^a[0-9]* CREATE Plus_Star_Back_slash$' "$LOG" || { cat "$LOG"; fail "folder not sanitised"; }
grep -q 'COPY\|MOVE' "$LOG" && fail "COPY/MOVE used on the target"
# Bytes as the source served them.
grep -l 'sent body' "$LOG.d"/* >/dev/null || fail "Sent message not stored"
echo "ok: hung greeting, cut literal, bogus data, XOAUTH2, Alibaba-shaped target"
