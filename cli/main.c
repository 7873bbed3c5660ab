/* SPDX-License-Identifier: MIT */
/* mailferry's entry point: dispatches to the command implementations. */
#include <config.h>

#include <mailferry/plugin.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "engine.h"

int main(int argc, char **argv)
{
	if (argc < 2) {
		cli_usage(stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	crash_install(STDERR_FILENO);
	cli_log_to_stderr();
	if (strcmp(cmd, "migrate") == 0)
		return cli_migrate(argc - 1, argv + 1);
	if (strcmp(cmd, "verify") == 0)
		return cli_verify(argc - 1, argv + 1);
	if (strcmp(cmd, "preflight") == 0)
		return cli_preflight(argc - 1, argv + 1);
	if (strcmp(cmd, "status") == 0)
		return cli_status(argc - 1, argv + 1);
	if (strcmp(cmd, "plugins") == 0)
		return cli_plugins_bundle(argc - 1, argv + 1);
	if (strcmp(cmd, "bundle") == 0)
		return cli_bundle(argc - 1, argv + 1);
	if (strcmp(cmd, "serve") == 0)
		return cli_serve(argc - 1, argv + 1);
	if (strcmp(cmd, "enable") == 0 || strcmp(cmd, "disable") == 0)
		return cli_enable(argc - 1, argv + 1, cmd[0] == 'e');
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		cli_usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0)
		return cli_version(argc - 1, argv + 1);
	fprintf(stderr, "mailferry: unknown command '%s'\n\n", cmd);
	cli_usage(stderr);
	return EXIT_USAGE;
}
