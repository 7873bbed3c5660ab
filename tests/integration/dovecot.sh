# SPDX-License-Identifier: MIT
# Reusable Dovecot harness for integration tests (IMAP and POP3 plugins).
# Source it after lib.sh.  Each instance gets its own directory, config,
# self-signed certificate (openssl), passwd-file users, Maildir storage and
# four random free ports on 127.0.0.1:
#
#   dovecot_start NAME [SEPARATOR]   start instance NAME (separator "/" or
#                                    "."), after adding users to it:
#   dovecot_init NAME                prepare NAME (called by dovecot_start
#                                    if needed; call it first to add users)
#   dovecot_user NAME USER PASS      add a user (before or after start)
#   dovecot_master NAME USER PASS    add a master user: logs in as anyone
#                                    with AUTHENTICATE PLAIN authzid, or
#                                    LOGIN "user*master"
#   dovecot_adm NAME ARGS...         doveadm against the instance
#   dovecot_var NAME imap|imaps|pop3|pop3s|cert|dir|log   print a value
#   dovecot_seeded NAME USER         after USER's mail was written under
#                                    $(dovecot_var NAME dir)/mail/USER (LAYOUT=fs,
#                                    tests/tools/gen_mailbox.py): folder names
#                                    to modified UTF-7, files to Dovecot's user
#   DOVECOT_EXTRA_CONF               appended to the config by dovecot_start
#   DOVECOT_AUTH_MECHS               auth_mechanisms (default "plain login")
#   DOVECOT_NO_LITERAL_PLUS          Dovecot 2.3's capability list minus
#                                    LITERAL+ / LITERAL-, for an imap_capability
#                                    line (a target whose APPENDs wait for "+")
#
# Every instance stops with the test (EXIT hook) and, whatever happens,
# after DOVECOT_TIME_LIMIT seconds (default: MF_TEST_TIMEOUT + 10).
# Logs: $(dovecot_var NAME log) -- printed on failure by dovecot_dump_logs.

DOVECOT_BIN=${DOVECOT_BIN:-$(command -v dovecot || echo /usr/sbin/dovecot)}
DOVEADM_BIN=${DOVEADM_BIN:-$(command -v doveadm || echo /usr/bin/doveadm)}
DOVECOT_NO_LITERAL_PLUS="IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE SAVEDATE SPECIAL-USE"
DOVECOT_TIME_LIMIT=${DOVECOT_TIME_LIMIT:-$(( ${MF_TEST_TIMEOUT:-300} + 10 ))}

# Dovecot's LAYOUT=fs keeps folder names in modified UTF-7 on disk, and
# its mail processes run as nobody.
dovecot_seeded() {
	python3 - "$(dovecot_var "$1" dir)/mail/$2" <<'EOF'
import os, sys
sys.path.insert(0, os.path.join(os.environ["top_srcdir"], "tests", "tools"))
from mutf7 import encode as mutf7  # noqa: E402
for root, dirs, files in os.walk(sys.argv[1], topdown=False):
    for d in dirs:
        if mutf7(d) != d:
            os.rename(os.path.join(root, d), os.path.join(root, mutf7(d)))
EOF
	chown -R nobody "$(dovecot_var "$1" dir)/mail" 2>/dev/null || true
}

dovecot_available() {
	[ -x "$DOVECOT_BIN" ] && [ -x "$DOVEADM_BIN" ] && command -v openssl >/dev/null
}

