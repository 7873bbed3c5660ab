#!/bin/sh
# SPDX-License-Identifier: MIT
# IMAP source -> Alibaba Mail sink through the real CLI, Dovecot on both
# ends (issue 3): implicit TLS with --ca-file, alimail:// and imaps://
# sinks, byte-identical copies with flags (keywords too, Dovecot allows
# them) and internal dates, non-ASCII and nested folders, special-use
# mapping, two distinct messages sharing a Message-ID both copied, a
# 1.5 MB message streamed, re-run copies 0, a new message copies 1, a
# UIDVALIDITY change copies 0.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/dovecot.sh"
. "$top_srcdir/tests/integration/imap_lib.sh"

dovecot_user src alice secret-a
dovecot_user dst bob secret-b
dovecot_user dst carol secret-c
dovecot_start src
dovecot_start dst
trap 'st=$?; [ $st = 0 ] || dovecot_dump_logs src dst; eval "$mf_cleanup_hooks"; rm -rf "$T"; exit $st' EXIT

cat "$(dovecot_var src cert)" "$(dovecot_var dst cert)" >"$T/ca.pem"
echo secret-a >"$T/pw-a"
echo secret-b >"$T/pw-b"
echo secret-c >"$T/pw-c"

msg() { # subject message-id body
	printf 'From: Alice <alice@example.com>\r\nTo: bob@example.com\r\n'
	printf 'Subject: %s\r\nMessage-ID: %s\r\nDate: Sat, 1 Feb 2020 10:00:00 +0800\r\n\r\n%s\r\n' "$1" "$2" "$3"
}

msg one '<1@example.com>' 'first' |
	imap_append src alice secret-a INBOX '\Seen $Label1' '01-Feb-2020 10:00:00 +0800'
# Two distinct messages with one Message-ID: both must arrive.
msg dup-a '<same@example.com>' 'version A' |
	imap_append src alice secret-a INBOX '\Flagged' '02-Feb-2020 11:00:00 +0000'
msg dup-b '<same@example.com>' 'version B, longer' |
	imap_append src alice secret-a INBOX '\Answered \Draft' '03-Feb-2020 12:00:00 -0500'
imap_py src alice secret-a <<'EOF'
for f in ("Projects", "Projects/已上线项目", "Archive 2019", "A&B"):
    typ, r = M.create(q(f))
    if typ != "OK":
        die("create %s: %r" % (f, r))
EOF
msg cn '<cn@example.com>' '中文正文' |
	imap_append src alice secret-a 'Projects/已上线项目' '\Seen' '31-Dec-1999 23:59:59 -0500'
msg amp '<amp@example.com>' 'ampersand folder' |
	imap_append src alice secret-a 'A&B' '' '15-Jun-2010 08:30:00 +0000'
msg sent '<sent@example.com>' 'I wrote this' |
	imap_append src alice secret-a Sent '\Seen' '04-Mar-2021 09:15:00 +0100'
# 1.5 MB with 8-bit bytes and a long line: streamed, never whole in a line.
python3 - >"$T/big.eml" <<'EOF'
import sys, random
r = random.Random(7)
out = sys.stdout.buffer
out.write(b"From: big@example.com\r\nSubject: big\r\nMessage-ID: <big@example.com>\r\n"
          b"Content-Type: application/octet-stream\r\n\r\n")
for i in range(20000):
    out.write(bytes(r.randrange(32, 256) for _ in range(72)) + b"\r\n")
out.write(b"x" * 5000 + b"\r\n")
EOF
imap_append src alice secret-a 'Archive 2019' '\Seen' '05-May-2019 05:05:05 +0000' <"$T/big.eml"

imap_describe src alice secret-a >"$T/src.txt"
[ "$(wc -l <"$T/src.txt")" -eq 7 ] || fail "seeding: $(cat "$T/src.txt")"

run() {
	mf migrate "$@" --state "$T/state.db" --ca-file "$T/ca.pem" \
		--source-password-file "$T/pw-a" --timeout 20 >"$T/out" 2>&1
}
SRC="imaps://alice@127.0.0.1:$(dovecot_var src imaps)"

