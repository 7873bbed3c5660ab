#!/bin/sh
# SPDX-License-Identifier: MIT
# "mailferry verify" works for any sink, not only the ones the core was
# written with: a sink plugin built outside the tree with a scheme of its
# own (vault:, tests/integration/reader_sink.c) names through the ABI 1.6
# reader_uri slot where its store is read back.  A migration into it then
# verifies complete; after a message is deleted there, verify reports it
# missing and exits 1.  The same plugin built against the 1.5 headers has
# no such slot: verify says that this plugin's store cannot be read back,
# naming it, and exits 3 as for any mailbox it could not verify.
. "$(dirname "$0")/lib.sh"
CC=${CC:-cc}
mkdir -p "$T/with" "$T/without"
build() { # dir, extra flags
	d=$1
	shift
	"$CC" -Wall -Wextra -Werror -shared -fPIC -fvisibility=hidden -I"$top_srcdir/include" "$@" \
		-o "$d/vault.so" "$top_srcdir/tests/integration/reader_sink.c"
}
build "$T/with"
build "$T/without" -DNO_READER_URI
python3 "$top_srcdir/tests/tools/gen_mailbox.py" --format maildir --out "$T/old" --messages 30 \
	--seed 21 --folders "INBOX,Sent,Projects,Projects/2024"
# The target directory is "a%41?b=c": unless the reader URI encodes '%'
# and '?' again, it would read as directory "aA" with an option b=c.
VAULT="$T/a%41?b=c"
DST="vault:$T/a%2541%3Fb=c"

echo "== migrate into the out-of-tree sink, then verify: complete"
mf migrate --plugin-dir "$T/with" "maildir:$T/old" "$DST" --state "$T/s.db" --name carol -q \
	> "$T/m.out" 2>&1 || fail "migrate into vault: failed: $(cat "$T/m.out")"
[ "$(maildir_digests "$VAULT")" = "$(maildir_digests "$T/old")" ] ||
	fail "vault: did not store the messages"
mf verify --plugin-dir "$T/with" "maildir:$T/old" "$DST" --state "$T/s.db" --name carol \
	--report "$T/r1" > "$T/v1.out" 2>&1 || fail "verify of a complete copy failed: $(cat "$T/v1.out")"
cat "$T/v1.out"
grep -q "^carol: complete: 30 source messages, 30 in the target, 0 missing" "$T/v1.out" ||
	fail "not reported complete"

echo "== a message deleted in the vault is reported missing"
victim=$(find "$VAULT/.Projects.2024/cur" -type f | head -1)
[ -n "$victim" ] || fail "no message in Projects/2024"
rm "$victim"
rc=0
mf verify --plugin-dir "$T/with" "maildir:$T/old" "$DST" --state "$T/s.db" --name carol \
	--report "$T/r2" > "$T/v2.out" 2>&1 || rc=$?
cat "$T/v2.out"
assert_eq "$rc" 1 "verify exit status with a missing message"
grep -q "^carol: INCOMPLETE: 30 source messages, 29 in the target, 1 missing" "$T/v2.out" ||
	fail "the missing message is not reported"
python3 - "$T/r2/verify-report.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
f = [f for f in d["accounts"][0]["folders"] if f["missing"]]
assert [x["target"] for x in f] == ["Projects/2024"] and f[0]["missing"] == 1, f
PY

echo "== a sink without reader_uri (built against ABI 1.5): a clear refusal"
rc=0
mf verify --plugin-dir "$T/without" "maildir:$T/old" "$DST" --state "$T/s.db" --name carol \
	--report "$T/r3" > "$T/v3.out" 2>&1 || rc=$?
cat "$T/v3.out"
assert_eq "$rc" 3 "verify exit status when a mailbox cannot be verified"
grep -q "^carol: could not verify: carol: the sink plugin 'vault' (.*/without/vault.so) cannot say how its 'vault:' store is read back" \
	"$T/v3.out" || fail "the refusal does not name the plugin"
grep -q '"accounts_complete": 0' "$T/r3/verify-report.json" || fail "json report of the refusal"
echo PASS
