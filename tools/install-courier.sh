#!/bin/sh
# SPDX-License-Identifier: MIT
# Unpacks Courier IMAP and Courier POP3 (Debian 12's courier-imap,
# courier-pop, courier-base and courier-authlib with its userdb module)
# into a private root for the test harness (tests/integration/courier.sh).
# Debian's courier-pop conflicts with dovecot-pop3d (and courier-imap
# with dovecot-imapd as an imap-server), which the tests need too, so the
# packages are fetched with apt-get download and unpacked with dpkg -x
# instead of installed: no service is set up, no system user made,
# Dovecot stays.  The shared libraries Courier needs that are plain
# library packages are installed normally.  Run as root
# (tools/install-deps.sh calls it).
#
# Courier's binaries have their configuration, socket and module
# directories compiled in (/etc/courier, /run/courier/authdaemon,
# /usr/lib/courier-authlib); the harness runs them in a private mount
# namespace with its own directories bind-mounted there.  A bind mount
# needs a mount point, so this script creates those two as empty
# directories (what installing the packages would create too); nothing
# is ever written into them outside a test's namespace.
set -eu
export DEBIAN_FRONTEND=noninteractive
ROOT=${COURIER_ROOT:-/opt/mailferry-courier}
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
# The packages' library dependencies not already pulled in by the rest
# of tools/install-deps.sh (libgamin0 provides libfam.so.0).
$SUDO apt-get install -y -qq --no-install-recommends \
	libcourier-unicode4 libgamin0 libidn12 libgdbm6 libpcre3 libgnutls30 \
	libltdl7 libpam0g perl-base >/dev/null
$SUDO mkdir -p /etc/courier /usr/lib/courier-authlib
version() {
	for p in courier-imap courier-pop courier-authlib; do
		apt-cache policy "$p" | sed -n 's/ *Candidate: //p'
	done | tr '\n' ' '
}
if [ -x "$ROOT/usr/bin/imapd" ] && [ -f "$ROOT/.mailferry-version" ] &&
	[ "$(cat "$ROOT/.mailferry-version")" = "$(version)" ]; then
	echo "Courier already unpacked in $ROOT"
	exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
# apt-get download writes as _apt when it can: let it.
chown _apt "$work" 2>/dev/null || true
(cd "$work" && apt-get download -qq courier-imap courier-pop courier-base \
	courier-authdaemon courier-authlib courier-authlib-userdb)
$SUDO mkdir -p "$ROOT"
for deb in "$work"/*.deb; do
	$SUDO dpkg -x "$deb" "$ROOT"
done
version | $SUDO tee "$ROOT/.mailferry-version" >/dev/null
echo "Courier unpacked in $ROOT"
