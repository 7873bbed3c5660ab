#!/bin/sh
# SPDX-License-Identifier: MIT
# Benchmark (issue 12): the Microsoft Graph source against the EWS source
# on the same mailbox, in the same run, each from its fake server
# (tests/fake/graph, tests/fake/ews) behind bench/delay_proxy adding
# 20 ms of round trip (10 ms each way, 1 Gbit/s), into a local maildir.
# Reports messages/s of each and Graph's ratio to EWS.
#
#   bench/graph_vs_ews.sh [MESSAGES]   (default 1000; from a built tree or
#                                       with top_builddir set)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$(cd "$here/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
export top_srcdir top_builddir
MF_TEST_TIMEOUT=${MF_TEST_TIMEOUT:-1800}
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/graph_lib.sh"
N=${1:-1000}
ONE_WAY_MS=10

. "$here/proxy.sh"

U=alice@example.com
echo "generating $N messages..." >&2
make_fixture "$T/fix" "$U" "$N"
# The same files as an EWS fixture: one folder per directory.
python3 - "$T/fix/$U" "$T/ews.json" <<'EOF'
import json, os, sys
root, out = sys.argv[1], sys.argv[2]
wk = {"Inbox": "inbox", "Sent Items": "sentitems", "Drafts": "drafts"}
folders, items, ids = [], [], {}
for d, _subs, files in sorted(os.walk(root)):
    rel = os.path.relpath(d, root)
    if rel == ".":
        continue
    fid = "F%d=" % len(ids)
    ids[rel] = fid
    parent = ids.get(os.path.dirname(rel))
    f = {"id": fid, "name": os.path.basename(rel), "class": "IPF.Note"}
    if parent:
        f["parent"] = parent
    if rel in wk:
        f["distinguished"] = wk[rel]
    folders.append(f)
    for name in sorted(files):
        if name.endswith(".eml"):
            side = json.load(open(os.path.join(d, name + ".json")))
            items.append({"id": "I%d=" % len(items), "folder": fid,
                          "mime_file": os.path.join(d, name), "read": side["isRead"],
                          "received": side["receivedDateTime"]})
json.dump({"mailboxes": {"alice@example.com": {"root": "ROOT=", "folders": folders,
                                               "items": items}}}, open(out, "w"))
EOF

# Graph.
start_fake --fixture "$T/fix"
proxy "$PORT" "$ONE_WAY_MS" 1000
BASE_DIRECT=$BASE
BASE="https://127.0.0.1:$PROXY_PORT"
start=$(date +%s.%N)
graph_run graph "$U" "maildir:$T/out-graph" --state "$T/st-graph.db"
graph_s=$(echo "$(date +%s.%N) - $start" | bc)
[ "$rc" -eq 0 ] || { show graph; exit 1; }
graph_n=$(maildir_digests "$T/out-graph" | wc -l)
stop_fake
: "$BASE_DIRECT"

# EWS.
rm -f "$T/ews-port"
python3 "$top_srcdir/tests/fake/ews/fake_ews.py" --fixture "$T/ews.json" --port-file "$T/ews-port" \
	--cert "$T/cert.pem" --key "$T/key.pem" --user 'svc@example.com:S3cret!' \
	--impersonator svc@example.com --time-limit "$MF_TEST_TIMEOUT" 2>"$T/ews-fake.err" &
mf_on_exit "kill $! 2>/dev/null || true"
i=0
while [ ! -s "$T/ews-port" ]; do
	i=$((i + 1)); [ $i -lt 200 ] || fail "fake EWS did not start"; sleep 0.1
done
proxy "$(cat "$T/ews-port")" "$ONE_WAY_MS" 1000
start=$(date +%s.%N)
rc=0
MAILFERRY_SOURCE_PASSWORD='S3cret!' mf migrate \
	"ews://svc%40example.com@127.0.0.1:$PROXY_PORT/EWS/Exchange.asmx" "maildir:$T/out-ews" \
	--impersonate "$U" --ca-file "$T/cert.pem" --state "$T/st-ews.db" --json \
	> "$T/ews.json.out" 2> "$T/ews.err" || rc=$?
ews_s=$(echo "$(date +%s.%N) - $start" | bc)
[ "$rc" -eq 0 ] || { tail -20 "$T/ews.err"; exit 1; }
ews_n=$(maildir_digests "$T/out-ews" | wc -l)

[ "$graph_n" -eq "$N" ] && [ "$ews_n" -eq "$N" ] || fail "incomplete: graph $graph_n, ews $ews_n of $N"
cmp -s "$(maildir_digests "$T/out-graph" > "$T/g"; echo "$T/g")" \
	"$(maildir_digests "$T/out-ews" > "$T/e"; echo "$T/e")" || fail "the two copies differ"
printf '| source | messages | seconds | messages/s | vs EWS |\n|---|---|---|---|---|\n'
printf '| EWS (fake) | %d | %.1f | %.0f | 1.00 |\n' "$ews_n" "$ews_s" "$(echo "$ews_n / $ews_s" | bc -l)"
printf '| Graph (fake) | %d | %.1f | %.0f | %.2f |\n' "$graph_n" "$graph_s" \
	"$(echo "$graph_n / $graph_s" | bc -l)" "$(echo "$ews_s / $graph_s" | bc -l)"
echo "(both behind delay_proxy: +${ONE_WAY_MS} ms each way, 1 Gbit/s; same $N messages)"
