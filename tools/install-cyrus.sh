#!/bin/sh
# SPDX-License-Identifier: MIT
# Unpacks Cyrus IMAP 3.6 (Debian 12's cyrus-imapd, cyrus-pop3d and
# cyrus-common) into a private root for the test harness
# (tests/integration/cyrus.sh) and the benchmarks.  Debian's cyrus-imapd
# conflicts with dovecot-imapd (and cyrus-pop3d with dovecot-pop3d),
# which the tests need too, so the packages are fetched with apt-get
# download and unpacked with dpkg -x instead of installed: no service is
# set up, no system user made, Dovecot stays.  The shared libraries Cyrus
# needs that are plain library packages (and sasl2-bin for saslpasswd2) are
# installed normally.  Run as root (tools/install-deps.sh calls it).
set -eu
export DEBIAN_FRONTEND=noninteractive
ROOT=${CYRUS_ROOT:-/opt/mailferry-cyrus}
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
# cyrus-common's library dependencies not already pulled in by the rest
# of tools/install-deps.sh, and the SASL tools and sasldb module.
$SUDO apt-get install -y -qq --no-install-recommends \
	libclamav12 libical3 libxapian30 libzephyr4 libwrap0 libpq5 libicu72 \
	libsasl2-modules libsasl2-modules-db sasl2-bin >/dev/null
if [ -x "$ROOT/usr/lib/cyrus/bin/imapd" ] && [ -x "$ROOT/usr/lib/cyrus/bin/pop3d" ] &&
	[ -f "$ROOT/.mailferry-version" ] &&
	[ "$(cat "$ROOT/.mailferry-version")" = "$(apt-cache policy cyrus-imapd | sed -n 's/ *Candidate: //p')" ]; then
	echo "Cyrus already unpacked in $ROOT"
	exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
# apt-get download writes as _apt when it can: let it.
chown _apt "$work" 2>/dev/null || true
(cd "$work" && apt-get download -qq cyrus-imapd cyrus-pop3d cyrus-common)
$SUDO mkdir -p "$ROOT"
for deb in "$work"/*.deb; do
	$SUDO dpkg -x "$deb" "$ROOT"
done
apt-cache policy cyrus-imapd | sed -n 's/ *Candidate: //p' | $SUDO tee "$ROOT/.mailferry-version" >/dev/null
echo "Cyrus unpacked in $ROOT"
