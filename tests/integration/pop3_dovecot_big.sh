#!/bin/sh
# SPDX-License-Identifier: MIT
# A 20 MB message over POP3 from Dovecot, full of lines that start with
# dots (stuffed on the wire, RFC 1939 §3) and lines a dot away from the
# terminator (".", "..", ".\r"), arrives byte for byte; the plugin's spool
# goes to a temp file, so its memory stays bounded (checked with the peak
# RSS of the whole run, core spool included, when GNU time is there).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pop3_dovecot.sh"

python3 - "$T/big" <<'PY'
import sys, random
r = random.Random(4)
with open(sys.argv[1], "wb") as f:
    f.write(b"Subject: big\r\nDate: Sat, 1 Feb 2025 12:00:00 +0000\r\n\r\n")
    n = 0
    odd = [b".", b"..", b"...", b". x", b".\r", b"\x00.", b"."*200]
    while n < 20 * 1024 * 1024:
        if r.random() < 0.2:
            line = r.choice(odd)
        else:
            line = bytes(r.randrange(33, 127) for _ in range(r.randrange(0, 150)))
        f.write(line + b"\r\n")
        n += len(line) + 2
PY
printf 'Subject: small\r\n\r\n.\r\n' > "$T/small"
dc_add alice "$T/big"
dc_add alice "$T/small"
dc_start
dc_state alice > "$T/before"
export MAILFERRY_SOURCE_PASSWORD=secret
mkdir -p "$T/tmp"
rss=""
if [ -x /usr/bin/time ]; then
	TMPDIR="$T/tmp" /usr/bin/time -f '%M' -o "$T/rss" "$MAILFERRY" migrate "pop3s://alice@127.0.0.1:$DC_POP3S_PORT" \
		"maildir:$T/out" --state "$T/state.db" --insecure > "$T/run.log" 2>&1 || { cat "$T/run.log"; fail "migrate"; }
	rss=$(tail -1 "$T/rss")
else
	TMPDIR="$T/tmp" mf migrate "pop3s://alice@127.0.0.1:$DC_POP3S_PORT" \
		"maildir:$T/out" --state "$T/state.db" --insecure > "$T/run.log" 2>&1 || { cat "$T/run.log"; fail "migrate"; }
fi
want=$( (sha256sum < "$T/big"; sha256sum < "$T/small") | cut -d' ' -f1 | sort)
assert_eq "$(maildir_digests "$T/out")" "$want" "20 MB message bytes"
if [ -n "$rss" ] && [ "$rss" -gt 65536 ]; then fail "peak RSS $rss KiB for a 20 MB message: buffered in memory?"; fi
dc_state alice > "$T/after"
diff "$T/before" "$T/after" > /dev/null || fail "the server mailbox changed"
exit 0
