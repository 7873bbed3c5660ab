#!/bin/sh
# SPDX-License-Identifier: MIT
# The fake Graph and token service answers as its README says (curl
# against every endpoint: tokens, paging, delta, $value, $batch, 429,
# expiry, introspection): the Graph tests are only as good as it.
command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 missing"; exit 77; }
command -v curl >/dev/null 2>&1 || { echo "SKIP: curl missing"; exit 77; }
exec sh "${top_srcdir:?}/tests/fake/graph/selftest.sh"
