#!/bin/sh
# SPDX-License-Identifier: MIT
# "make fuzz-long" (outside CI, which runs each target 15 s): every
# libFuzzer target for FUZZ_SECONDS (default 600) on a copy of its corpus,
# FUZZ_JOBS targets at a time (default: the number of cores).  Crashes,
# leaks and timeouts land in fuzz-long/TARGET/ (crash-*, leak-*,
# timeout-*) with the target's log; a table at the end gives runs, new
# corpus entries and findings per target.  Exit status 1 if anything was
# found: fix it, then copy the input into tests/fuzz/corpus/NAME/.
# usage: fuzz-long.sh SRCDIR TARGET...
set -eu
srcdir=$1
shift
seconds=${FUZZ_SECONDS:-600}
jobs=${FUZZ_JOBS:-$(nproc)}
out=fuzz-long
rm -rf "$out"
mkdir -p "$out"

run_one() {
	name=$(basename "$1")
	dir="$out/$name"
	corpus="$srcdir/corpus/${name#fuzz_}"
	[ -d "$corpus" ] || corpus="$srcdir/corpus/$name"
	mkdir -p "$dir/work"
	# -timeout: one input over 10 s is a finding (a hang), not a wait.
	"./$name" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
		-artifact_prefix="$dir/" -print_final_stats=1 "$dir/work" "$corpus" \
		>"$dir/log" 2>&1 || true
}

echo "fuzzing $# targets for $seconds s each, $jobs at a time"
running=0
for t in "$@"; do
	run_one "$t" &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait
		running=0
	fi
done
wait

found=0
printf '%-22s %12s %8s %9s\n' target runs "new" findings
for t in "$@"; do
	name=$(basename "$t")
	dir="$out/$name"
	runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$dir/log" | grep -o '[0-9]*$' || echo "?")
	new=$(find "$dir/work" -type f | wc -l)
	hits=$(find "$dir" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' \
		-o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
	printf '%-22s %12s %8s %9s\n' "$name" "$runs" "$new" "$hits"
	if [ "$hits" -gt 0 ]; then
		found=1
		grep -m 3 -E 'ERROR|SUMMARY' "$dir/log" | sed 's/^/    /'
	fi
done
exit $found
