/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the accounts CSV record parser and template
 * expansion (operator-supplied files, often exported from spreadsheets). */
#include <config.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "accounts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	size_t pos = 0;
	unsigned line = 1;
	struct csv_record hdr = { 0 };
	bool have_hdr = false;
	while (pos < size) {
		size_t before = pos;
		struct csv_record r;
		if (csv_next_record(text, size, &pos, &line, &r)) {
			if (!have_hdr) {
				hdr = r;
				have_hdr = true;
				continue;
			}
			if (r.n == hdr.n) {
				char *missing = NULL;
				char *u = accounts_expand("imaps://{source_user}@h/{x}?a={y}",
							  hdr.fields, r.fields, hdr.n, &missing);
				free(u);
				free(missing);
			}
			csv_record_free(&r);
		}
		if (pos <= before)
			abort(); /* the parser must always make progress */
	}
	if (have_hdr)
		csv_record_free(&hdr);
	return 0;
}
