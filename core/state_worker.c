/* SPDX-License-Identifier: MIT */
/* The name this worker process writes in a shared state store (see
 * state.h): below the stores and the state interface alike, which both
 * read it. */
#include <config.h>
#include "state.h"

#include <mailferry/util.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* The worker name: set once by the front end before any job starts. */
static char *worker_name;
static char default_name[300];
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static void make_default_name(void)
{
	char host[256];
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "?");
	host[sizeof(host) - 1] = '\0';
	snprintf(default_name, sizeof(default_name), "%s:%ld", host, (long)getpid());
}

void state_set_worker_name(const char *name)
{
	free(worker_name);
	worker_name = name != NULL && name[0] != '\0' ? mf_xstrdup(name) : NULL;
}

const char *state_worker_name(void)
{
	if (worker_name != NULL)
		return worker_name;
	pthread_once(&default_once, make_default_name);
	return default_name;
}
