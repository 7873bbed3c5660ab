/* SPDX-License-Identifier: MIT */
/* Streaming SHA-256 over OpenSSL's EVP interface: the digest that
 * identifies message content in the state store and in verification. */
#include <config.h>
#include <mailferry/util.h>

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>

struct mf_sha256 {
	EVP_MD_CTX *ctx;
};

static void init_or_die(EVP_MD_CTX *ctx)
{
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		fprintf(stderr, "mailferry: OpenSSL cannot initialise SHA-256\n");
		abort();
	}
}

struct mf_sha256 *mf_sha256_new(void)
{
	struct mf_sha256 *h = mf_xmalloc(sizeof(*h));
	h->ctx = EVP_MD_CTX_new();
	if (h->ctx == NULL) {
		fprintf(stderr, "mailferry: out of memory (EVP_MD_CTX_new)\n");
		abort();
	}
	init_or_die(h->ctx);
	return h;
}

void mf_sha256_update(struct mf_sha256 *h, const void *data, size_t len)
{
	if (len > 0)
		EVP_DigestUpdate(h->ctx, data, len);
}

void mf_sha256_final(struct mf_sha256 *h, unsigned char out[32])
{
	unsigned int n = 32;
	EVP_DigestFinal_ex(h->ctx, out, &n);
	init_or_die(h->ctx);
}

void mf_sha256_free(struct mf_sha256 **h)
{
	if (*h == NULL)
		return;
	EVP_MD_CTX_free((*h)->ctx);
	free(*h);
	*h = NULL;
}
