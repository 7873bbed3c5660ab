/* SPDX-License-Identifier: MIT */
/* Which state store a state-interface test runs against: a new SQLite
 * file by default, or the PostgreSQL database named by MF_TEST_PG_URL
 * (set by check_state_pg.sh, which starts a server), emptied before each
 * case.  The same cases run on both. */
#ifndef MF_CHECK_STATE_BACKEND_H
#define MF_CHECK_STATE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>

/* The PostgreSQL URL under test, or NULL for SQLite. */
const char *backend_pg_url(void);
/* A fresh location for one case (a temp file, or the emptied database);
 * prefix names the temp file. */
void backend_setup(char *loc, size_t len, const char *prefix);
void backend_teardown(const char *loc);
/* A raw libpq connection to the database under test (PQfinish it). */
PGconn *backend_pg_connect(void);
/* Run SQL on the database under test; fails the case if it fails. */
void backend_pg_exec(const char *sql);

#endif
