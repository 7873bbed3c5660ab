/* SPDX-License-Identifier: MIT */
/* JSON Web Tokens signed with RS256 (RFC 7515, RFC 7518 §3.3) for the two
 * assertion flows: the certificate credential of a Microsoft app
 * registration (RFC 7523 §2.2, header "x5t" = base64url SHA-1 of the
 * certificate, as the identity platform requires) and the Google service
 * account grant (RFC 7523 §2.1).  Signing is OpenSSL's; the key is read
 * from memory the caller wipes. */
#include <config.h>
#include "oauth.h"

#include <mailferry/util.h>
#include <jansson.h>
#include <errno.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int ssl_fail(struct mf_error *err, const char *what)
{
	char buf[256] = "";
	unsigned long e = ERR_get_error();
	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return mf_error_set(err, MF_ERR_AUTH, MF_RETRY_NEVER, "oauth: %s%s%s", what,
			    buf[0] ? ": " : "", buf);
}

static char *json_part(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	char *b = mf_base64url_encode(s, strlen(s));
	free(s);
	return b;
}

char *oauth_jwt_rs256(const char *key_pem, size_t key_len, void *header_json, void *claims_json,
		      struct mf_error *err)
{
	json_t *header = header_json, *claims = claims_json;
	json_object_set_new(header, "alg", json_string("RS256"));
	json_object_set_new(header, "typ", json_string("JWT"));
	char *h = json_part(header), *c = json_part(claims);
	json_decref(header);
	json_decref(claims);
	char *input = mf_xasprintf("%s.%s", h, c);
	free(h);
	free(c);

	char *jwt = NULL;
	BIO *bio = BIO_new_mem_buf(key_pem, (int)key_len);
	EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char *sig = NULL;
	size_t sig_len = 0;
	if (key == NULL) {
		ssl_fail(err, "cannot read the private key (PEM, unencrypted)");
	} else if (EVP_PKEY_base_id(key) != EVP_PKEY_RSA) {
		mf_error_set(err, MF_ERR_AUTH, MF_RETRY_NEVER,
			     "oauth: the private key is not RSA (RS256 needs an RSA key)");
	} else if (md == NULL || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
		   EVP_DigestSignUpdate(md, input, strlen(input)) != 1 ||
		   EVP_DigestSignFinal(md, NULL, &sig_len) != 1) {
		ssl_fail(err, "cannot sign the assertion");
	} else {
		sig = mf_xmalloc(sig_len);
		if (EVP_DigestSignFinal(md, sig, &sig_len) != 1) {
			ssl_fail(err, "cannot sign the assertion");
		} else {
			char *s = mf_base64url_encode(sig, sig_len);
			jwt = mf_xasprintf("%s.%s", input, s);
			free(s);
		}
	}
	free(sig);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(key); /* OpenSSL clears RSA key material on free */
	BIO_free(bio);
	free(input);
	return jwt;
}

char *oauth_cert_thumbprint(const char *cert_file, struct mf_error *err)
{
	FILE *f = fopen(cert_file, "r");
	if (f == NULL) {
		mf_error_set(err, MF_ERR_AUTH, MF_RETRY_NEVER, "oauth: certificate %s: %s",
			     cert_file, strerror(errno));
		return NULL;
	}
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL) {
		ssl_fail(err, "cannot read the certificate (PEM)");
		return NULL;
	}
	unsigned char *der = NULL;
	int len = i2d_X509(x, &der);
	X509_free(x);
	if (len <= 0) {
		ssl_fail(err, "cannot encode the certificate");
		return NULL;
	}
	unsigned char sha1[SHA_DIGEST_LENGTH];
	SHA1(der, (size_t)len, sha1);
	OPENSSL_free(der);
	return mf_base64url_encode(sha1, sizeof(sha1));
}
