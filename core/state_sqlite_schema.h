/* SPDX-License-Identifier: MIT */
/* Schema versions of the SQLite state store (state_sqlite_schema.c). */
#ifndef MF_CORE_STATE_SQLITE_SCHEMA_H
#define MF_CORE_STATE_SQLITE_SCHEMA_H

#include <mailferry/plugin.h>
#include <sqlite3.h>

/* Bump with a step in state_sqlite.c's schema_steps whenever the tables
 * change. */
#define SQLITE_SCHEMA_VERSION 1

/* Check db's stamped schema version against known: refuse a newer one
 * (naming both), run steps[v-1] .. steps[known-2] (SQL taking version k
 * to k+1) on an older one in one transaction and stamp it known.  A file
 * without a stamp is new: nothing to do. */
int state_sqlite_schema_upgrade(sqlite3 *db, const char *path, int known, const char *const *steps,
				struct mf_error *err);

#endif
