#!/bin/sh
# SPDX-License-Identifier: MIT
# The state-interface tests (check_state_db, check_state_views) once more,
# every case against a real PostgreSQL: a server started on a random
# loopback port by tests/integration/postgres.sh, stopped on exit.
# Skipped (77) only when the server binaries are missing.
top_srcdir=$(cd "${srcdir:-.}/../.." && pwd)
top_builddir=$(cd ../.. && pwd)
MF_TEST_TIMEOUT=${MF_TEST_TIMEOUT:-240}
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/postgres.sh"
if ! postgres_available; then
	echo "SKIP: no PostgreSQL server binaries (apt-get install postgresql)"
	exit 77
fi
postgres_start unit
PGPASSWORD=$(postgres_var unit password)
export PGPASSWORD
MF_TEST_PG_URL=$(postgres_var unit url)
export MF_TEST_PG_URL
rc=0
for t in check_state_db check_state_views; do
	./$t || rc=1
done
[ $rc = 0 ] || postgres_dump_log unit
exit $rc
