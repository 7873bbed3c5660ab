#!/bin/sh
# SPDX-License-Identifier: MIT
# The docs stay true to the code where a machine can tell: the ABI
# version docs/plugin-abi.md states is the header's, and every file path
# the docs and READMEs name exists.
set -eu
cd "${top_srcdir:?}"
bad=0
major=$(sed -n 's/^#define MF_ABI_MAJOR \([0-9]*\)$/\1/p' include/mailferry/plugin.h)
minor=$(sed -n 's/^#define MF_ABI_MINOR \([0-9]*\)$/\1/p' include/mailferry/plugin.h)
if ! grep -q "Current version: \*\*ABI $major\.$minor\*\* (\`MF_ABI_MAJOR $major\`, \`MF_ABI_MINOR $minor\`)" \
	docs/plugin-abi.md; then
	echo "docs/plugin-abi.md does not state the header's ABI $major.$minor" >&2
	bad=1
fi
for f in $(grep -rhoE '(docs|core|cli|lib|plugins|sinks|bundle|tests|include|examples|bench|tools)/[A-Za-z0-9_./-]+\.(md|c|h|sh|py|am)' \
	docs/*.md README.md ./*/README.md plugins/*/README.md sinks/*/README.md 2>/dev/null | sort -u); do
	if [ ! -e "$f" ]; then
		echo "a document names $f, which does not exist" >&2
		bad=1
	fi
done
[ $bad = 0 ] && echo "docs: ABI $major.$minor stated, every named file exists"
exit $bad
