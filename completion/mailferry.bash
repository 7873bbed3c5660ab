# SPDX-License-Identifier: MIT
# bash completion for mailferry(1): commands, each command's options (the
# getopt tables of cli/cli_migrate.c, cli/cli_status.c, cli/cli_plugins.c,
# cli/cli_bundle.c), URI schemes, and file names where a value is a file.
# Works with or without the bash-completion package loaded.

# The word being completed as the user typed it: bash splits at ':'
# (COMP_WORDBREAKS), which would cut "maildir:/srv" in two.
_mailferry_current_word()
{
	local line=${COMP_LINE:0:COMP_POINT}
	printf '%s' "${line##*[[:space:]]}"
}

_mailferry_schemes='mbox: maildir: eml: imap:// imaps:// pop3:// pop3s:// ews:// graph:// alimail://'

_mailferry_migrate_opts='--state --json --dry-run --only-failed --max-bytes-per-second
--max-messages-per-second --connections-per-host --jobs --streams --append-lanes --connections-per-account --worker --lease --folder-policy
--include-folder --exclude-folder --plugin-dir --source-password-file
--sink-password-file --allow-uri-password --name --impersonate --insecure
--ca-file --timeout --set --retries --accounts --report --bundle --config
--oauth-client-id --oauth-tenant --oauth-authority --oauth-token-url
--oauth-client-secret-file --oauth-cert-file --oauth-key-file
--oauth-service-account-file --oauth-refresh-token-file --oauth-scope
--verbose --quiet --help'

# Sets COMPREPLY to the words of $1 that start with $2, then cuts the part
# up to the last ':' that bash already treats as a separate word.
_mailferry_reply()
{
	local IFS=$' \t\n' w
	COMPREPLY=()
	for w in $1; do
		[[ $w == "$2"* ]] && COMPREPLY+=("$w")
	done
	_mailferry_colon_trim "$2"
}

_mailferry_colon_trim()
{
	if [[ $1 == *:* && $COMP_WORDBREAKS == *:* ]]; then
		local prefix=${1%"${1##*:}"} i
		for i in "${!COMPREPLY[@]}"; do
			COMPREPLY[i]=${COMPREPLY[i]#"$prefix"}
		done
	fi
}

# File (or, with -d, directory) names completing $2; $1 is text typed
# before the path that is not part of it (a scheme such as "maildir:").
_mailferry_files()
{
	local kind=-f
	if [[ $1 == -d ]]; then kind=-d; shift; fi
	local IFS=$'\n' lead=$1 path=$2 f
	COMPREPLY=()
	for f in $(compgen $kind -- "$path"); do
		[[ -d $f && $f != */ ]] && f+=/
		COMPREPLY+=("$lead$f")
	done
	_mailferry_colon_trim "$lead$path"
	compopt -o nospace 2>/dev/null || true
}

# The value of an option that takes one: $1 the option, $2 the word so far.
# Returns 1 when $1 takes no value.
_mailferry_value()
{
	case $1 in
	--state | --accounts | --config | --bundle | --ca-file | --plugin | \
	--source-password-file | --sink-password-file | --oauth-*-file)
		_mailferry_files "" "$2" ;;
	--plugin-dir | --report)
		_mailferry_files -d "" "$2" ;;
	--folder-policy)
		_mailferry_reply 'original inbox folder:' "$2"
		[[ ${COMPREPLY[0]-} == *: ]] && compopt -o nospace 2>/dev/null
		;;
	--max-bytes-per-second | --max-messages-per-second | --connections-per-host | \
	--jobs | --streams | --append-lanes | --connections-per-account | --worker | --lease | --retries | --timeout | --rate | --name | --impersonate | --set | --oauth-* | \
	--include-folder | --exclude-folder)
		COMPREPLY=() ;;
	*) return 1 ;;
	esac
	return 0
}

_mailferry()
{
	local cur prev cmd sub="" i w
	cur=$(_mailferry_current_word)
	COMPREPLY=()
	# The word before the current one, joined across ':' like cur.
	local before=${COMP_LINE:0:COMP_POINT}
	before=${before%"$cur"}
	before=${before%"${before##*[![:space:]]}"}
	prev=${before##*[[:space:]]}

	cmd=""
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		if [[ -z $cmd && $w != -* ]]; then
			cmd=$w
		elif [[ $cmd == bundle && -z $sub && $w != -* ]]; then
			sub=$w
		fi
	done

	if [[ -z $cmd ]]; then
		_mailferry_reply 'migrate verify preflight status enable disable serve plugins bundle help version --help --version' "$cur"
		return 0
	fi
	if [[ $prev == --* && $cur != -* ]] && _mailferry_value "$prev" "$cur"; then
		return 0
	fi
	local opts=""
	case $cmd in
	migrate | verify) opts=$_mailferry_migrate_opts ;;
	preflight) opts='--accounts --json --csv --jobs --timeout --rate --state
--folder-policy --include-folder --exclude-folder --plugin-dir --source-password-file
--sink-password-file --allow-uri-password --name --impersonate --insecure --ca-file --set
--oauth-client-id --oauth-tenant --oauth-authority --oauth-token-url
--oauth-client-secret-file --oauth-cert-file --oauth-key-file
--oauth-service-account-file --oauth-refresh-token-file --oauth-scope
--verbose --quiet --help' ;;
	status) opts='--state --json --csv --workers' ;;
	enable | disable) opts='--state' ;;
	serve) opts='--state --listen --token-file --read-only --reports --verbose' ;;
	plugins) opts='--plugin-dir --bundle --json' ;;
	bundle)
		case $sub in
		"") _mailferry_reply 'create inspect' "$cur"; return 0 ;;
		create) opts='--plugin --config --name' ;;
		inspect) opts='--json' ;;
		esac
		;;
	*) return 0 ;;
	esac
	if [[ $cur == -* ]]; then
		_mailferry_reply "$opts" "$cur"
		return 0
	fi
	case $cmd in
	migrate | verify | preflight)
		case $cur in
		mbox:* | maildir:* | eml:*)
			_mailferry_files "${cur%%:*}:" "${cur#*:}" ;;
		*://*) ;; # user@host: nothing to offer
		*)
			_mailferry_reply "$_mailferry_schemes" "$cur"
			compopt -o nospace 2>/dev/null || true
			;;
		esac
		;;
	bundle) _mailferry_files "" "$cur" ;;
	esac
	return 0
}

complete -F _mailferry mailferry
