# SPDX-License-Identifier: MIT
# Shared by the "mailferry serve" tests (serve_api.sh, serve_chromium.sh):
# Dovecot on both sides with N users, a migration of them all running in
# the background (throttled, so it is still going on while the test
# looks), and dashboards started on random loopback ports.  Source after
# lib.sh and dovecot.sh.
#   serve_setup_users N MESSAGES   users u01..uN, their mail, accounts.csv;
#                                  with SERVE_BIG_USER=NN that user's mail has
#                                  attachments, and the target refuses mails
#                                  over 100 kB (Dovecot's quota_max_mail_size)
#   serve_start_migration RATE     the run, at RATE messages per second
#   serve_start NAME ARGS...       mailferry serve --listen 127.0.0.1:0 ARGS
#                                  on $T/state.db; sets SERVE_URL
#   api METHOD PATH ARGS...        serve_client.py against SERVE_URL
#   json_get EXPR                  python expression on the JSON read from stdin (as d)
SERVE_CLIENT="$top_srcdir/tests/integration/serve_client.py"

serve_setup_users() {
	n=$1 msgs=$2
	dovecot_init src
	dovecot_init dst
	for i in $(seq -f %02g 1 "$n"); do
		dovecot_user src "u$i@old.example" "pw-$i"
		dovecot_user dst "u$i@new.example" "new-$i"
	done
	dovecot_start src
	if [ -n "${SERVE_BIG_USER:-}" ]; then
		DOVECOT_EXTRA_CONF='mail_plugins = $mail_plugins quota
plugin {
  quota = maildir:User quota
  quota_max_mail_size = 100k
}'
		export DOVECOT_EXTRA_CONF
	fi
	dovecot_start dst
	unset DOVECOT_EXTRA_CONF
	src_dir=$(dovecot_var src dir)
	for i in $(seq -f %02g 1 "$n"); do
		big=0
		[ "$i" = "${SERVE_BIG_USER:-}" ] && big=0.25
		python3 "$top_srcdir/tests/tools/gen_mailbox.py" --format maildir --layout fs \
			--out "$src_dir/mail/u$i@old.example" --messages "$msgs" --seed "$i" \
			--big-fraction $big --max-big 300000 --folders INBOX,Sent \
			--manifest "$T/want-$i.txt"
	done
	chown -R nobody "$src_dir/mail" 2>/dev/null || true
	cat "$(dovecot_var src cert)" "$(dovecot_var dst cert)" > "$T/ca.pem"
	{
		echo "source_user,source_password,target_user,target_password"
		for i in $(seq -f %02g 1 "$n"); do
			echo "u$i@old.example,pw-$i,u$i@new.example,new-$i"
		done
	} > "$T/accounts.csv"
	SERVE_SRC_T="imaps://{source_user}@127.0.0.1:$(dovecot_var src imaps)"
	SERVE_DST_T="alimail://{target_user}@127.0.0.1:$(dovecot_var dst imaps)"
}

serve_start_migration() {
	"$MAILFERRY" migrate --accounts "$T/accounts.csv" --jobs 2 --ca-file "$T/ca.pem" \
		--state "$T/state.db" --max-messages-per-second "$1" -q \
		"$SERVE_SRC_T" "$SERVE_DST_T" > "$T/migrate.out" 2> "$T/migrate.err" &
	MIGRATE_PID=$!
	mf_on_exit "kill $MIGRATE_PID 2>/dev/null || true"
	# The run declares every mailbox before the first starts.
	for _ in $(seq 1 100); do
		[ -s "$T/state.db" ] && mf status --state "$T/state.db" 2>/dev/null | grep -q running &&
			return 0
		sleep 0.1
	done
	cat "$T/migrate.err" >&2
	fail "the migration did not start"
}

serve_start() {
	name=$1
	shift
	"$MAILFERRY" serve --state "${SERVE_STATE:-$T/state.db}" --listen 127.0.0.1:0 -v "$@" \
		> "$T/serve-$name.out" 2> "$T/serve-$name.err" &
	pid=$!
	mf_on_exit "kill $pid 2>/dev/null || true"
	SERVE_URL=""
	for _ in $(seq 1 100); do
		SERVE_URL=$(sed -n 's|^mailferry serve: \(http://[^ ]*\)/ .*|\1|p' "$T/serve-$name.out")
		[ -n "$SERVE_URL" ] && return 0
		kill -0 $pid 2>/dev/null || break
		sleep 0.1
	done
	cat "$T/serve-$name.err" >&2
	fail "mailferry serve $name did not start"
}

api() {
	method=$1 path=$2
	shift 2
	python3 "$SERVE_CLIENT" "$method" "$SERVE_URL$path" "$@"
}

# The status code of a request.
api_code() { api "$@" > "$T/last-response"; head -n 1 "$T/last-response"; }
# assert_eq for a status code that shows the response when it differs.
assert_code() {
	[ "$1" = "$2" ] || { cat "$T/last-response" >&2; fail "${3:-status}: expected '$2', got '$1'"; }
}

json_get() { python3 -c "import json,sys; d=json.loads(sys.stdin.read().split('\n',1)[1]); print($1)"; }