# Four free loopback ports, space separated.
dovecot_free_ports() {
	python3 - <<'EOF'
import socket
socks = []
for _ in range(4):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

dovecot_var() {
	eval "printf '%s\n' \"\${dovecot_${1}_${2}}\""
}

dovecot_init() {
	name=$1
	if [ -n "$(eval "printf '%s' \"\${dovecot_${name}_dir:-}\"")" ]; then
		return 0
	fi
	# Not under $T: Dovecot's unprivileged processes must reach it.
	d=$(mktemp -d "${TMPDIR:-/tmp}/mfdovecot.XXXXXX")
	chmod 755 "$d"
	mf_on_exit "rm -rf '$d'"
	mkdir -p "$d/run" "$d/state" "$d/mail" "$d/home"
	: >"$d/users"
	: >"$d/masters"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 \
		-keyout "$d/key.pem" -out "$d/cert.pem" -subj /CN=localhost \
		-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
		>/dev/null 2>&1 || fail "openssl could not make a certificate"
	eval "dovecot_${name}_dir=\$d"
	eval "dovecot_${name}_cert=\$d/cert.pem"
	eval "dovecot_${name}_log=\$d/dovecot.log"
}

dovecot_user() {
	dovecot_init "$1"
	d=$(dovecot_var "$1" dir)
	printf '%s:{PLAIN}%s::::::\n' "$2" "$3" >>"$d/users"
}

dovecot_master() {
	dovecot_init "$1"
	d=$(dovecot_var "$1" dir)
	printf '%s:{PLAIN}%s::::::\n' "$2" "$3" >>"$d/masters"
}

dovecot_start() {
	name=$1
	sep=${2:-/}
	dovecot_init "$name"
	d=$(dovecot_var "$name" dir)
	set -- $(dovecot_free_ports)
	eval "dovecot_${name}_imap=$1 dovecot_${name}_imaps=$2"
	eval "dovecot_${name}_pop3=$3 dovecot_${name}_pop3s=$4"
	if [ "$(id -u)" = 0 ]; then
		# Dovecot never serves mail as root; "nobody" owns the store.
		muser=nobody
		internal=dovecot
		login=dovenull
		chown nobody "$d/mail" "$d/home"
	else
		muser=$(id -un)
		internal=$muser
		login=$muser
	fi
	muid=$(id -u "$muser")
	mgid=$(id -g "$muser")
	cat >"$d/dovecot.conf" <<EOF
# generated by tests/integration/dovecot.sh
base_dir = $d/run
state_dir = $d/state
instance_name = mf-$name-$$
log_path = $d/dovecot.log
info_log_path = $d/dovecot.log
protocols = imap pop3
listen = 127.0.0.1
default_internal_user = $internal
default_login_user = $login
first_valid_uid = 0
ssl = yes
ssl_cert = <$d/cert.pem
ssl_key = <$d/key.pem
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = ${DOVECOT_AUTH_MECHS:-plain login}
auth_master_user_separator = *
# Refusals at once: wrong-password tests need no 2-15 s penalty each
# (auth_failure_delay, and anvil's growing per-IP auth penalty).
auth_failure_delay = 0
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
mail_location = maildir:$d/mail/%u:LAYOUT=fs
mail_uid = $muid
mail_gid = $mgid
mail_privileged_group =
pop3_uidl_format = %08Xu%08Xv
passdb {
  driver = passwd-file
  args = scheme=PLAIN $d/masters
  master = yes
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN $d/users
}
userdb {
  driver = static
  args = uid=$muid gid=$mgid home=$d/home/%u
}
namespace inbox {
  inbox = yes
  separator = $sep
  mailbox Sent {
    special_use = \\Sent
    auto = create
  }
  mailbox Drafts {
    special_use = \\Drafts
    auto = create
  }
  mailbox Trash {
    special_use = \\Trash
    auto = create
  }
  mailbox Junk {
    special_use = \\Junk
    auto = create
  }
}
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = $(dovecot_var "$name" imap)
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $(dovecot_var "$name" imaps)
    ssl = yes
  }
}
service pop3-login {
  chroot =
  inet_listener pop3 {
    address = 127.0.0.1
    port = $(dovecot_var "$name" pop3)
  }
  inet_listener pop3s {
    address = 127.0.0.1
    port = $(dovecot_var "$name" pop3s)
    ssl = yes
  }
}
service anvil {
  chroot =
}
service doveadm {
  unix_listener doveadm-server {
    mode = 0600
  }
}
service stats {
  unix_listener stats-writer {
    mode = 0666
  }
}
EOF
	# Extra settings for one instance (quota, plugins), set by the test.
	if [ -n "${DOVECOT_EXTRA_CONF:-}" ]; then
		printf '%s\n' "$DOVECOT_EXTRA_CONF" >>"$d/dovecot.conf"
	fi
	eval "dovecot_${name}_conf=\$d/dovecot.conf"
	# Hard limit whatever happens to the test: timeout(1) ends Dovecot
	# after DOVECOT_TIME_LIMIT seconds, and setsid keeps it out of the
	# test's process group, so even a SIGKILL of the whole test cannot
	# leave Dovecot running forever.  A TERM to timeout is passed on.
	setsid timeout -k 5 "$DOVECOT_TIME_LIMIT" \
		"$DOVECOT_BIN" -F -c "$d/dovecot.conf" >>"$d/dovecot.log" 2>&1 &
	pid=$!
	eval "dovecot_${name}_pid=$pid"
	mf_on_exit "dovecot_stop_pid $pid"
	port=$(dovecot_var "$name" imap)
	i=0
	until python3 - "$port" <<'EOF' 2>/dev/null
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1)
s.settimeout(2)
sys.exit(0 if s.recv(100).startswith(b"* OK") else 1)
EOF
	do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 "$pid" 2>/dev/null; then
			cat "$d/dovecot.log" >&2
			fail "dovecot $name did not start"
		fi
		sleep 0.1
	done
}

dovecot_stop_pid() {
	kill "$1" 2>/dev/null || return 0
	for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -9 "$1" 2>/dev/null || true
}

dovecot_adm() {
	name=$1
	shift
	"$DOVEADM_BIN" -c "$(dovecot_var "$name" conf)" "$@"
}

dovecot_dump_logs() {
	for n in "$@"; do
		echo "---- dovecot $n log" >&2
		tail -n 40 "$(dovecot_var "$n" log)" >&2 || true
	done
}
