# SPDX-License-Identifier: MIT
# Sourced (after lib.sh) by the pop3_*.sh tests: a private Dovecot
# (dovecot-pop3d) on 127.0.0.1 with random ports, its own config, a
# self-signed certificate, a passwd-file with users alice (password
# "secret"), bob and a master user, Maildirs under $T/dovecot/home.  It is
# stopped on exit, and lib.sh's watchdog bounds the whole test.  Not a test
# itself: registered in EXTRA_DIST only.
#
# Provides: DC_POP3_PORT, DC_POP3S_PORT, DC_CERT, dc_start, dc_stop,
# dc_maildir USER, dc_add USER FILE (one message, Maildir new/), dc_state
# USER (a digest of every message file, name and content: "unchanged"
# means this is equal before and after), msg_crlf (LF -> CRLF filter).

command -v dovecot >/dev/null 2>&1 || { echo "SKIP: dovecot not installed"; exit 77; }
[ -x /usr/lib/dovecot/pop3 ] || { echo "SKIP: dovecot-pop3d not installed"; exit 77; }
command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 needed"; exit 77; }

DC="$T/dovecot"
mkdir -p "$DC/run" "$DC/home"
chmod 755 "$T" "$DC"

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
DC_POP3_PORT=$(free_port)
DC_POP3S_PORT=$(free_port)
while [ "$DC_POP3S_PORT" = "$DC_POP3_PORT" ]; do DC_POP3S_PORT=$(free_port); done

DC_CERT="$DC/cert.pem"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
	-addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
	-keyout "$DC/key.pem" -out "$DC_CERT" >/dev/null 2>&1 ||
	fail "openssl could not make a certificate"

# Plain-text passwords: APOP needs the secret itself (RFC 1939 §7).
# "master" may log in as anyone with SASL PLAIN authzid (Dovecot master
# users, passdb with master=yes).
# Dovecot's passwd-file refuses uid 0: as root, mail is owned by the
# package's "dovecot" user (the Maildirs are chowned to it).
dc_uid=$(id -u)
dc_gid=$(id -g)
dc_chown=:
if [ "$dc_uid" -eq 0 ]; then
	dc_uid=$(id -u dovecot) dc_gid=$(id -g dovecot)
	dc_chown="chown -R $dc_uid:$dc_gid"
fi
cat > "$DC/passwd" <<EOF
alice:{PLAIN}secret:$dc_uid:$dc_gid::$DC/home/alice
bob:{PLAIN}bobpw:$dc_uid:$dc_gid::$DC/home/bob
EOF
cat > "$DC/master" <<EOF
master:{PLAIN}masterpw
EOF

# Dovecot refuses to run its login processes as root: as root, use the
# package's own unprivileged users; otherwise everything runs as us.
if [ "$(id -u)" -eq 0 ]; then
	dc_internal=dovecot dc_login=dovenull
else
	dc_internal=$(id -un) dc_login=$(id -un)
fi
chmod 644 "$DC/passwd" "$DC/master"

cat > "$DC/dovecot.conf" <<EOF
base_dir = $DC/run
state_dir = $DC/state
log_path = $DC/log
instance_name = mftest-pop3-$$
protocols = pop3
listen = 127.0.0.1
ssl = yes
ssl_cert = <$DC_CERT
ssl_key = <$DC/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain apop
auth_master_user_separator = *
auth_failure_delay = 0
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
first_valid_uid = $dc_uid
default_internal_user = $dc_internal
default_login_user = $dc_login
mail_location = maildir:~/Maildir
pop3_uidl_format = %08Xu%08Xv
passdb {
  driver = passwd-file
  args = $DC/master
  master = yes
}
passdb {
  driver = passwd-file
  args = $DC/passwd
}
userdb {
  driver = passwd-file
  args = $DC/passwd
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = $DC_POP3_PORT
  }
  inet_listener pop3s {
    address = 127.0.0.1
    port = $DC_POP3S_PORT
    ssl = yes
  }
}
EOF
mkdir -p "$DC/state"

dc_start() {
	dovecot -c "$DC/dovecot.conf" || { cat "$DC/log" >&2 2>/dev/null; fail "dovecot did not start"; }
	mf_on_exit "dc_stop"
	# Wait (bounded) until the POP3 port answers.
	i=0
	until python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$DC_POP3_PORT),1).close()" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 100 ] || { cat "$DC/log" >&2; fail "dovecot not listening"; }
		sleep 0.1
	done
}
dc_stop() {
	if [ -f "$DC/run/master.pid" ]; then
		kill "$(cat "$DC/run/master.pid")" 2>/dev/null || true
		i=0
		while [ -f "$DC/run/master.pid" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	fi
}

dc_maildir() {
	md="$DC/home/$1/Maildir"
	mkdir -p "$md/cur" "$md/new" "$md/tmp"
	$dc_chown "$DC/home"
	echo "$md"
}

# dc_add USER FILE: deliver FILE as one new message (name sorts in order).
dc_seq=0
dc_add() {
	md=$(dc_maildir "$1")
	dc_seq=$((dc_seq + 1))
	cp "$2" "$md/tmp/x" && mv "$md/tmp/x" "$md/new/$((1700000000 + dc_seq)).M${dc_seq}P$$.mftest"
	$dc_chown "$md/new"
}

# Every message file of USER's INBOX: base name (without the :2,flags
# info Dovecot may add on RETR) and SHA-256, sorted.
dc_state() {
	python3 - "$DC/home/$1/Maildir" <<'PY'
import hashlib, os, sys
md = sys.argv[1]
rows = []
for sub in ("new", "cur"):
    for name in os.listdir(os.path.join(md, sub)):
        data = open(os.path.join(md, sub, name), "rb").read()
        rows.append("%s %s" % (name.split(":2,")[0], hashlib.sha256(data).hexdigest()))
sys.stdout.write("".join(r + "\n" for r in sorted(rows, key=lambda r: r.encode())))
PY
}

msg_crlf() { sed 's/$/\r/'; }
