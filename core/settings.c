/* SPDX-License-Identifier: MIT */
/* Run-wide settings: key/value strings the front end sets (--timeout,
 * --ca-file, --oauth-*, --set KEY=VALUE) and the engine and plugins read. */
#include <config.h>
#include "settings.h"

#include <mailferry/util.h>
#include <stdlib.h>
#include <string.h>

void settings_set(struct settings *s, const char *key, const char *value)
{
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->keys[i], key) == 0) {
			free(s->values[i]);
			s->values[i] = mf_xstrdup(value);
			return;
		}
	}
	s->keys = mf_xrealloc(s->keys, (s->n + 1) * sizeof(char *));
	s->values = mf_xrealloc(s->values, (s->n + 1) * sizeof(char *));
	s->keys[s->n] = mf_xstrdup(key);
	s->values[s->n] = mf_xstrdup(value);
	s->n++;
}

const char *settings_get(const struct settings *s, const char *key)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->keys[i], key) == 0)
			return s->values[i];
	return NULL;
}

void settings_free(struct settings *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->keys[i]);
		free(s->values[i]);
	}
	free(s->keys);
	free(s->values);
	memset(s, 0, sizeof(*s));
}
