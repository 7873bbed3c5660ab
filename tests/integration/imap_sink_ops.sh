#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs the Check program tests/unit/check_imap_sink against private
# Dovecots: the alimail sink's ensure_folder, append (APPENDUID) and
# lookup (Message-ID + size search, then SHA-256 of each candidate, also
# for an LF-only message the server stores with CRLF); once
# with the hierarchy separator "/" and once with "." (the path's levels
# must then be joined with "." on the server).
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/dovecot.sh"
. "$top_srcdir/tests/integration/imap_lib.sh"
prog="$top_builddir/tests/unit/check_imap_sink"
[ -x "$prog" ] || { echo "SKIP: build tests/unit first (make check)"; exit 77; }
for sep in / .; do
	name=dst$( [ "$sep" = / ] && echo slash || echo dot )
	dovecot_user "$name" bob secret-b
	dovecot_start "$name" "$sep"
	MF_TEST_IMAP_PORT=$(dovecot_var "$name" imaps) MF_TEST_IMAP_USER=bob \
	MF_TEST_IMAP_PASS=secret-b MF_TEST_IMAP_CA=$(dovecot_var "$name" cert) \
		"$prog" >"$T/out" 2>&1 ||
		{ cat "$T/out"; dovecot_dump_logs "$name"; fail "check_imap_sink (sep $sep)"; }
	grep -q "100%: Checks: 4" "$T/out" || { cat "$T/out"; fail "not all cases ran"; }
	dovecot_adm "$name" mailbox list -u bob >"$T/boxes"
	grep -qx "Projekte${sep}Übersicht" "$T/boxes" ||
		{ cat "$T/boxes"; fail "nested folder not created with separator $sep"; }
	cat "$T/out"
done
