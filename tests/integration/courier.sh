# SPDX-License-Identifier: MIT
# Reusable Courier IMAP / Courier POP3 harness for integration tests: a
# third real server beside Dovecot and Cyrus, with '.' as separator and
# the "INBOX." personal namespace, Maildir++ storage, courier-authlib's
# authdaemond checking passwords against a userdb.  Debian's courier-pop
# conflicts with dovecot-pop3d, so its .debs are unpacked into a private
# root by tools/install-courier.sh (COURIER_ROOT, default
# /opt/mailferry-courier) and run from there.  Source after lib.sh.
#
#   courier_available                true if it can run here (else
#                                    COURIER_WHY says why not)
#   courier_user NAME USER PASS      add a user (before courier_start)
#   courier_start NAME               start instance NAME: authdaemond and
#                                    couriertcpd with imapd (STARTTLS
#                                    offered, plain login allowed), imapd
#                                    behind couriertls (imaps), pop3d and
#                                    pop3d behind couriertls (pop3s), on
#                                    random loopback ports
#   courier_var NAME imap|imaps|pop3|pop3s|cert|dir|log   print a value
#   courier_maildir NAME USER        print USER's Maildir
#   courier_py NAME USER PASS        python3 on stdin with M = an imaplib
#                                    connection logged in as USER
#   courier_dump_logs NAME...        last log lines, for failures
#
# Courier's binaries have their paths compiled in: the configuration in
# /etc/courier (authdaemonrc, userdb.dat), the authdaemond socket in
# /run/courier/authdaemon, the auth modules in /usr/lib/courier-authlib.
# So each instance runs in a private mount namespace (unshare -m) where
# the instance's own directory is bind-mounted on /etc/courier, a fresh
# tmpfs on /run, the private root's modules on /usr/lib/courier-authlib
# and copies of /etc/passwd and /etc/group with a "courier" user:
# nothing global is touched and parallel instances do not clash.  Without
# unshare -m (no CAP_SYS_ADMIN) courier_available is false.
# Every instance stops with the test (EXIT hook: its whole session)
# and, whatever happens, after COURIER_TIME_LIMIT seconds.

COURIER_ROOT=${COURIER_ROOT:-/opt/mailferry-courier}
COURIER_TIME_LIMIT=${COURIER_TIME_LIMIT:-$(( ${MF_TEST_TIMEOUT:-300} + 10 ))}
COURIER_WHY=""

courier_available() {
	if ! [ -x "$COURIER_ROOT/usr/bin/imapd" ] ||
		! [ -x "$COURIER_ROOT/usr/lib/courier/courier/courierpop3d" ]; then
		COURIER_WHY="Courier not unpacked in $COURIER_ROOT (tools/install-courier.sh)"
		return 1
	fi
	if [ "$(id -u)" != 0 ]; then
		COURIER_WHY="Courier's compiled-in paths need a mount namespace: run as root"
		return 1
	fi
	if ! [ -d /etc/courier ] || ! [ -d /usr/lib/courier-authlib ]; then
		COURIER_WHY="no mount points /etc/courier, /usr/lib/courier-authlib (tools/install-courier.sh)"
		return 1
	fi
	if ! unshare -m sh -c 'mount -t tmpfs tmpfs /run' 2>/dev/null; then
		COURIER_WHY="unshare -m (a private mount namespace) not allowed here"
		return 1
	fi
	command -v openssl >/dev/null || { COURIER_WHY="openssl needed"; return 1; }
	return 0
}

courier_var() {
	eval "printf '%s\n' \"\${courier_${1}_${2}}\""
}

courier_maildir() {
	printf '%s\n' "$(courier_var "$1" dir)/home/$2/Maildir"
}

courier_init() {
	name=$1
	if [ -n "$(eval "printf '%s' \"\${courier_${name}_dir:-}\"")" ]; then
		return 0
	fi
	# Not under $T: the unprivileged mail processes must reach it.
	d=$(mktemp -d "${TMPDIR:-/tmp}/mfcourier.XXXXXX")
	chmod 755 "$d"
	mf_on_exit "rm -rf '$d'"
	mkdir -p "$d/etc" "$d/home"
	: >"$d/userdb"
	: >"$d/userdbshadow"
	chmod 600 "$d/userdb" "$d/userdbshadow"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 \
		-keyout "$d/key.pem" -out "$d/cert.pem" -subj /CN=localhost \
		-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
		>/dev/null 2>&1 || fail "openssl could not make a certificate"
	# couriertls wants the key and the certificate in one file.
	cat "$d/key.pem" "$d/cert.pem" >"$d/etc/server.pem"
	chmod 600 "$d/etc/server.pem"
	eval "courier_${name}_cert=\$d/cert.pem"
	eval "courier_${name}_dir=\$d"
	eval "courier_${name}_log=\$d/courier.log"
}

