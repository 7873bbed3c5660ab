#!/bin/sh
# SPDX-License-Identifier: MIT
# The rooms of docs/architecture.md hold: calls go down only.  Checked on
# the include lines (a file can only call what it includes), on the built
# objects (no two files of one library call each other, call_circles.py)
# and on the engine's output: nothing in core/ writes to the terminal.
set -eu
cd "${top_srcdir:?}"
bad=0
fail() { echo "layering: $*" >&2; bad=1; }

headers_of() { # DIR: the project headers that live in DIR
	for h in "$1"/*.h; do [ -e "$h" ] && basename "$h"; done
}
# includes_from FILES... : every "quoted.h" they include
includes_from() { cat "$@" 2>/dev/null | sed -n 's/^#include "\([^"]*\)".*/\1/p' | sort -u; }

forbid() { # ROOM LOWER-THAN ...: ROOM includes no header of the rooms named after it
	room=$1; shift
	inc=$(includes_from "$room"/*.c "$room"/*.h)
	for upper in "$@"; do
		for h in $(headers_of "$upper"); do
			# a name shared by two rooms (none today) would be ambiguous
			if printf '%s\n' "$inc" | grep -qx "$h"; then
				fail "$room/ includes $upper/$h: $room/ may not call up into $upper/"
			fi
		done
	done
}
forbid core cli bundle
forbid bundle cli
for d in lib lib/net lib/imapc plugins/* sinks/*; do
	[ -d "$d" ] && ls "$d"/*.c >/dev/null 2>&1 && forbid "$d" core cli bundle
done

# Front ends reach the engine through engine.h alone.
for h in $(includes_from cli/*.c cli/*.h bundle/*.c bundle/*.h); do
	[ -e "core/$h" ] || continue
	case $h in
	engine.h) ;;
	plugin_loader.h) grep -l "\"$h\"" cli/*.c cli/*.h >/dev/null 2>&1 &&
		fail "cli/ includes core/$h: use engine.h" ;; # bundle/ may: it load-checks plugins
	*) fail "a front end includes core/$h: use engine.h" ;;
	esac
done

# The engine prints nothing.
if grep -nE '\b(printf|puts|putchar|perror)\s*\(|\b(stdout|stderr|STDOUT_FILENO|STDERR_FILENO)\b' \
	core/*.c; then
	fail "core/ writes to the terminal (above): log through log_msg or report an event"
fi

# Inside each library, files call one way too.
if ! python3 "$top_srcdir/tests/integration/call_circles.py" "${top_builddir:?}"; then
	fail "files that call each other (above): pass a callback or move the shared part below both"
fi

[ $bad = 0 ] && echo "layering: rooms and call directions as in docs/architecture.md"
exit $bad
