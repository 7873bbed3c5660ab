/* SPDX-License-Identifier: MIT */
/* "mailferry serve": the web dashboard over a state file, for watching a
 * migration (the same one another process is running) in a browser.
 * Parses the command line, opens the state, starts the HTTP server
 * (serve_http.c) and waits for SIGINT/SIGTERM.  Listens on 127.0.0.1 by
 * default; anywhere else it wants a token, and says that the link is
 * plain HTTP. */
#include <config.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "engine.h"
#include "serve.h"

#define DEFAULT_LISTEN "127.0.0.1:8025"

static void serve_usage(FILE *out)
{
	fputs("usage: mailferry serve [--state FILE] [--listen ADDRESS:PORT] [--token-file F]\n"
	      "                       [--read-only] [--reports DIR] [-v]\n"
	      "  --listen ADDRESS:PORT  default " DEFAULT_LISTEN " (port 0: any free one;\n"
	      "                         the URL is printed on stdout)\n"
	      "  --token-file F         first line of F is the token every API request needs\n"
	      "                         (Authorization: Bearer, or the page's login form);\n"
	      "                         without it the dashboard is read-only for anyone\n"
	      "  --read-only            no enable/disable, even with the token\n"
	      "  --reports DIR          offer the verify reports found in DIR\n",
	      out);
}

int cli_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "listen", required_argument, NULL, 'l' },
		{ "token-file", required_argument, NULL, 't' },
		{ "read-only", no_argument, NULL, 'r' },
		{ "reports", required_argument, NULL, 'R' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL, *listen = DEFAULT_LISTEN, *token_file = NULL;
	struct serve_ctx ctx = { 0 };
	int c;
	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case 's': path = optarg; break;
		case 'l': listen = optarg; break;
		case 't': token_file = optarg; break;
		case 'r': ctx.read_only = true; break;
		case 'R': ctx.reports_dir = optarg; break;
		case 'v': ctx.verbose = true; break;
		case 'h': serve_usage(stdout); return EXIT_OK;
		default: serve_usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		serve_usage(stderr);
		return EXIT_USAGE;
	}
	path = cli_state_location(path);
	if (!cli_state_is_url(path) && access(path, R_OK) != 0) {
		fprintf(stderr,
			"mailferry: no state file %s (run 'mailferry migrate' first, or "
			"pass --state)\n",
			path);
		return EXIT_USAGE;
	}
	char *token = NULL;
	if (token_file != NULL) {
		token = cli_read_secret_file(token_file);
		if (token == NULL)
			return EXIT_USAGE;
		if (strlen(token) < 16) {
			fprintf(stderr,
				"mailferry serve: the token in %s is shorter than 16 "
				"characters: use a long random one (openssl rand -hex 32)\n",
				token_file);
			free(token);
			return EXIT_USAGE;
		}
	}
	bool loopback = serve_http_is_loopback(listen);
	if (!loopback && token == NULL) {
		fprintf(stderr,
			"mailferry serve: --listen %s is reachable from other hosts: "
			"give a --token-file\n",
			listen);
		return EXIT_USAGE;
	}
	if (serve_auth_init(&ctx.auth, token) != 0) {
		fprintf(stderr, "mailferry serve: no random numbers for the session key\n");
		free(token);
		return EXIT_USAGE;
	}
	free(token);
	struct mf_error err;
	if (state_open(path, &ctx.db, &err) != MF_OK) {
		fprintf(stderr, "mailferry: %s\n", err.text);
		return EXIT_USAGE;
	}
	struct serve_http *http = NULL;
	char *url = NULL, msg[512];
	if (serve_http_start(&ctx, listen, &http, &url, msg, sizeof(msg)) != 0) {
		fprintf(stderr, "mailferry serve: %s\n", msg);
		state_close(&ctx.db);
		return EXIT_USAGE;
	}
	cli_install_signal_handlers();
	if (!loopback)
		fprintf(stderr, "mailferry serve: warning: plain HTTP beyond loopback; the token "
				"crosses the network readable (put a TLS proxy in front)\n");
	if (!ctx.auth.have_token)
		fprintf(stderr, "mailferry serve: no --token-file: read-only, no login\n");
	printf("mailferry serve: %s (%s)\n", url,
	       !ctx.auth.have_token ? "read-only, anonymous"
	       : ctx.read_only      ? "read-only, token required"
				    : "token required");
	fflush(stdout);
	while (!atomic_load(&mf_cancel_requested)) {
		struct timespec ts = { 0, 200 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	serve_http_stop(&http);
	state_close(&ctx.db);
	free(url);
	explicit_bzero(&ctx.auth, sizeof(ctx.auth));
	return EXIT_OK;
}
