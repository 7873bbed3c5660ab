/* SPDX-License-Identifier: MIT */
/* The verify report: what core/verify.c found, written for people (HTML
 * with a chart per mailbox) and machines (JSON). */
#ifndef MF_CLI_VERIFY_REPORT_H
#define MF_CLI_VERIFY_REPORT_H

#include "engine.h"

/* Writes DIR/verify-report.json and DIR/verify-report.html. */
int verify_write_report(const char *dir, const struct verify_account *accts, size_t n,
			char **json_path_r, char **html_path_r);

#endif
