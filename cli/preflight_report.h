/* SPDX-License-Identifier: MIT */
/* Printing preflight rows (core/preflight.h): a table, one JSON document,
 * or CSV.  Never a secret: the rows hold URIs without passwords. */
#ifndef MF_CLI_PREFLIGHT_REPORT_H
#define MF_CLI_PREFLIGHT_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include "engine.h"

enum pf_format { PF_FMT_TABLE = 0, PF_FMT_JSON, PF_FMT_CSV };

/* The rate behind the estimates: bps 0 means none was given or measured. */
struct pf_rate {
	double bps;
	const char *source; /* "--rate", or the state file it was measured in */
};

/* Prints every row; returns how many can run. */
size_t preflight_print(FILE *out, enum pf_format fmt, const struct preflight_row *rows, size_t n,
		       const struct pf_rate *rate);

#endif
