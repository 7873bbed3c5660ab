/* SPDX-License-Identifier: MIT */
/* The struct mf_host the plugin unit tests hand to a plugin's init: logs
 * go to stderr, no settings, and canceled() answers test_cancel so that a
 * test can pretend the operator pressed Ctrl-C.  Shared by the offline
 * source tests (check_mbox_util) and the local sink tests
 * (check_local_sink_fake). */
#ifndef FAKE_HOST_H
#define FAKE_HOST_H

#include <mailferry/plugin.h>
#include <stdbool.h>

extern volatile bool test_cancel; /* what host->canceled() answers */
extern const struct mf_host fake_host;

#endif
