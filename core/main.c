/* SPDX-License-Identifier: MIT */
/* mailferry's entry point: dispatches to the command implementations. */
#include <config.h>

#include <mailferry/plugin.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "crash.h"

void cli_usage(FILE *out)
{
	fputs("usage: mailferry COMMAND [OPTIONS]\n"
	      "\n"
	      "Commands:\n"
	      "  migrate SOURCE SINK     copy mailboxes from SOURCE to SINK (URIs, see below)\n"
	      "  migrate --accounts FILE SOURCE-TEMPLATE SINK-TEMPLATE\n"
	      "                          one mailbox per CSV row ({column} placeholders;\n"
	      "                          {column.local} / {column.domain}: an address's parts)\n"
	      "  verify SOURCE SINK | verify --accounts FILE SOURCE-T SINK-T [--report DIR]\n"
	      "                          compare both sides per folder (count, size, SHA-256)\n"
	      "                          and write verify-report.json and .html\n"
	      "  status [ACCOUNT]        per-mailbox progress from the state file\n"
	      "  enable|disable ACCOUNT  include or skip a mailbox in later runs\n"
	      "  plugins [--bundle F]    list plugins found, and why any was refused\n"
	      "  bundle create OUT.tar.gz --plugin FILE ... [--config FILE] [--name NAME]\n"
	      "                          pack plugins and a default configuration\n"
	      "  bundle inspect FILE     show and verify a bundle's manifest\n"
	      "\n"
	      "URIs:  mbox:PATH  maildir:PATH  eml:DIR  imap://USER@HOST[:PORT]  imaps://...\n"
	      "       pop3://...  pop3s://...  ews://USER@HOST/EWS/Exchange.asmx\n"
	      "       alimail://USER[@HOST[:PORT]]  (default host imap.sg.aliyun.com:993;\n"
	      "       ?region=cn for imap.qiye.aliyun.com).  Options go in the query: ?k=v&k=v\n"
	      "\n"
	      "migrate options:\n"
	      "  --state FILE                 state file (default ./" DEFAULT_STATE_FILE ")\n"
	      "  --json                       JSON-lines events on stdout\n"
	      "  --dry-run                    read the source, write nothing to the sink\n"
	      "  --folder-policy P            original (default), inbox, or folder:NAME\n"
	      "  --include-folder GLOB        only these folders (repeatable)\n"
	      "  --exclude-folder GLOB        not these folders (repeatable)\n"
	      "  --max-bytes-per-second N     throttle (suffixes k, M, G)\n"
	      "  --max-messages-per-second N  throttle\n"
	      "  --connections-per-host N     cap per server (default 4)\n"
	      "  --jobs N                     mailboxes at once (default 1; 4 with --accounts)\n"
	      "  --retries N                  attempts for transient failures (default 6)\n"
	      "  --source-password-file F     first line of F is the source password\n"
	      "  --sink-password-file F       first line of F is the sink password\n"
	      "                               (or MAILFERRY_SOURCE_PASSWORD / _SINK_PASSWORD;\n"
	      "                               with --accounts, for rows without a password)\n"
	      "  --allow-uri-password         accept a password written in a URI\n"
	      "  --name NAME                  mailbox name in the state file\n"
	      "  --impersonate ADDRESS        EWS: mailbox to open as the service account\n"
	      "  --insecure                   accept any TLS certificate (\"allow SSL\" to a\n"
	      "                               self-signed server); warns loudly\n"
	      "  --ca-file FILE               trust this CA bundle\n"
	      "  --timeout SECONDS            network connect/read timeout (default 60)\n"
	      "  --set KEY=VALUE              a setting for plugins\n"
	      "  --plugin-dir DIR             look for plugins here first (repeatable)\n"
	      "  --bundle FILE                verify FILE (mailferry bundle create) and run with\n"
	      "                               its plugins first and its default configuration\n"
	      "  --config FILE                \"option = value\" lines (long option names);\n"
	      "                               the command line overrides them\n"
	      "  -v, --verbose / -q, --quiet  more / less logging\n"
	      "\n"
	      "Exit status: 0 all copied; 1 some messages or folders failed; 2 usage or\n"
	      "configuration error; 3 a mailbox could not be completed (wrong password,\n"
	      "server unreachable, ...); 130 interrupted.  Re-running continues where a run\n"
	      "stopped and copies only what is missing.\n",
	      out);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		cli_usage(stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	crash_install();
	if (strcmp(cmd, "migrate") == 0)
		return cli_migrate(argc - 1, argv + 1);
	if (strcmp(cmd, "verify") == 0)
		return cli_verify(argc - 1, argv + 1);
	if (strcmp(cmd, "status") == 0)
		return cli_status(argc - 1, argv + 1);
	if (strcmp(cmd, "plugins") == 0)
		return cli_plugins_bundle(argc - 1, argv + 1);
	if (strcmp(cmd, "bundle") == 0)
		return cli_bundle(argc - 1, argv + 1);
	if (strcmp(cmd, "enable") == 0 || strcmp(cmd, "disable") == 0)
		return cli_enable(argc - 1, argv + 1, cmd[0] == 'e');
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		cli_usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
		printf("mailferry %s (plugin ABI %d.%d)\n", PACKAGE_VERSION, MF_ABI_MAJOR, MF_ABI_MINOR);
		return EXIT_OK;
	}
	fprintf(stderr, "mailferry: unknown command '%s'\n\n", cmd);
	cli_usage(stderr);
	return EXIT_USAGE;
}
