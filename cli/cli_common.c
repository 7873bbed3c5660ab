/* SPDX-License-Identifier: MIT */
/* Small helpers shared by the commands: sizes and secret files. */
#include <config.h>

#include <mailferry/util.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

bool cli_parse_size(const char *s, unsigned long long *out_r)
{
	size_t len = strlen(s);
	unsigned long long mult = 1;
	if (len > 0) {
		switch (s[len - 1]) {
		case 'k':
		case 'K':
			mult = 1024ull;
			len--;
			break;
		case 'm':
		case 'M':
			mult = 1024ull * 1024;
			len--;
			break;
		case 'g':
		case 'G':
			mult = 1024ull * 1024 * 1024;
			len--;
			break;
		default: break;
		}
	}
	uint64_t v;
	if (!mf_parse_u64(s, len, &v) || v > UINT64_MAX / mult)
		return false;
	*out_r = v * mult;
	return true;
}

char *cli_read_secret_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		fprintf(stderr, "mailferry: cannot read password file %s: %s\n", path,
			strerror(errno));
		return NULL;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, f);
	fclose(f);
	if (n < 0) {
		free(line);
		fprintf(stderr, "mailferry: password file %s is empty\n", path);
		return NULL;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	return line;
}
