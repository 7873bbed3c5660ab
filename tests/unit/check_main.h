/* SPDX-License-Identifier: MIT */
/* The main() every core Check program shares: run one suite, fork mode,
 * non-zero exit on any failure. */
#ifndef MF_CHECK_MAIN_H
#define MF_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

#define MF_CHECK_MAIN(suite_fn)                                   \
	int main(void)                                            \
	{                                                         \
		SRunner *sr = srunner_create(suite_fn());         \
		srunner_run_all(sr, CK_ENV);                      \
		int failed = srunner_ntests_failed(sr);           \
		srunner_free(sr);                                 \
		return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE; \
	}

#endif
