#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs everything mailferry needs to build, test, fuzz, package (.deb)
# and run its demo on Debian 12 (as root).  CI and both README commands run this: any
# package the project needs must be listed here.
set -eu
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
	build-essential autoconf automake libtool libltdl-dev pkg-config \
	libssl-dev libcurl4-openssl-dev libxml2-dev libjansson-dev libsqlite3-dev zlib1g-dev libarchive-dev libmicrohttpd-dev libpq-dev check \
	dovecot-imapd dovecot-pop3d postgresql openssl ca-certificates python3 python3-yaml \
	clang clang-format libclang-rt-14-dev isync procps sqlite3 util-linux time \
	groff-base man-db bash-completion debhelper dpkg-dev fakeroot lintian \
	chromium >/dev/null
# Dovecot's package starts a system instance; tests run their own on
# random loopback ports, so the system one is not needed.
$SUDO systemctl disable --now dovecot >/dev/null 2>&1 || true
# The same for PostgreSQL: the tests run initdb in a temporary directory.
$SUDO systemctl disable --now postgresql >/dev/null 2>&1 || true
# Cyrus IMAP, a second real server for the tests (conflicts with Dovecot
# as a package: unpacked into a private root, see the script).
"$(dirname "$0")/install-cyrus.sh"
# Courier IMAP and POP3, the third real server (conflicts with Dovecot's
# packages too: unpacked into a private root, see the script).
"$(dirname "$0")/install-courier.sh"
echo "mailferry dependencies installed"
