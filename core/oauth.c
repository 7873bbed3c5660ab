/* SPDX-License-Identifier: MIT */
/* The token cache behind host->oauth_token.  One entry per identity and
 * scope (oauth_client_key): an app token of a tenant serves every mailbox,
 * a delegated one its mailbox only.  A token is renewed when less than a
 * fifth of its lifetime (at most 5 minutes) is left, so a long migration
 * never sends an expired one, and at once when a plugin says the server
 * refused it.  An entry has its own lock, so mailboxes waiting for one
 * endpoint do not hold up the others; the list lock is only held to find
 * the entry.  Tokens are wiped when replaced and at oauth_cache_clear(). */
#include <config.h>
#include "oauth.h"

#include <mailferry/util.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A token fetched this recently is taken as the answer to a refresh
 * request too: another session just renewed it. */
#define JUST_FETCHED_S 2
#define MAX_MARGIN_S 300

struct token_entry {
	struct token_entry *next;
	char *key;
	pthread_mutex_t lock;
	char *token;
	double fetched_at, renew_at, expires_at; /* CLOCK_MONOTONIC seconds */
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct token_entry *cache;
static uint64_t requests_made;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct token_entry *entry_for(const char *key)
{
	pthread_mutex_lock(&cache_lock);
	struct token_entry *e = cache;
	while (e != NULL && strcmp(e->key, key) != 0)
		e = e->next;
	if (e == NULL) {
		e = mf_xcalloc(1, sizeof(*e));
		e->key = mf_xstrdup(key);
		pthread_mutex_init(&e->lock, NULL);
		e->next = cache;
		cache = e;
	}
	pthread_mutex_unlock(&cache_lock);
	return e;
}

static void drop_token(struct token_entry *e)
{
	if (e->token != NULL) {
		explicit_bzero(e->token, strlen(e->token));
		free(e->token);
		e->token = NULL;
	}
}

int oauth_token(const struct settings *s, const struct mf_account *acct,
		const struct mf_oauth_request *req, char **token_r, struct mf_error *err)
{
	*token_r = NULL;
	struct oauth_client c;
	int st = oauth_client_resolve(s, acct, req, &c, err);
	if (st != MF_OK) {
		oauth_client_free(&c);
		return st;
	}
	char *key = oauth_client_key(&c);
	struct token_entry *e = entry_for(key);
	free(key);

	pthread_mutex_lock(&e->lock);
	double t = now_s();
	bool refresh = req != NULL && req->refresh && t - e->fetched_at > JUST_FETCHED_S;
	if (e->token == NULL || refresh || t >= e->renew_at) {
		char *tok = NULL;
		int64_t life = 0;
		__atomic_add_fetch(&requests_made, 1, __ATOMIC_RELAXED);
		st = oauth_request_token(&c, &tok, &life, err);
		if (st == MF_OK) {
			drop_token(e);
			e->token = tok;
			e->fetched_at = now_s();
			if (life <= 0)
				life = 60;
			double margin = (double)life / 5;
			if (margin > MAX_MARGIN_S)
				margin = MAX_MARGIN_S;
			e->expires_at = e->fetched_at + (double)life;
			e->renew_at = e->expires_at - margin;
			log_msg(MF_LOG_DEBUG, "oauth: new token for %s (%s, %s), valid %lld s",
				acct != NULL && acct->id ? acct->id : "?", oauth_flow_name(c.flow),
				c.scope, (long long)life);
		} else if (e->token != NULL && t < e->expires_at && !refresh) {
			/* The endpoint is down but the old token still works:
			 * use it and try again next time. */
			log_msg(MF_LOG_WARN, "%s; using the current token until it expires",
				err != NULL ? err->text : "oauth: token renewal failed");
			st = MF_OK;
		}
	}
	if (st == MF_OK)
		*token_r = mf_xstrdup(e->token);
	pthread_mutex_unlock(&e->lock);
	oauth_client_free(&c);
	return st;
}

void oauth_cache_clear(void)
{
	pthread_mutex_lock(&cache_lock);
	while (cache != NULL) {
		struct token_entry *e = cache;
		cache = e->next;
		drop_token(e);
		pthread_mutex_destroy(&e->lock);
		free(e->key);
		free(e);
	}
	pthread_mutex_unlock(&cache_lock);
}

uint64_t oauth_requests_made(void)
{
	return __atomic_load_n(&requests_made, __ATOMIC_RELAXED);
}
