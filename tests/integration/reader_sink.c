/* SPDX-License-Identifier: MIT */
/* An out-of-tree sink for tests/integration/verify_any_sink.sh: "vault:PATH"
 * stores messages in a Maildir++ tree at PATH (INBOX is the root, folder
 * A/B is PATH/.A.B), built from <mailferry/plugin.h> alone, as an
 * integrator's plugin would be.  Its own scheme means the core cannot
 * know how to read it back; the ABI 1.6 reader_uri slot says so
 * ("maildir:PATH", read by the offline source).
 * Built with -DNO_READER_URI it is the same plugin as built against the
 * 1.5 headers: the sink table ends before reader_uri (struct_size says
 * so), so the core's zero-extended copy reads the slot as NULL. */
#include <mailferry/plugin.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct mf_sink {
	char *root;
	unsigned long counter;
};

static int vault_open(void *ctx, const struct mf_account *acct, struct mf_sink **snk_r,
		      struct mf_error *err)
{
	(void)ctx;
	*snk_r = NULL;
	if (acct->path == NULL || acct->path[0] == '\0')
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER, "vault: no path");
	struct mf_sink *snk = calloc(1, sizeof(*snk));
	if (snk == NULL || (snk->root = strdup(acct->path)) == NULL)
		abort();
	*snk_r = snk;
	return MF_OK;
}

static void vault_close(struct mf_sink **snk)
{
	if (snk == NULL || *snk == NULL)
		return;
	free((*snk)->root);
	free(*snk);
	*snk = NULL;
}

/* root, or root/.A.B for "A/B"; malloc'd. */
static char *folder_dir(const struct mf_sink *snk, const char *path)
{
	size_t n = strlen(snk->root) + strlen(path) + 3;
	char *d = malloc(n);
	if (d == NULL)
		abort();
	if (strcmp(path, "INBOX") == 0) {
		snprintf(d, n, "%s", snk->root);
		return d;
	}
	snprintf(d, n, "%s/.%s", snk->root, path);
	for (char *p = d + strlen(snk->root) + 2; *p != '\0'; p++)
		if (*p == '/')
			*p = '.';
	return d;
}

static int make_maildir(const char *dir, struct mf_error *err)
{
	static const char *const subs[] = { "", "/cur", "/new", "/tmp" };
	char p[4096];
	for (size_t i = 0; i < 4; i++) {
		snprintf(p, sizeof(p), "%s%s", dir, subs[i]);
		if (mkdir(p, 0700) != 0 && errno != EEXIST)
			return mf_error_set(err, MF_ERR_FOLDER, MF_RETRY_NEVER, "vault: %s: %s", p,
					    strerror(errno));
	}
	return MF_OK;
}

static int vault_ensure_folder(struct mf_sink *snk, const char *path,
			       enum mf_special_use special_use, char **actual_r,
			       struct mf_error *err)
{
	(void)special_use;
	*actual_r = NULL;
	int st = make_maildir(snk->root, err);
	char *dir = folder_dir(snk, path);
	if (st == MF_OK)
		st = make_maildir(dir, err);
	free(dir);
	if (st == MF_OK && (*actual_r = strdup(path)) == NULL)
		abort();
	return st;
}

static int vault_append(struct mf_sink *snk, const char *folder, const struct mf_message *msg,
			struct mf_append_result *res_r, struct mf_error *err)
{
	char *dir = folder_dir(snk, folder);
	char tmp[4096], cur[4096];
	snprintf(res_r->target_id, sizeof(res_r->target_id), "%ld.%lu.vault", (long)getpid(),
		 ++snk->counter);
	snprintf(tmp, sizeof(tmp), "%s/tmp/%s", dir, res_r->target_id);
	snprintf(cur, sizeof(cur), "%s/cur/%s:2,", dir, res_r->target_id);
	free(dir);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		return mf_error_set(err, MF_ERR_FOLDER, MF_RETRY_NEVER, "vault: %s: %s", tmp,
				    strerror(errno));
	unsigned char buf[65536];
	int st = MF_OK;
	for (;;) {
		size_t n = 0;
		if ((st = msg->read(msg, buf, sizeof(buf), &n, err)) != MF_OK || n == 0)
			break;
		if (write(fd, buf, n) != (ssize_t)n) {
			st = mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_NEVER, "vault: %s: %s", tmp,
					  strerror(errno));
			break;
		}
	}
	if (close(fd) != 0 && st == MF_OK)
		st = mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_NEVER, "vault: %s: %s", tmp,
				  strerror(errno));
	if (st == MF_OK && rename(tmp, cur) != 0)
		st = mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_NEVER, "vault: %s: %s", cur,
				  strerror(errno));
	if (st != MF_OK)
		unlink(tmp);
	return st;
}

#ifndef NO_READER_URI
/* "maildir:" + root, '%' and '?' encoded: the core decodes the path. */
static int vault_reader_uri(void *ctx, const struct mf_account *acct, char **uri_r,
			    struct mf_error *err)
{
	(void)ctx;
	(void)err;
	size_t cap = sizeof("maildir:") + 3 * strlen(acct->path), n;
	char *u = malloc(cap);
	if (u == NULL)
		abort();
	n = (size_t)snprintf(u, cap, "maildir:");
	for (const char *p = acct->path; *p != '\0'; p++)
		n += (size_t)snprintf(u + n, cap - n, *p == '%' || *p == '?' ? "%%%02X" : "%c",
				      (unsigned char)*p);
	*uri_r = u;
	return MF_OK;
}
#endif

static const struct mf_sink_ops vault_ops = {
#ifdef NO_READER_URI
	.struct_size = offsetof(struct mf_sink_ops, reader_uri),
#else
	.struct_size = sizeof(struct mf_sink_ops),
	.reader_uri = vault_reader_uri,
#endif
	.open = vault_open,
	.ensure_folder = vault_ensure_folder,
	.append = vault_append,
	.close = vault_close,
};

static const char *const vault_schemes[] = { "vault", NULL };

MF_PLUGIN_EXPORT(vault) = {
#ifdef NO_READER_URI
	/* What MF_ABI_INIT gave under the 1.5 headers. */
	.abi_major = MF_ABI_MAJOR,
	.abi_minor = 5,
	.struct_size = offsetof(struct mf_plugin, address_schemes),
#else
	MF_ABI_INIT,
#endif
	.kind = MF_PLUGIN_SINK,
	.name = "vault",
	.version = "0.1",
	.description = "Maildir++ store under its own scheme (test)",
	.schemes = vault_schemes,
	.caps = MF_CAP_RETURNS_ID,
	.sink = &vault_ops,
};