# Mail is served as nobody: the user's uid and gid in the userdb.
courier_user() {
	courier_init "$1"
	d=$(courier_var "$1" dir)
	# SHA-512 crypt, the password on stdin, never in argv.
	hash=$(printf '%s\n' "$3" | openssl passwd -6 -stdin) ||
		fail "openssl passwd failed"
	h=$d/home/$2
	mkdir -p "$h/Maildir/cur" "$h/Maildir/new" "$h/Maildir/tmp"
	printf '%s\tuid=%s|gid=%s|home=%s|mail=%s/Maildir|_=\n' "$2" \
		"$(id -u nobody)" "$(id -g nobody)" "$h" "$h" >>"$d/userdb"
	printf '%s\tsystempw=%s\n' "$2" "$hash" >>"$d/userdbshadow"
}

courier_start() {
	name=$1
	courier_init "$name"
	d=$(courier_var "$name" dir)
	set -- $(python3 -c '
import socket
s = [socket.socket() for _ in range(4)]
for x in s: x.bind(("127.0.0.1", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))')
	eval "courier_${name}_imap=$1 courier_${name}_imaps=$2"
	eval "courier_${name}_pop3=$3 courier_${name}_pop3s=$4"
	chown -R nobody:"$(id -gn nobody)" "$d/home"
	# userdb.dat and userdbshadow.dat, as makeuserdb (a perl script with
	# /etc/courier compiled in) would make them.
	makedat=$COURIER_ROOT/usr/lib/courier/courier-authlib/makedatprog
	for db in userdb userdbshadow; do
		{ cat "$d/$db"; echo .; } |
			"$makedat" - "$d/etc/$db.tmp" "$d/etc/$db.dat" ||
			fail "makedatprog $db failed"
	done
	chmod 600 "$d/etc/userdbshadow.dat"
	# imaplogin and pop3login run couriertls for STARTTLS as the system
	# user "courier" (compiled in).  Without one (the packages are not
	# installed, so no such user was made) the namespace gets its own
	# /etc/passwd and /etc/group with "courier" as nobody's ids.
	cp /etc/passwd "$d/passwd"
	cp /etc/group "$d/group"
	if ! id courier >/dev/null 2>&1; then
		printf 'courier:x:%s:%s:Courier (mailferry tests):/nonexistent:/usr/sbin/nologin\n' \
			"$(id -u nobody)" "$(id -g nobody)" >>"$d/passwd"
		printf 'courier:x:%s:\n' "$(id -g nobody)" >>"$d/group"
	fi
	chown nobody "$d/etc/server.pem"
	cat >"$d/etc/authdaemonrc" <<EOF
# generated by tests/integration/courier.sh
authmodulelist="authuserdb"
daemons=2
authdaemonvar=/run/courier/authdaemon
DEBUG_LOGIN=${COURIER_DEBUG_LOGIN:-0}
DEFAULTOPTIONS=""
LOGGEROPTS=""
EOF
	# The settings imaplogin, imapd, pop3login and pop3d read from their
	# environment (the Debian start scripts source /etc/courier/imapd,
	# imapd-ssl, pop3d, pop3d-ssl with set -a; this is their sum).
	cat >"$d/etc/env" <<EOF
# generated by tests/integration/courier.sh
PATH=/usr/bin:/bin:/usr/sbin:/sbin
LD_LIBRARY_PATH=$COURIER_ROOT/usr/lib
IMAP_CAPABILITY="IMAP4rev1 UIDPLUS CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT THREAD=REFERENCES SORT QUOTA IDLE"
IMAP_CAPABILITY_TLS="\$IMAP_CAPABILITY AUTH=PLAIN"
IMAP_KEYWORDS=1
IMAP_ACL=1
IMAP_PROXY=0
IMAP_IDLE_TIMEOUT=60
IMAP_MAILBOX_SANITY_CHECK=1
IMAP_DISABLETHREADSORT=0
IMAP_CHECK_ALL_FOLDERS=0
IMAP_OBSOLETE_CLIENT=0
IMAP_UMASK=022
IMAP_USELOCKS=1
IMAP_ENHANCEDIDLE=0
IMAP_TRASHFOLDERNAME=Trash
# Debian has Trash:7 (purge Trash older than 7 days at logout): off.
IMAP_EMPTYTRASH=
IMAP_MOVE_EXPUNGE_TO_TRASH=0
IMAP_SHAREDINDEXFILE=/etc/courier/shared/index
IMAP_STARTTLS=YES
IMAP_TLS_REQUIRED=0
POP3AUTH="PLAIN LOGIN"
POP3AUTH_TLS="PLAIN LOGIN"
POP3_PROXY=0
MAILDIRPATH=Maildir
SENDMAIL=/bin/false
HEADERFROM=X-IMAP-Sender
COURIERTLS=$COURIER_ROOT/usr/bin/couriertls
TLS_CERTFILE=/etc/courier/server.pem
TLS_TRUSTCERTS=/etc/ssl/certs/ca-certificates.crt
TLS_VERIFYPEER=NONE
TLS_PROTOCOL=TLS1_2:TLS1_3
TLS_STARTTLS_PROTOCOL=TLS1_2:TLS1_3
${COURIER_EXTRA_ENV:-}
EOF
	# Runs inside the namespace: mounts, authdaemond, four couriertcpd.
	cat >"$d/run.sh" <<EOF
# generated by tests/integration/courier.sh
set -eu
mount -t tmpfs -o mode=755 mfcourier /run
mkdir -p /run/courier/authdaemon
mount --bind "$d/etc" /etc/courier
mount --bind "$COURIER_ROOT/usr/lib/courier-authlib" /usr/lib/courier-authlib
mount --bind "$d/passwd" /etc/passwd
mount --bind "$d/group" /etc/group
pids=""
trap 'trap - TERM INT; kill -TERM \$pids 2>/dev/null; exit 0' TERM INT
set -a
. /etc/courier/authdaemonrc
. /etc/courier/env
set +a
"$COURIER_ROOT/usr/lib/courier/courier-authlib/authdaemond" &
pids=\$!
i=0
until [ -S /run/courier/authdaemon/socket ]; do
	i=\$((i + 1))
	[ \$i -lt 100 ] || { echo "authdaemond did not start" >&2; exit 1; }
	sleep 0.1
done
lib=$COURIER_ROOT/usr/lib/courier/courier
tcpd="$COURIER_ROOT/usr/sbin/couriertcpd -address=127.0.0.1 -maxprocs=40 -maxperip=40 -nodnslookup -noidentlookup -stderr=$d/courier.log"
IMAP_STARTTLS=YES \$tcpd $1 \$lib/imaplogin "$COURIER_ROOT/usr/bin/imapd" Maildir &
pids="\$pids \$!"
IMAP_TLS=1 IMAP_STARTTLS=NO \$tcpd $2 "\$COURIERTLS" -server -tcpd \$lib/imaplogin "$COURIER_ROOT/usr/bin/imapd" Maildir &
pids="\$pids \$!"
POP3_STARTTLS=YES \$tcpd $3 \$lib/courierpop3login \$lib/courierpop3d Maildir &
pids="\$pids \$!"
POP3_TLS=1 POP3_STARTTLS=NO \$tcpd $4 "\$COURIERTLS" -server -tcpd \$lib/courierpop3login \$lib/courierpop3d Maildir &
pids="\$pids \$!"
wait
EOF
	# Bounded like Dovecot (dovecot.sh): timeout(1) ends the namespace's
	# shell after COURIER_TIME_LIMIT seconds, which ends what it started;
	# setsid gives it all a session of its own, which the EXIT hook ends
	# (couriertcpd puts itself in a process group of its own).
	setsid timeout -k 5 "$COURIER_TIME_LIMIT" env -i "$(command -v unshare)" -m /bin/sh "$d/run.sh" \
		</dev/null >>"$d/courier.log" 2>&1 &
	pid=$!
	eval "courier_${name}_pid=$pid"
	mf_on_exit "courier_stop_pid $pid"
	for port in $1 $2 $3 $4; do
		i=0
		until python3 - "$port" <<'EOF' 2>/dev/null
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1)
s.close()
EOF
		do
			i=$((i + 1))
			if [ $i -gt 100 ] || ! kill -0 "$pid" 2>/dev/null; then
				cat "$d/courier.log" >&2 || true
				fail "courier $name did not start"
			fi
			sleep 0.1
		done
	done
}

# courier_py NAME USER PASS: python3 code from stdin with M logged in to
# instance NAME (imap_login_py, lib.sh).
courier_py() { imap_login_py "$(courier_var "$1" imap)" "$2" "$3"; }

# The whole session setsid made: timeout, the namespace's shell,
# authdaemond, and the couriertcpd (each in a process group of its own)
# with every imapd / pop3d they started.
courier_stop_pid() {
	kill -0 "$1" 2>/dev/null || pgrep -s "$1" >/dev/null || return 0
	pkill -TERM -s "$1" 2>/dev/null || true
	for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		pgrep -s "$1" >/dev/null || return 0
		sleep 0.1
	done
	pkill -KILL -s "$1" 2>/dev/null || true
}

courier_dump_logs() {
	for n in "$@"; do
		echo "---- courier $n log" >&2
		tail -n 40 "$(courier_var "$n" log)" >&2 || true
	done
}
