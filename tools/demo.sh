#!/bin/sh
# SPDX-License-Identifier: MIT
# A real demo migration on embedded defaults, all on this machine:
# three users of "old.example" (an mbox tree, a Maildir++ and a PST-style
# .eml export) are moved by an accounts CSV into local Maildir targets,
# then the status view is shown, a re-run copies nothing new, one new
# message arrives and the delta run copies just that one.  Last, the same
# three mailboxes go over IMAPS into a stand-in for Alibaba Mail: a
# Dovecot started on 127.0.0.1 with its own self-signed certificate, in
# a temporary directory, stopped when the demo ends.
# Run from a built tree (./configure && make); leaves its files in
# ./demo-run/ for inspection.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${MAILFERRY_BUILD:-$top}
MF="$build/cli/mailferry"
[ -x "$MF" ] || { echo "demo: build first (./configure && make), $MF not found" >&2; exit 2; }
export MAILFERRY_PLUGIN_PATH="$build/plugins/mbox:$build/plugins/imap:$build/plugins/pop3:$build/plugins/ews:$build/sinks"
D="$PWD/demo-run"
rm -rf "$D"
mkdir -p "$D/old" "$D/new"
GEN="$top/tests/tools/gen_mailbox.py"

echo "== 1. the old system: three mailboxes"
python3 "$GEN" --format mbox --out "$D/old/alice" --messages 300 --seed 1 --manifest "$D/alice.txt"
python3 "$GEN" --format maildir --out "$D/old/bob" --messages 200 --seed 2 --manifest "$D/bob.txt"
python3 "$GEN" --format eml --out "$D/old/carol" --messages 120 --seed 3 --folders "INBOX,Sent,Projects" \
	--manifest "$D/carol.txt"
du -sh "$D/old"/* | sed 's/^/   /'

echo "== 2. the accounts template (as the old console's import)"
cat > "$D/accounts.csv" <<CSV
source_user,source_protocol,source_path,target_user,target_password,folder_policy,enabled
alice@old.example,mbox,$D/old/alice,alice@new.example,alice-pw,original,yes
bob@old.example,maildir,$D/old/bob,bob@new.example,bob-pw,original,yes
carol@old.example,eml,$D/old/carol,carol@new.example,carol-pw,folder:Imported,yes
CSV
sed 's/^/   /' "$D/accounts.csv"

echo "== 3. migrate all three, two at a time"
"$MF" migrate --accounts "$D/accounts.csv" --jobs 2 --state "$D/state.db" \
	'{source_protocol}:{source_path}' "maildir:$D/new/{target_user}"

echo "== 4. per-user status"
"$MF" status --state "$D/state.db"

echo "== 5. re-run: only what is new is copied (nothing yet)"
"$MF" migrate --accounts "$D/accounts.csv" --state "$D/state.db" -q \
	'{source_protocol}:{source_path}' "maildir:$D/new/{target_user}"

echo "== 6. a new mail reaches bob's old mailbox; the delta run copies just it"
printf 'From: boss@old.example\nTo: bob@old.example\nSubject: one more thing\n\nBefore the MX switch.\n' \
	> "$D/old/bob/new/1700000000.M1P1.late"
"$MF" migrate --accounts "$D/accounts.csv" --state "$D/state.db" \
	'{source_protocol}:{source_path}' "maildir:$D/new/{target_user}"

echo "== 7. check: every message arrived byte for byte"
for u in alice bob carol; do
	cut -f2 "$D/$u.txt" | sort > "$D/$u.want"
	find "$D/new/$u@new.example" -type f \( -path '*/cur/*' -o -path '*/new/*' \) -exec sha256sum {} + |
		cut -d' ' -f1 | sort > "$D/$u.got"
	missing=$(comm -23 "$D/$u.want" "$D/$u.got" | wc -l)
	[ "$missing" = 0 ] || { echo "   $u: $missing messages MISSING or altered" >&2; exit 1; }
	echo "   $u: all $(wc -l < "$D/$u.want") messages present, byte for byte"
done
echo "== 8. verification report for the customer"
"$MF" verify --accounts "$D/accounts.csv" --state "$D/state.db" --report "$D" \
	'{source_protocol}:{source_path}' "maildir:$D/new/{target_user}"

echo "== 9. the same mailboxes into Alibaba Mail (a Dovecot stand-in on 127.0.0.1, IMAPS)"
if ! command -v dovecot >/dev/null 2>&1 && [ ! -x /usr/sbin/dovecot ]; then
	echo "   dovecot is not installed (tools/install-deps.sh installs it): step skipped"
else
	# The test harness's Dovecot: own config, certificate and ports, gone
	# when this subshell ends (and after 120 s whatever happens).
	(
		export top_srcdir="$top" top_builddir="$build" MF_TEST_TIMEOUT=120
		. "$top/tests/integration/lib.sh"
		. "$top/tests/integration/dovecot.sh"
		for u in alice bob carol; do dovecot_user alimail "$u@new.example" "$u-pw"; done
		dovecot_start alimail
		SINK="alimail://{target_user}@127.0.0.1:$(dovecot_var alimail imaps)"
		"$MF" migrate --accounts "$D/accounts.csv" --jobs 3 --state "$D/alimail.db" \
			--ca-file "$(dovecot_var alimail cert)" '{source_protocol}:{source_path}' "$SINK"
		"$MF" status --state "$D/alimail.db"
		"$MF" verify --accounts "$D/accounts.csv" --state "$D/alimail.db" \
			--ca-file "$(dovecot_var alimail cert)" --report "$D/alimail-report" \
			'{source_protocol}:{source_path}' "$SINK"
	)
fi
echo "demo done: targets in $D/new, state in $D/state.db ('mailferry status --state $D/state.db')"
