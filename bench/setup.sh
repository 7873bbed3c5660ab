# SPDX-License-Identifier: MIT
# shellcheck shell=sh disable=SC2154 # top_srcdir, top_builddir: the sourcing script's
# What the link benchmarks (wan.sh, cyrus_compress.sh) share in place of
# sourcing tests/integration/lib.sh themselves:
# - the servers' mail, the state and the spools on tmpfs unless TMPDIR says
#   otherwise: the target stands for a datacenter server behind the link,
#   not this machine's disk, whose fsync stalls (1 ms typical, spikes of
#   100s of ms) moved the same run's link use between 70% and 87%;
# - the real mailferry binary rather than libtool's wrapper script, whose
#   ~60 ms of shell before main() mbsync (an installed binary) does not
#   pay either.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
	TMPDIR=/dev/shm
	export TMPDIR
fi
. "$top_srcdir/tests/integration/lib.sh"
if [ -x "$top_builddir/cli/.libs/mailferry" ]; then
	MAILFERRY="$top_builddir/cli/.libs/mailferry"
	LD_LIBRARY_PATH="$top_builddir/lib/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
	export LD_LIBRARY_PATH
fi
