/* SPDX-License-Identifier: MIT */
/* Run-wide settings (settings.c). */
#ifndef MF_CORE_SETTINGS_H
#define MF_CORE_SETTINGS_H

#include <stddef.h>

struct settings {
	char **keys, **values;
	size_t n;
};
void settings_set(struct settings *s, const char *key, const char *value);
const char *settings_get(const struct settings *s, const char *key);
void settings_free(struct settings *s);

#endif
