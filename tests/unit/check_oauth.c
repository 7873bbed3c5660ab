/* SPDX-License-Identifier: MIT */
/* The core's OAuth client resolution (which flow, which endpoint, what is
 * missing) and its RS256 assertions, checked against OpenSSL's verifier.
 * The token endpoint round trip is tested against the fake endpoint in
 * tests/integration (graph_*.sh, imap_oauth_dovecot.sh). */
#include <config.h>
#include <check.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "oauth.h"

static struct settings st;
static struct oauth_client c;
static struct mf_error err;

static void setup(void)
{
	memset(&st, 0, sizeof(st));
	memset(&err, 0, sizeof(err));
	unsetenv(OAUTH_SECRET_ENV);
}

static void teardown(void)
{
	oauth_client_free(&c);
	settings_free(&st);
}

static const struct mf_oauth_request graph_req = {
	.struct_size = sizeof(struct mf_oauth_request),
	.scope = "https://graph.microsoft.com/.default",
	.tenant = "contoso.onmicrosoft.com",
};

START_TEST(secret_file_selects_client_credentials_by_tenant)
{
	settings_set(&st, "oauth-client-id", "app-1");
	settings_set(&st, "oauth-client-secret-file", "/nonexistent/secret");
	struct mf_account acct = { .id = "alice@contoso.com", .user = "alice@contoso.com" };
	ck_assert_int_eq(oauth_client_resolve(&st, &acct, &graph_req, &c, &err), MF_OK);
	ck_assert_int_eq(c.flow, OAUTH_CLIENT_SECRET);
	ck_assert_str_eq(
		c.token_url,
		"https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token");
	ck_assert_str_eq(c.scope, "https://graph.microsoft.com/.default");
	/* One app token serves every mailbox of the tenant. */
	char *k1 = oauth_client_key(&c);
	oauth_client_free(&c);
	struct mf_account bob = { .id = "bob@contoso.com", .user = "bob@contoso.com" };
	ck_assert_int_eq(oauth_client_resolve(&st, &bob, &graph_req, &c, &err), MF_OK);
	char *k2 = oauth_client_key(&c);
	ck_assert_str_eq(k1, k2);
	free(k1);
	free(k2);
}
END_TEST

START_TEST(national_cloud_and_account_overrides)
{
	settings_set(&st, "oauth-client-id", "app-1");
	settings_set(&st, "oauth-authority", "china");
	settings_set(&st, "oauth-tenant", "corp.partner.onmschina.cn");
	setenv(OAUTH_SECRET_ENV, "not-read-here", 1);
	struct mf_oauth_request req = graph_req;
	req.tenant = NULL;
	const char *opts[] = { "oauth-refresh-token-file=/tmp/rt-alice", "oauth-scope=x/.default",
			       NULL };
	struct mf_account acct = { .id = "alice", .user = "alice", .options = opts };
	ck_assert_int_eq(oauth_client_resolve(&st, &acct, &req, &c, &err), MF_OK);
	ck_assert_int_eq(c.flow, OAUTH_REFRESH_TOKEN); /* the row's own file wins */
	ck_assert_str_eq(
		c.token_url,
		"https://login.chinacloudapi.cn/corp.partner.onmschina.cn/oauth2/v2.0/token");
	ck_assert_str_eq(c.scope, "x/.default");
}
END_TEST

static void expect_refusal(const char *needle)
{
	struct mf_account acct = { .id = "alice@contoso.com", .user = "alice@contoso.com" };
	ck_assert_int_eq(oauth_client_resolve(&st, &acct, &graph_req, &c, &err), MF_ERR_AUTH);
	ck_assert_msg(strstr(err.text, needle) != NULL, "'%s' lacks '%s'", err.text, needle);
	ck_assert_ptr_nonnull(strstr(err.text, "alice@contoso.com"));
	oauth_client_free(&c);
}

START_TEST(what_is_missing_is_named)
{
	expect_refusal("OAuth 2.0 is needed but not configured");
	settings_set(&st, "oauth-client-secret-file", "/x");
	expect_refusal("no --oauth-client-id");
	settings_set(&st, "oauth-client-id", "app-1");
	settings_set(&st, "oauth-cert-file", "/c.pem");
	expect_refusal("both --oauth-cert-file and --oauth-key-file");
}
END_TEST

static char *write_temp(const char *text)
{
	char *path = strdup("/tmp/check_oauth.XXXXXX");
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static char *rsa_pem(EVP_PKEY **key_r)
{
	EVP_PKEY *key = EVP_RSA_gen(2048);
	ck_assert_ptr_nonnull(key);
	BIO *b = BIO_new(BIO_s_mem());
	PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL);
	char *data;
	long n = BIO_get_mem_data(b, &data);
	char *pem = strndup(data, (size_t)n);
	BIO_free(b);
	*key_r = key;
	return pem;
}

