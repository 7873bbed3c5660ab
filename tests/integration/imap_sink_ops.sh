#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs the Check program tests/unit/check_imap_sink against a private
# Dovecot: the alimail sink's ensure_folder, append (APPENDUID) and
# lookup (Message-ID + size search, then SHA-256 of each candidate).
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/dovecot.sh"
. "$top_srcdir/tests/integration/imap_lib.sh"
prog="$top_builddir/tests/unit/check_imap_sink"
[ -x "$prog" ] || { echo "SKIP: build tests/unit first (make check)"; exit 77; }
dovecot_user dst bob secret-b
dovecot_start dst
MF_TEST_IMAP_PORT=$(dovecot_var dst imaps) MF_TEST_IMAP_USER=bob \
MF_TEST_IMAP_PASS=secret-b MF_TEST_IMAP_CA=$(dovecot_var dst cert) \
	"$prog" >"$T/out" 2>&1 || { cat "$T/out"; dovecot_dump_logs dst; fail "check_imap_sink"; }
grep -q "100%: Checks: 3" "$T/out" || { cat "$T/out"; fail "not all cases ran"; }
cat "$T/out"
