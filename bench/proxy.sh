# SPDX-License-Identifier: MIT
# shellcheck shell=sh disable=SC2154 # T, here, MF_TEST_TIMEOUT: the sourcing script's
# The benchmarks' WAN link (bench/delay_proxy.c).  Source it after
# tests/integration/lib.sh, with $here set to bench/.  Builds the proxy
# into $T once and defines
#   proxy TARGET_PORT DELAY_MS MBIT [TRACE]
# a delay proxy in front of TARGET_PORT on loopback, stopped at exit (and
# by itself after MF_TEST_TIMEOUT), tracing into TRACE if given; sets
# PROXY_PORT and PROXY_PID.  Call it as is, not in $(...): the proxy would
# hold the substitution's pipe open, and its exit hook be lost.
cc -O2 -o "$T/delay_proxy" "$here/delay_proxy.c"
proxy() {
	PROXY_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	"$T/delay_proxy" "$PROXY_PORT" "$1" "$2" "$3" "$MF_TEST_TIMEOUT" ${4:+"$4"} >/dev/null 2>&1 &
	PROXY_PID=$!
	mf_on_exit "kill $PROXY_PID 2>/dev/null || true"
	sleep 0.2
}
