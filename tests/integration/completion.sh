#!/bin/sh
# SPDX-License-Identifier: MIT
# The bash completion (completion/mailferry.bash), sourced into a real bash
# and driven the way readline drives it (COMP_LINE, COMP_POINT, COMP_WORDS
# split at COMP_WORDBREAKS, COMP_CWORD): commands, per-command options,
# URI schemes, paths after a local scheme.  Then every option it offers is
# one the command accepts, and together they are exactly the options of
# "mailferry --help", so a new option fails here until it is added.
. "$(dirname "$0")/lib.sh"
command -v bash > /dev/null || fail "bash is needed"
mkdir -p "$T/work/Maildir-alice" "$T/work/Maildir-bob"
cd "$T/work"

# comp LINE: prints the completions of LINE (cursor at its end), one a line.
cat > "$T/drive.bash" <<'EOF'
. "$1"
comp() {
	COMP_LINE=$1
	COMP_POINT=${#COMP_LINE}
	# readline's split: blanks separate words, each ':' is a word itself.
	local spaced=${COMP_LINE//:/ : }
	read -ra COMP_WORDS <<< "$spaced"
	[[ $COMP_LINE == *[[:space:]] ]] && COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	_mailferry mailferry "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
	printf '%s\n' "${COMPREPLY[@]}"
}
shift
comp "$*"
EOF
comp() { bash "$T/drive.bash" "$top_srcdir/completion/mailferry.bash" "$1" | sort; }
expect() { # expect LINE WORD...: the completions of LINE are exactly WORD...
	line=$1; shift
	got=$(comp "$line" | tr '\n' ' ')
	want=$(printf '%s\n' "$@" | sort | tr '\n' ' ')
	[ "$got" = "$want" ] || fail "completing '$line': expected '$want', got '$got'"
	echo "   '$line' -> $got"
}

echo "== commands, options, schemes, paths"
expect "mailferry mi" migrate
expect "mailferry migrate --sta" --state
expect "mailferry ve" verify version
expect "mailferry migrate --oauth-c" --oauth-client-id --oauth-client-secret-file --oauth-cert-file
expect "mailferry status --" --state --json --csv --workers
expect "mailferry preflight --ra" --rate
expect "mailferry enable --" --state
expect "mailferry bundle " create inspect
expect "mailferry bundle inspect --" --json
expect "mailferry migrate ima" imap:// imaps://
expect "mailferry migrate --jobs 4 alim" alimail://
expect "mailferry verify mbox:/x p" pop3:// pop3s://
# After a local scheme, paths; bash already holds "maildir:" as words of
# their own, so the reply is the part after the colon.
expect "mailferry migrate maildir:Maildir-a" Maildir-alice/
expect "mailferry migrate --folder-policy fo" folder:
expect "mailferry migrate --state Maildir-b" Maildir-bob/

echo "== every option offered is accepted by its command"
offered_all="$T/offered"
: > "$offered_all"
for cmd in migrate verify preflight status enable disable serve plugins "bundle create" "bundle inspect"; do
	comp "mailferry $cmd --" > "$T/offered.cmd"
	[ -s "$T/offered.cmd" ] || fail "no options offered for '$cmd'"
	while read -r opt; do
		# shellcheck disable=SC2086 # "bundle create" is two words
		# A value after it, for options that take one ("x": a file that
		# does not exist, so nothing runs).
		if mf $cmd "$opt" x < /dev/null 2>&1 | grep -q "unrecognized option"; then
			fail "completion offers $opt for '$cmd', which it does not accept"
		fi
	done < "$T/offered.cmd"
	cat "$T/offered.cmd" >> "$offered_all"
	echo "   $cmd: $(wc -l < "$T/offered.cmd") options, all accepted"
done
comp "mailferry --" >> "$offered_all"
sort -u -o "$offered_all" "$offered_all"

echo "== together they are the options of --help"
mf --help > "$T/help.txt"
grep -oE -- '--[a-z][a-z0-9]*(-[a-z0-9]+)*' "$T/help.txt" | sort -u > "$T/help.opts"
m=$(comm -23 "$T/help.opts" "$offered_all" | tr '\n' ' ')
[ -z "$m" ] || fail "options in --help that the completion never offers: $m"
m=$(comm -13 "$T/help.opts" "$offered_all" | tr '\n' ' ')
[ -z "$m" ] || fail "options the completion offers that --help does not list: $m"
# migrate's own list is --help's "migrate options" plus the two named
# with the commands.
sed -n '/^migrate options:/,/^Exit status/p' "$T/help.txt" |
	grep -oE -- '--[a-z][a-z0-9]*(-[a-z0-9]+)*' > "$T/migrate.want"
printf '%s\n' --accounts --report --help >> "$T/migrate.want"
sort -u -o "$T/migrate.want" "$T/migrate.want"
comp "mailferry migrate --" > "$T/migrate.got"
assert_eq "$(cat "$T/migrate.got")" "$(cat "$T/migrate.want")" "migrate options offered"
echo "   $(wc -l < "$offered_all") options in all, the same as --help"
