# SPDX-License-Identifier: MIT
# When the benchmark's link stood idle, from a delay_proxy TRACE file
# ("SECONDS BYTES" per upstream chunk as it starts on the link).
#   awk -v mbit=100 -f bench/link_idle.awk TRACE
# Prints: seconds from the first byte to the first message-sized chunk
# (connect, greeting, login, LIST: the start-up), idle seconds after it
# while mail was moving, and idle seconds in the last 10% of the bytes
# (the tail: the last folders' answers, logouts).
{ t[NR] = $1; n[NR] = $2; total += $2 }
END {
	if (NR == 0) { print "- - -"; exit }
	rate = mbit * 1e6 / 8
	first_big = 0
	for (i = 1; i <= NR; i++) if (n[i] >= 4096) { first_big = t[i]; break }
	busy_until = 0; sent = 0; idle = 0; tail = 0
	for (i = 1; i <= NR; i++) {
		if (t[i] >= first_big && t[i] > busy_until && busy_until > 0) {
			gap = t[i] - busy_until
			if (sent >= 0.9 * total) tail += gap; else idle += gap
		}
		end = t[i] + n[i] / rate
		if (end > busy_until) busy_until = end
		sent += n[i]
	}
	printf "%.2f %.2f %.2f\n", first_big - t[1], idle, tail
}
