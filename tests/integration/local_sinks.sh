#!/bin/sh
# SPDX-License-Identifier: MIT
# The local sink through the real CLI: a Maildir++ source tree (nested and
# non-ASCII folders, flags, CRLF, NUL bytes, "From " lines, a message
# without final newline) is migrated to maildir: and to mbox:, contents are
# compared by SHA-256, mbox is read back through the mbox source, and a
# second run of each copies nothing and changes no byte in the target.
. "$(dirname "$0")/lib.sh"

SRC="$T/src"
mkmd() { mkdir -p "$1/cur" "$1/new" "$1/tmp"; }
mkmd "$SRC"
mkmd "$SRC/.Work"
mkmd "$SRC/.Work.Projects"
mkmd "$SRC/.Sent"
mkmd "$SRC/.Entwürfe"
touch "$SRC/.Work/maildirfolder" "$SRC/.Work.Projects/maildirfolder" \
	"$SRC/.Sent/maildirfolder" "$SRC/.Entwürfe/maildirfolder"

n=0
msg() { # msg DIR FLAGS PRINTF-FORMAT
	n=$((n + 1))
	if [ -n "$2" ]; then f="$1/cur/142010600$n.M${n}P1.src:2,$2"; else f="$1/new/142010600$n.M${n}P1.src"; fi
	# shellcheck disable=SC2059
	printf "$3" > "$f"
}
msg "$SRC" S 'From: a@example.org\nSubject: escape me\n\nFrom here\n>From there\n>>From everywhere\n'
msg "$SRC" "" 'Subject: crlf\r\n\r\nbody\r\nFrom x\r\n'
msg "$SRC" FRS 'Subject: nul\n\nbin\000ary\000\n'
msg "$SRC/.Work" S 'Subject: work\n\nwork\n'
msg "$SRC/.Work.Projects" DT 'Subject: nested\n\nnested\n'
msg "$SRC/.Sent" S 'Subject: sent\n\nsent\n'
msg "$SRC/.Entwürfe" D 'Subject: draft\n\nno final newline'
msg "$SRC" Sab 'Subject: tagged\n\nkeywords\n'
printf '0 Important\n1 $Label2\n' > "$SRC/dovecot-keywords"
total=$n
# Internal dates come from the source files' mtimes.
for f in $(find "$SRC" -type f -name '1420106*'); do
	touch -d "@$(basename "$f" | cut -c1-10)" "$f"
done

# Summary counts of a --json run: "copied failed".
counts() {
	grep '"event":"summary"' "$1" | sed 's/.*"copied":\([0-9]*\).*"failed":\([0-9]*\).*/\1 \2/'
}
tree_sum() { (cd "$1" && find . -type f -exec sha256sum {} + | sort -k2); }

# --- maildir -> maildir ------------------------------------------------
DST="$T/dst"
mf migrate "maildir:$SRC" "maildir:$DST" --state "$T/md.db" --json > "$T/md1.json" \
	|| fail "maildir migration failed: $(cat "$T/md1.json")"
assert_eq "$(counts "$T/md1.json")" "$total 0" "first maildir run"
assert_eq "$(maildir_digests "$DST")" "$(maildir_digests "$SRC")" "maildir contents"
for d in .Work .Work.Projects .Sent .Entwürfe; do
	[ -d "$DST/$d/cur" ] || fail "folder $d missing in target"
	[ -f "$DST/$d/maildirfolder" ] || fail "maildirfolder marker missing in $d"
