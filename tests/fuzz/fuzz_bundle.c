/* SPDX-License-Identifier: MIT */
/* libFuzzer target: what a bundle hands us before anything is trusted:
 * the manifest JSON parser, and the tar.gz reader (written to a temp file
 * and extracted into a fresh private directory, which must stay the only
 * place anything is written). */
#include <config.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bundle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool any_name(const char *name)
{
	(void)name;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bundle_manifest m;
	struct mf_error err;
	if (bundle_manifest_parse((const char *)data, size, "fuzz", &m, &err) == MF_OK) {
		char *json = bundle_manifest_to_json(&m);
		free(json);
		bundle_manifest_free(&m);
	}
	char archive[] = "/tmp/mf-fuzz-bundle-XXXXXX";
	int fd = mkstemp(archive);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		unlink(archive);
		return 0;
	}
	close(fd);
	char dir[] = "/tmp/mf-fuzz-out-XXXXXX";
	if (mkdtemp(dir) != NULL) {
		struct tar_file *files = NULL;
		size_t n = 0;
		if (tar_extract(archive, dir, any_name, &files, &n, &err) == MF_OK)
			tar_files_free(files, n);
		tar_remove_tree(dir);
		rmdir(dir);
	}
	unlink(archive);
	return 0;
}
