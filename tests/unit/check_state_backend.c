/* SPDX-License-Identifier: MIT */
/* check_state_backend.h: a new SQLite file or the emptied PostgreSQL
 * database for each state-interface test case. */
#include <config.h>
#include "check_state_backend.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *backend_pg_url(void)
{
	const char *u = getenv("MF_TEST_PG_URL");
	return u != NULL && u[0] != '\0' ? u : NULL;
}

PGconn *backend_pg_connect(void)
{
	PGconn *c = PQconnectdb(backend_pg_url());
	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "test database: %s", PQerrorMessage(c));
	PQclear(PQexec(c, "SET client_min_messages=warning"));
	return c;
}

void backend_pg_exec(const char *sql)
{
	PGconn *c = backend_pg_connect();
	PGresult *r = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK,
		      "%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
}

void backend_setup(char *loc, size_t len, const char *prefix)
{
	if (backend_pg_url() != NULL) {
		/* Cases run one after another (fork mode, one process at a
		 * time): each starts from a database without our tables. */
		backend_pg_exec("DROP TABLE IF EXISTS messages, folders, mailboxes, meta CASCADE");
		snprintf(loc, len, "%s", backend_pg_url());
		return;
	}
	snprintf(loc, len, "%s/%s-XXXXXX", P_tmpdir, prefix);
	int fd = mkstemp(loc);
	ck_assert_int_ge(fd, 0);
	close(fd);
}

void backend_teardown(const char *loc)
{
	if (backend_pg_url() != NULL)
		return;
	char f[600];
	unlink(loc);
	snprintf(f, sizeof(f), "%s-wal", loc);
	unlink(f);
	snprintf(f, sizeof(f), "%s-shm", loc);
	unlink(f);
}
