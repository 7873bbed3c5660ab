# SPDX-License-Identifier: MIT
# Reusable PostgreSQL harness for tests of --state postgresql:// (issue
# 14).  Source it after lib.sh.  Each instance gets its own data
# directory (initdb), socket directory and a random free port on
# 127.0.0.1; a superuser "mf" with a random password (host connections
# need it: scram-sha-256) and a database "mf":
#
#   postgres_available           true if Debian's server binaries are here
#   postgres_start NAME          initdb and start instance NAME
#   postgres_stop NAME           stop it (fast shutdown); postgres_start
#                                again starts it on the same port and data
#   postgres_var NAME url|password|port|dir|log   print a value; url has
#                                no password: pass it as PGPASSWORD
#   postgres_psql NAME ARGS...   psql as mf on database mf (socket)
#
# As root the server runs as "nobody" (PostgreSQL refuses root).  Every
# instance stops with the test (EXIT hook) and, whatever happens, after
# POSTGRES_TIME_LIMIT seconds (default: MF_TEST_TIMEOUT + 10): the server
# runs in the foreground under timeout(1), not through pg_ctl, which
# would detach it from that limit.  Logs: $(postgres_var NAME log).

PG_BINDIR=${PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
POSTGRES_TIME_LIMIT=${POSTGRES_TIME_LIMIT:-$(( ${MF_TEST_TIMEOUT:-300} + 10 ))}

postgres_available() {
	[ -n "$PG_BINDIR" ] && [ -x "$PG_BINDIR/initdb" ] && [ -x "$PG_BINDIR/postgres" ] &&
		[ -x "$PG_BINDIR/psql" ] && { [ "$(id -u)" != 0 ] || command -v setpriv >/dev/null; }
}

postgres_var() {
	eval "printf '%s\n' \"\${postgres_${1}_${2}}\""
}

# Run a server binary as the instance's owner.
postgres_as_owner() {
	if [ "$(id -u)" = 0 ]; then
		setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups -- "$@"
	else
		"$@"
	fi
}

postgres_free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

postgres_init() {
	name=$1
	# Not under $T: the server's own user must reach it.
	d=$(mktemp -d "${TMPDIR:-/tmp}/mfpg.XXXXXX")
	chmod 755 "$d"
	mf_on_exit "rm -rf '$d'"
	mkdir -p "$d/data" "$d/run"
	pw=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
	printf '%s\n' "$pw" >"$d/pwfile"
	if [ "$(id -u)" = 0 ]; then
		chown nobody "$d/data" "$d/run" "$d/pwfile"
	fi
	chmod 700 "$d/data"
	: >"$d/postgres.log"
	chmod 666 "$d/postgres.log"
	postgres_as_owner env -u PGPASSWORD "$PG_BINDIR/initdb" -D "$d/data" -U mf \
		--pwfile="$d/pwfile" --auth-local=trust --auth-host=scram-sha-256 \
		-E UTF8 --locale=C.UTF-8 >>"$d/postgres.log" 2>&1 ||
		{ cat "$d/postgres.log" >&2; fail "initdb failed"; }
	rm -f "$d/pwfile"
	eval "postgres_${name}_dir=\$d postgres_${name}_password=\$pw"
	eval "postgres_${name}_log=\$d/postgres.log"
	eval "postgres_${name}_port=$(postgres_free_port)"
}

postgres_start() {
	name=$1
	if [ -z "$(eval "printf '%s' \"\${postgres_${name}_dir:-}\"")" ]; then
		postgres_init "$name"
		fresh=1
	else
		fresh=0
	fi
	d=$(postgres_var "$name" dir)
	port=$(postgres_var "$name" port)
	# fsync off: a test's data need not survive a power cut, and it
	# saves seconds; everything else is Debian's defaults.  setsid keeps
	# the server out of the test's process group (a SIGKILL of the test
	# cannot leave it running: timeout ends it).
	if [ "$(id -u)" = 0 ]; then
		set -- setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups --
	else
		set --
	fi
	setsid timeout -k 5 "$POSTGRES_TIME_LIMIT" "$@" "$PG_BINDIR/postgres" -D "$d/data" \
		-k "$d/run" -c listen_addresses=127.0.0.1 -p "$port" -c fsync=off \
		-c max_connections=200 >>"$d/postgres.log" 2>&1 </dev/null &
	pid=$!
	eval "postgres_${name}_pid=$pid"
	mf_on_exit "postgres_stop_pid $pid"
	i=0
	until "$PG_BINDIR/pg_isready" -q -h "$d/run" -p "$port" -U mf; do
		i=$((i + 1))
		if [ $i -gt 150 ] || ! kill -0 "$pid" 2>/dev/null; then
			cat "$d/postgres.log" >&2
			fail "postgres $name did not start"
		fi
		sleep 0.1
	done
	if [ "$fresh" = 1 ]; then
		postgres_psql "$name" -d postgres -c 'CREATE DATABASE mf' >/dev/null
	fi
	eval "postgres_${name}_url=postgresql://mf@127.0.0.1:$port/mf"
}

postgres_stop_pid() {
	kill -INT "$1" 2>/dev/null || return 0 # fast shutdown
	for _ in $(seq 1 50); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -9 "$1" 2>/dev/null || true
}

postgres_stop() {
	postgres_stop_pid "$(postgres_var "$1" pid)"
}

postgres_psql() {
	name=$1
	shift
	"$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$(postgres_var "$name" dir)/run" \
		-p "$(postgres_var "$name" port)" -U mf -d mf "$@"
}

postgres_dump_log() {
	echo "---- postgres $1 log" >&2
	tail -n 40 "$(postgres_var "$1" log)" >&2 || true
}