done
assert_eq "$(maildir_count "$DST/.Work.Projects")" 1 "nested folder count"
# Flags travel in the info suffix; names carry hash and size.
ls "$DST/cur" | grep -q ':2,FRS$' || fail "flags FRS not kept: $(ls "$DST/cur")"
ls "$DST/.Work.Projects/cur" | grep -q ':2,DT$' || fail "flags DT not kept"
for f in "$DST"/cur/*; do
	b=$(basename "$f")
	h=$(sha256sum "$f" | cut -c1-16)
	s=$(wc -c < "$f" | tr -d ' ')
	case "$b" in *"_mf$h."*",S=$s:2,"*) ;; *) fail "bad file name $b (hash $h size $s)";; esac
done
[ "$(find "$DST" -type f \( -path "$DST/tmp/*" -o -path "$DST/.*/tmp/*" \) | wc -l)" -eq 0 ] \
	|| fail "files left in tmp/"
# mtime = internal date, and the name starts with it.
for f in $(find "$DST" -path '*/cur/*' -type f); do
	b=$(basename "$f")
	assert_eq "$(stat -c %Y "$f")" "$(echo "$b" | cut -d. -f1)" "mtime of $b"
	case "$b" in 1420106*) ;; *) fail "internal date lost: $b";; esac
done
# Keywords: letters renumbered through the target's own dovecot-keywords.
grep -qx '[0-9] Important' "$DST/dovecot-keywords" || fail "keyword Important missing"
grep -qx '[0-9] \$Label2' "$DST/dovecot-keywords" || fail "keyword \$Label2 missing"
assert_eq "$(ls "$DST/cur" | grep -c ':2,Sab$')" 1 "keyword letters"

# Dovecot reads the result (Maildir++ with UTF-8 names).  doveadm runs
# the mail storage code directly, no server; it refuses root, so as root
# it reads a copy owned by nobody.
if command -v doveadm > /dev/null 2>&1; then
	DV="$T/dovecot"
	mkdir -p "$DV/run" "$DV/state"
	cp -a "$DST" "$DV/mail"
	uidline=""
	if [ "$(id -u)" = 0 ]; then
		chown -R 65534:65534 "$DV/mail"
		chmod 755 "$T" "$DV"
		uidline="mail_uid = 65534
mail_gid = 65534"
	fi
	cat > "$DV/dovecot.conf" <<-EOF
	protocols =
	ssl = no
	log_path = $DV/log
	base_dir = $DV/run
	state_dir = $DV/state
	mail_location = maildir:$DV/mail:UTF-8
	$uidline
	EOF
	dv() { USER=mftest HOME="$DV/mail" doveadm -c "$DV/dovecot.conf" "$@"; }
	boxes=$(dv mailbox list | sort | tr '\n' ' ') || fail "doveadm: $(cat "$DV/log")"
	assert_eq "$boxes" "Entwürfe INBOX Sent Work Work.Projects " "Dovecot folders"
	assert_eq "$(dv search mailbox '*' ALL | wc -l)" "$total" "Dovecot message count"
	assert_eq "$(dv fetch hdr.subject mailbox INBOX KEYWORD '$Label2' | tr -d '\n')" \
		"hdr.subject: tagged" "Dovecot keyword search"
	# (Dovecot adds \Recent for mail it sees first.)
	case "$(dv fetch flags mailbox Work.Projects ALL)" in
	'flags: \Deleted \Draft'*) ;;
	*) fail "Dovecot flags: $(dv fetch flags mailbox Work.Projects ALL)";;
	esac
	assert_eq "$(dv fetch date.received.unixtime mailbox INBOX SUBJECT nul)" \
		"date.received.unixtime: 1420106003" "Dovecot received date"
else
	echo "doveadm not installed: Dovecot read-back skipped"
fi

before=$(tree_sum "$DST")
mf migrate "maildir:$SRC" "maildir:$DST" --state "$T/md.db" --json > "$T/md2.json" \
	|| fail "second maildir run failed"
assert_eq "$(counts "$T/md2.json")" "0 0" "second maildir run copies nothing"
assert_eq "$(tree_sum "$DST")" "$before" "second maildir run changed the target"

# --- maildir -> mbox ---------------------------------------------------
MB="$T/mb"
mf migrate "maildir:$SRC" "mbox:$MB" --state "$T/mb.db" --json > "$T/mb1.json" \
	|| fail "mbox migration failed: $(cat "$T/mb1.json")"
assert_eq "$(counts "$T/mb1.json")" "$total 0" "first mbox run"
for f in INBOX Work Work.sbd/Projects Sent Entwürfe; do
	[ -f "$MB/$f" ] || fail "mbox file $f missing: $(find "$MB")"
done
[ -d "$MB/Work.sbd" ] || fail "Work.sbd missing"
# mboxrd: body From lines got one more '>', nothing else changed.
grep -qx '>From here' "$MB/INBOX" || fail "From line not escaped"
grep -qx '>>From there' "$MB/INBOX" || fail ">From line not escaped"
grep -qx '>>>From everywhere' "$MB/INBOX" || fail ">>From line not escaped"
assert_eq "$(grep -c '^From ' "$MB/INBOX")" "$(maildir_count "$SRC")" "separators in INBOX"
grep -q "$(printf 'From x\r')" "$MB/INBOX" || fail "CRLF was converted"

before=$(tree_sum "$MB")
mf migrate "maildir:$SRC" "mbox:$MB" --state "$T/mb.db" --json > "$T/mb2.json" \
	|| fail "second mbox run failed"
assert_eq "$(counts "$T/mb2.json")" "0 0" "second mbox run copies nothing"
assert_eq "$(tree_sum "$MB")" "$before" "second mbox run changed the target"

# --- mbox -> maildir: the bytes come back -----------------------------
# The message without a final newline gained one (documented); compare
# against the source with that newline added.
EXP="$T/expected"
mkdir -p "$EXP"
i=0
find "$SRC" -path '*/cur/*' -type f -o -path '*/new/*' -type f | while read -r f; do
	i=$((i + 1))
	cp "$f" "$EXP/$i"
	[ "$(tail -c1 "$f" | od -An -c | tr -d ' ')" = '\n' ] || printf '\n' >> "$EXP/$i"
done
BACK="$T/back"
mf migrate "mbox:$MB" "maildir:$BACK" --state "$T/back.db" --json > "$T/back.json" \
	|| fail "mbox read-back failed: $(cat "$T/back.json")"
assert_eq "$(maildir_digests "$BACK")" \
	"$(find "$EXP" -type f | xargs sha256sum | cut -d' ' -f1 | sort)" \
	"mbox round trip contents"

# --- kill -9 mid-run into mbox:, resume: exactly the source ----------
# A torn append must be undone (journal) and nothing copied twice.
GEN="$top_srcdir/tests/tools/gen_mailbox.py"
if command -v python3 > /dev/null 2>&1 && [ -f "$GEN" ]; then
	python3 "$GEN" --format maildir --out "$T/gen" --messages 300 --seed 11 \
		--big-fraction 0.1 --manifest "$T/gen.txt" > /dev/null
	for attempt in 1 2 3; do
		"$MAILFERRY" migrate "maildir:$T/gen" "mbox:$T/kmb" --state "$T/k.db" -q \
			--max-messages-per-second 30 > /dev/null 2>&1 &
		pid=$!
		# Kill only once this run has appended something: a fixed sleep
		# misses the copy phase on a loaded machine (sanitizers, CI).
		grown=$(find "$T/kmb" -type f -size +0 2>/dev/null | xargs cat 2>/dev/null | wc -c)
		waited=0
		while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt 300 ]; do
			now=$(find "$T/kmb" -type f -size +0 2>/dev/null | xargs cat 2>/dev/null | wc -c)
			[ "$now" -gt "$grown" ] && break
			sleep 0.1
			waited=$((waited + 1))
		done
		sleep "0.$((attempt * 2))"
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	mf migrate "maildir:$T/gen" "mbox:$T/kmb" --state "$T/k.db" --json -q > "$T/k.json" \
		|| fail "resumed mbox run failed: $(cat "$T/k.json")"
	set -- $(counts "$T/k.json")
	[ "$1" -gt 0 ] && [ "$1" -lt 300 ] || fail "the killed runs were not interrupted (resume copied $1)"
	[ -z "$(find "$T/kmb" -name '.*.mailferry-journal')" ] || fail "journal left behind"
	mkdir -p "$T/kexp"
	i=0
	find "$T/gen" -path '*/cur/*' -type f -o -path '*/new/*' -type f | while read -r f; do
		i=$((i + 1))
		cp "$f" "$T/kexp/$i"
		[ "$(tail -c1 "$f" | od -An -c | tr -d ' ')" = '\n' ] || printf '\n' >> "$T/kexp/$i"
	done
	mf migrate "mbox:$T/kmb" "maildir:$T/kback" --state "$T/kback.db" -q \
		|| fail "reading the resumed mbox tree back failed"
	assert_eq "$(maildir_digests "$T/kback")" \
		"$(find "$T/kexp" -type f | xargs sha256sum | cut -d' ' -f1 | sort)" \
		"mbox target after kill -9 and resume (lost, torn or duplicated messages)"
	echo "kill -9 and resume into mbox: resume copied $1 of 300, result exact"
else
	echo "python3 or tests/tools/gen_mailbox.py missing: kill -9 case skipped"
fi

echo "local_sinks: $total messages, maildir and mbox targets OK"