# 1. alimail:// sink (TLS, verified with the CA file).
run "$SRC" "alimail://bob@127.0.0.1:$(dovecot_var dst imaps)" \
	--sink-password-file "$T/pw-b" || { cat "$T/out"; fail "first run failed"; }
grep -q " 7 messages copied" "$T/out" || { cat "$T/out"; fail "expected 7 copied"; }
imap_describe dst bob secret-b >"$T/dst.txt"
diff "$T/src.txt" "$T/dst.txt" >&2 || fail "target differs from source"

# Byte-identical as stored, not only as served: the big message's file
# on both servers (same Dovecot save settings on both ends).
for u in src:alice dst:bob; do
	grep -rl 'Message-ID: <big@example.com>' \
		"$(dovecot_var "${u%%:*}" dir)/mail/${u#*:}" >"$T/big.${u%%:*}"
	[ "$(wc -l <"$T/big.${u%%:*}")" -eq 1 ] || fail "big message files: $u"
done
cmp "$(cat "$T/big.src")" "$(cat "$T/big.dst")" ||
	fail "big message not byte-identical on disk"

# 2. Re-run: nothing copied, nothing failed.
run "$SRC" "alimail://bob@127.0.0.1:$(dovecot_var dst imaps)" \
	--sink-password-file "$T/pw-b" || { cat "$T/out"; fail "re-run failed"; }
grep -q " 0 messages copied" "$T/out" || { cat "$T/out"; fail "re-run copied"; }

# 3. A new message: exactly one more (incremental by UID).
msg later '<later@example.com>' 'arrived later' |
	imap_append src alice secret-a INBOX '' '06-Jun-2022 06:06:06 +0000'
run "$SRC" "alimail://bob@127.0.0.1:$(dovecot_var dst imaps)" \
	--sink-password-file "$T/pw-b" || { cat "$T/out"; fail "third run failed"; }
grep -q " 1 messages copied" "$T/out" || { cat "$T/out"; fail "expected 1 copied"; }
imap_describe src alice secret-a >"$T/src.txt"
imap_describe dst bob secret-b >"$T/dst.txt"
diff "$T/src.txt" "$T/dst.txt" >&2 || fail "target differs after incremental run"

# 4. UIDVALIDITY changes (a restored or rebuilt server): every UID is
# new, the core matches by content, nothing is copied twice.
dovecot_adm src mailbox update -u alice --uid-validity 4242 INBOX ||
	fail "doveadm could not change UIDVALIDITY"
run "$SRC" "alimail://bob@127.0.0.1:$(dovecot_var dst imaps)" \
	--sink-password-file "$T/pw-b" || { cat "$T/out"; fail "run after UIDVALIDITY change failed"; }
grep -q "UIDVALIDITY changed" "$T/out" || { cat "$T/out"; fail "UIDVALIDITY change unnoticed"; }
grep -q " 0 messages copied" "$T/out" || { cat "$T/out"; fail "copied again after UIDVALIDITY change"; }
imap_describe dst bob secret-b >"$T/dst.txt"
diff "$T/src.txt" "$T/dst.txt" >&2 || fail "target differs after UIDVALIDITY change"

# 5. The plain imaps:// sink into another account, own state file.
mf migrate "$SRC" "imaps://carol@127.0.0.1:$(dovecot_var dst imaps)" \
	--state "$T/state2.db" --ca-file "$T/ca.pem" \
	--source-password-file "$T/pw-a" --sink-password-file "$T/pw-c" \
	--timeout 20 >"$T/out" 2>&1 || { cat "$T/out"; fail "imaps sink run failed"; }
imap_describe dst carol secret-c >"$T/dst2.txt"
diff "$T/src.txt" "$T/dst2.txt" >&2 || fail "imaps:// sink differs"
echo "ok: imap -> alimail and imaps sinks, byte-identical, incremental"
