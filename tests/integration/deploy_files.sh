#!/bin/sh
# SPDX-License-Identifier: MIT
# The deployment files (deploy/Containerfile, deploy/compose.yaml,
# deploy/kubernetes/, docs/distributed.md) stay true to the program and
# to Debian 12, without network: every YAML document parses; the
# manifests agree with each other (every ConfigMap/Secret key referred to
# exists, every file the Job's arguments and the accounts CSV name is
# mounted, every {column} of a template is in the CSV, no password in argv
# or in the state URL, the worker name is the pod's); every mailferry
# command, option and MAILFERRY_ variable used is one "mailferry --help"
# and mailferry(1) know (so the manifests cannot drift from the CLI); every
# runtime package of the image's final stage is in the archive and none of
# them, nor their dependencies, is a compiler; and every library the built
# binary and plugins need (readelf -d, mapped by dpkg -S) comes from those
# packages or from every Debian base.  The checks are in deploy_files.py.
. "$(dirname "$0")/lib.sh"

# Exit 77 (skipped) only without python3; its yaml module is required.
PY=
for p in python3 /usr/bin/python3; do
	if command -v "$p" > /dev/null && "$p" -c 'import yaml' 2> /dev/null; then
		PY=$p
		break
	fi
done
if [ -z "$PY" ]; then
	command -v python3 > /dev/null || command -v /usr/bin/python3 > /dev/null ||
		{ echo "SKIP: python3 not installed"; exit 77; }
	fail "python3 has no yaml module: install python3-yaml (tools/install-deps.sh)"
fi
for tool in readelf ldd dpkg; do
	command -v "$tool" > /dev/null || fail "$tool not found"
done

mf --help > "$T/help.txt" 2>&1 || true
grep -q '^Commands:' "$T/help.txt" || fail "mailferry --help printed no command list"
"$PY" "$top_srcdir/tests/integration/deploy_files.py" "$top_srcdir" "$top_builddir" "$T/help.txt"

# kustomize renders the manifests (offline) where kubectl is installed.
echo "== kubectl kustomize deploy/kubernetes"
if command -v kubectl > /dev/null; then
	kubectl kustomize "$top_srcdir/deploy/kubernetes" > "$T/rendered.yaml" 2> "$T/kustomize.err" ||
		fail "kubectl kustomize: $(cat "$T/kustomize.err")"
	kinds=$(sed -n 's/^kind: //p' "$T/rendered.yaml" | sort | tr '\n' ' ')
	assert_eq "$kinds" "ConfigMap Deployment Job Service " "kinds kustomize renders"
	grep -q '^ *image: registry.example.com/mailferry:' "$T/rendered.yaml" ||
		fail "kustomize did not set the image from kustomization.yaml's images:"
	echo "   renders: $kinds"
else
	echo "   SKIP: kubectl not installed"
fi
