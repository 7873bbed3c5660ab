#!/bin/sh
# SPDX-License-Identifier: MIT
# Connections cut at random points (issue 3): both the source and the
# sink connections go through tests/fake/imap_proxy.py, which aborts the
# first few connections of each after a random number of bytes (TLS
# included).  mailferry reconnects, resumes the folder and asks the sink
# (lookup) about appends that may have landed; after at most three runs
# the target must equal the source exactly: nothing lost, nothing doubled.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/dovecot.sh"
. "$top_srcdir/tests/integration/imap_lib.sh"

dovecot_user src alice secret-a
dovecot_user dst bob secret-b
dovecot_start src
dovecot_start dst
trap 'st=$?; [ $st = 0 ] || dovecot_dump_logs src dst; eval "$mf_cleanup_hooks"; rm -rf "$T"; exit $st' EXIT

imap_py src alice secret-a <<'EOF'
import random
r = random.Random(11)
M.create(q("Work"))
for i in range(60):
    box = "INBOX" if i % 3 else "Work"
    size = 300000 if i % 17 == 0 else r.randrange(500, 20000)
    body = "".join(r.choice("abcdefghij klmnop\r\n") for _ in range(size))
    # every 10th message has no Message-ID; two share one
    mid = "" if i % 10 == 5 else "Message-ID: <%d@cuts>\r\n" % (i if i != 7 else 8)
    data = ("From: x@example.com\r\nSubject: m%d\r\n%s\r\n%s\r\n" % (i, mid, body)).encode()
    flags = "(\\Seen)" if i % 2 else "()"
    typ, _ = M.append(q(box), flags, '"%02d-Jan-2021 10:00:00 +0000"' % (i % 28 + 1), data)
    if typ != "OK":
        die("append %d" % i)
EOF

proxy() { # name target-port cuts seed
	rm -f "$T/$1.port"
	python3 "$top_srcdir/tests/fake/imap_proxy.py" "$T/$1.port" "$2" \
		--cuts "$3" --cut-seed "$4" --cut-max 400000 \
		--time-limit "$MF_TEST_TIMEOUT" &
	mf_on_exit "kill $! 2>/dev/null || true"
	wait_port_file "$T/$1.port" "proxy $1"
}
proxy psrc "$(dovecot_var src imaps)" 4 3
proxy pdst "$(dovecot_var dst imaps)" 4 5

cat "$(dovecot_var src cert)" "$(dovecot_var dst cert)" >"$T/ca.pem"
echo secret-a >"$T/pw-a"
echo secret-b >"$T/pw-b"
ok=0
for run in 1 2 3; do
	if mf migrate "imaps://alice@127.0.0.1:$(cat "$T/psrc.port")" \
		"alimail://bob@127.0.0.1:$(cat "$T/pdst.port")" \
		--state "$T/state.db" --ca-file "$T/ca.pem" --retries 10 \
		--source-password-file "$T/pw-a" --sink-password-file "$T/pw-b" \
		--timeout 10 >"$T/out.$run" 2>&1; then
		ok=1
		break
	fi
done
[ $ok = 1 ] || { cat "$T/out.1" "$T/out.2" "$T/out.3"; fail "no clean run in three"; }
imap_describe src alice secret-a >"$T/src.txt"
imap_describe dst bob secret-b >"$T/dst.txt"
assert_eq "$(wc -l <"$T/src.txt")" 60 "source messages"
diff "$T/src.txt" "$T/dst.txt" >&2 || fail "target differs: lost or doubled messages"
# Each error names the one session it happened on: a sink failure seen by
# the source's fetch loop is not relabelled as the source's.
grep -h "imap: .*alimail: \|alimail: .*imap: " "$T"/out.* >&2 && fail "an error names both sessions"
cuts=$(cat "$T"/out.* | grep -c "closed\|reset\|reconnect\|retrying" || true)
echo "ok: 60 messages exact after connection cuts (runs: $run, retry notes: $cuts)"
