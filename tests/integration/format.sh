#!/bin/sh
# SPDX-License-Identifier: MIT
# Every C file keeps the tree's one style (.clang-format at the top, applied
# once to the whole tree): a change that drifts from it fails here, and
# `make format` puts it right.  Skipped only where clang-format is absent
# (tools/install-deps.sh installs it, so CI always runs it).
set -eu
cd "${top_srcdir:?}"
command -v clang-format >/dev/null 2>&1 || { echo "format: no clang-format"; exit 77; }
[ -f .clang-format ] || { echo "format: .clang-format missing" >&2; exit 1; }
files=$(find lib core cli bundle plugins sinks include tests bench examples -name '*.[ch]' | sort)
[ -n "$files" ] || { echo "format: no C files found" >&2; exit 1; }
bad=0
for f in $files; do
	if ! clang-format --style=file "$f" | cmp -s "$f" -; then
		echo "format: $f differs from .clang-format (run: make format)" >&2
		clang-format --style=file "$f" | diff -u "$f" - | head -20 >&2 || true
		bad=1
	fi
done
n=$(printf '%s\n' "$files" | wc -l)
[ $bad = 0 ] && echo "format: $n files match .clang-format"
exit $bad
