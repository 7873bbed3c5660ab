/* SPDX-License-Identifier: MIT */
/* The Graph source's ops table, on top of its one-way chain (graph_p.h). */
#include <config.h>
#include "graph_p.h"

const struct mf_source_ops graph_source_ops = {
	.struct_size = sizeof(struct mf_source_ops),
	.open = graph_open,
	.list_folders = graph_list_folders,
	.fetch = graph_fetch,
	.close = graph_close,
};