static unsigned char *b64url_decode(const char *s, size_t len, size_t *out_len)
{
	char *t = calloc(1, len + 4);
	for (size_t i = 0; i < len; i++)
		t[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
	size_t n = len;
	while (n % 4)
		t[n++] = '=';
	unsigned char *out = malloc(n);
	int r = EVP_DecodeBlock(out, (unsigned char *)t, (int)n);
	ck_assert_int_ge(r, 0);
	*out_len = (size_t)r - (len % 4 == 2 ? 2 : len % 4 == 3 ? 1 : 0);
	free(t);
	return out;
}

START_TEST(assertion_verifies_with_the_public_key)
{
	EVP_PKEY *key;
	char *pem = rsa_pem(&key);
	json_t *header = json_pack("{s:s}", "x5t", "thumb");
	json_t *claims = json_pack("{s:s, s:s, s:i}", "iss", "app-1", "aud", "https://t/token",
				   "exp", 2000000000);
	char *jwt = oauth_jwt_rs256(pem, strlen(pem), header, claims, &err);
	ck_assert_msg(jwt != NULL, "%s", err.text);
	const char *dot1 = strchr(jwt, '.'), *dot2 = strrchr(jwt, '.');
	ck_assert_ptr_ne(dot1, dot2);
	size_t hl;
	unsigned char *h = b64url_decode(jwt, (size_t)(dot1 - jwt), &hl);
	ck_assert_ptr_nonnull(memmem(h, hl, "\"alg\":\"RS256\"", 13));
	ck_assert_ptr_nonnull(memmem(h, hl, "\"x5t\":\"thumb\"", 13));
	size_t sl;
	unsigned char *sig = b64url_decode(dot2 + 1, strlen(dot2 + 1), &sl);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	ck_assert_int_eq(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key), 1);
	ck_assert_int_eq(EVP_DigestVerify(md, sig, sl, (const unsigned char *)jwt,
					  (size_t)(dot2 - jwt)),
			 1);
	/* One changed byte of the claims and it no longer verifies. */
	jwt[dot1 - jwt + 3] ^= 1;
	ck_assert_int_ne(EVP_DigestVerify(md, sig, sl, (const unsigned char *)jwt,
					  (size_t)(dot2 - jwt)),
			 1);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(key);
	free(sig);
	free(h);
	free(jwt);
	free(pem);
}
END_TEST

START_TEST(service_account_key_gives_issuer_and_endpoint)
{
	EVP_PKEY *key;
	char *pem = rsa_pem(&key);
	json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "type", "service_account", "client_email",
			      "migrator@proj.iam.gserviceaccount.com", "private_key", pem,
			      "token_uri", "https://oauth2.googleapis.com/token");
	char *text = json_dumps(j, 0);
	char *path = write_temp(text);
	settings_set(&st, "oauth-service-account-file", path);
	struct mf_account acct = { .id = "alice@corp.example", .user = "alice@corp.example" };
	struct mf_oauth_request req = { .struct_size = sizeof(req) };
	ck_assert_msg(oauth_client_resolve(&st, &acct, &req, &c, &err) == MF_OK, "%s", err.text);
	ck_assert_int_eq(c.flow, OAUTH_SERVICE_ACCOUNT);
	ck_assert_str_eq(c.client_id, "migrator@proj.iam.gserviceaccount.com");
	ck_assert_str_eq(c.token_url, "https://oauth2.googleapis.com/token");
	ck_assert_str_eq(c.scope, "https://mail.google.com/");
	ck_assert_str_eq(c.subject, "alice@corp.example");
	/* Delegated tokens are per mailbox. */
	char *k1 = oauth_client_key(&c);
	oauth_client_free(&c);
	struct mf_account bob = { .id = "bob@corp.example", .user = "bob@corp.example" };
	ck_assert_int_eq(oauth_client_resolve(&st, &bob, &req, &c, &err), MF_OK);
	char *k2 = oauth_client_key(&c);
	ck_assert_str_ne(k1, k2);
	free(k1);
	free(k2);
	unlink(path);
	free(path);
	free(text);
	json_decref(j);
	EVP_PKEY_free(key);
	free(pem);
}
END_TEST

static Suite *oauth_suite(void)
{
	Suite *s = suite_create("oauth");
	TCase *tc = tcase_create("resolve");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, secret_file_selects_client_credentials_by_tenant);
	tcase_add_test(tc, national_cloud_and_account_overrides);
	tcase_add_test(tc, what_is_missing_is_named);
	tcase_add_test(tc, assertion_verifies_with_the_public_key);
	tcase_add_test(tc, service_account_key_gives_issuer_and_endpoint);
	suite_add_tcase(s, tc);
	return s;
}

MF_CHECK_MAIN(oauth_suite)
