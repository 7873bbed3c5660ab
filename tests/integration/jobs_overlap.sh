#!/bin/sh
# SPDX-License-Identifier: MIT
# --jobs counts mailboxes copying, not mailboxes in their tail (issue 15):
# with --jobs 1 the second mailbox starts once a stream of the first has
# run out of folders, while the first one's last folder is still being
# copied; its second stream, with no connection slot free under
# --connections-per-host, waits for one instead of never starting.  Both
# targets must equal their sources exactly.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/dovecot.sh"
. "$top_srcdir/tests/integration/imap_lib.sh"

for u in m1 m2; do
	dovecot_user src "$u" "$u-pw"
	dovecot_user dst "x-$u" pw
done
dovecot_start src
dovecot_start dst
SRC_DIR=$(dovecot_var src dir)
gen() { # gen USER FOLDER MESSAGES FIRST
	python3 "$top_srcdir/tests/tools/gen_mailbox.py" --format maildir --layout fs \
		--out "$SRC_DIR/mail/$1" --folders "$2" --messages "$3" --first "$4" \
		--seed "$4" --big-fraction 0 > /dev/null
}
gen m1 INBOX 30 1
gen m1 Tiny 1 31
gen m2 INBOX 6 41
gen m2 Other 6 51
chown -R nobody "$SRC_DIR/mail" 2>/dev/null || true
printf 'user,source_password\nm1,m1-pw\nm2,m2-pw\n' > "$T/accounts.csv"
echo pw > "$T/pw"

# m1's stream on Tiny ends at once; the one on INBOX (not split: under 40
# messages) takes 3 s at 10 messages/s.  Source and sink are both
# 127.0.0.1: 4 slots are two streams, so m2 gets one and waits for one.
mf migrate --accounts "$T/accounts.csv" --jobs 1 --streams 2 --connections-per-host 4 \
	--max-messages-per-second 10 --json -v --state "$T/state.db" \
	--sink-password-file "$T/pw" \
	"imap://{user}@127.0.0.1:$(dovecot_var src imap)/?tls=none" \
	"imap://x-{user}@127.0.0.1:$(dovecot_var dst imap)/?tls=none" > "$T/run.json" 2> "$T/run.log" ||
	fail "run failed: $(grep -v 'CLEAR TEXT\|not a loadable' "$T/run.log" | tail -20)"
line_of() { grep -n "\"event\":\"$1\".*\"mailbox\":\"[^\"]*:$2\"" "$T/run.json" | head -1 | cut -d: -f1; }
m1_done=$(line_of mailbox_done 2)
m2_start=$(line_of mailbox_start 3)
[ -n "$m1_done" ] && [ -n "$m2_start" ] || fail "events missing: $(grep mailbox_ "$T/run.json")"
[ "$m2_start" -lt "$m1_done" ] ||
	fail "the second mailbox waited for the first one's tail: $(grep mailbox_ "$T/run.json")"
grep -q "1 streams (1 more when a connection slot frees)" "$T/run.log" ||
	fail "no stream waited for a slot: $(grep streams "$T/run.log")"
for u in m1 m2; do
	imap_describe src "$u" "$u-pw" > "$T/src-$u.txt"
	imap_describe dst "x-$u" pw > "$T/dst-$u.txt"
	diff "$T/src-$u.txt" "$T/dst-$u.txt" >&2 || fail "$u: target differs"
done
echo "ok: mailbox 2 started (event line $m2_start) before mailbox 1 ended (line $m1_done)"
