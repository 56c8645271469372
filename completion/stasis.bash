# bash completion for stasis(1): commands, options, the ports of the
# coordinators running for this user (their token files in the run directory),
# image files. The commands and options are read from `stasis --help` and
# `stasis COMMAND --help`, so that they always match the stasis being run.

# Ports of the coordinators running for this user: a token file in the run
# directory, and a TCP socket listening on that port (a coordinator killed
# with SIGKILL leaves its token file behind).
_stasis_ports()
{
	local dir=${STASIS_RUN_DIR:-}
	[[ -n $dir ]] || dir=${XDG_RUNTIME_DIR:+$XDG_RUNTIME_DIR/stasis}
	[[ -n $dir ]] || dir=/tmp/stasis-$UID
	local f port hex listening=" "
	for hex in $(awk '$4 == "0A" { split($2, a, ":"); print a[2] }' /proc/net/tcp \
		/proc/net/tcp6 2>/dev/null); do
		listening+="$((16#$hex)) "
	done
	for f in "$dir"/coord-*.token; do
		[[ -f $f ]] || continue
		port=${f##*/coord-}
		port=${port%.token}
		[[ $port =~ ^[0-9]+$ && $listening == *" $port "* ]] && printf '%s\n' "$port"
	done
}

# The options `stasis CMD --help` shows (CMD empty: the top level).
_stasis_options()
{
	"$1" ${2:+"$2"} --help 2>/dev/null |
		grep -oE -- '(^|[][ ,|(])--?[a-z]([a-z-]*[a-z])?' | grep -oE -- '--?[a-z-]+' | sort -u
}

# Image files, and directories to look for them in.
_stasis_images()
{
	local IFS=$'\n'
	COMPREPLY=($(compgen -d -- "$1") $(compgen -f -X '!*.stasis' -- "$1"))
	compopt -o filenames 2>/dev/null
}

_stasis()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local stasis=${COMP_WORDS[0]} cmd="" i nargs=0 IFS=$'\n'
	COMPREPLY=()
	if ((COMP_CWORD == 1)); then
		local cmds
		cmds=$("$stasis" --help 2>/dev/null | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p')
		COMPREPLY=($(compgen -W "$cmds"$'\n'"--help"$'\n'"--version" -- "$cur"))
		return
	fi
	cmd=${COMP_WORDS[1]}
	case $prev in
	-p | --port)
		COMPREPLY=($(compgen -W "$(_stasis_ports)" -- "$cur"))
		return
		;;
	--ckpt-dir | --dir)
		COMPREPLY=($(compgen -d -- "$cur"))
		compopt -o filenames 2>/dev/null
		return
		;;
	--port-file | --log-file)
		COMPREPLY=($(compgen -f -- "$cur"))
		compopt -o filenames 2>/dev/null
		return
		;;
	-i | --interval | --bind)
		return
		;;
	esac
	# words after the command that are not options or their values
	for ((i = 2; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-p | --port | --ckpt-dir | --dir | -i | --interval | --bind | --port-file | --log-file) ((i++)) ;;
		-*) ;;
		*) ((nargs++)) ;;
		esac
		if [[ $cmd == launch ]] && ((nargs)); then # the program and its arguments
			if declare -F _command_offset >/dev/null; then
				_command_offset "$i"
			else
				COMPREPLY=($(compgen -f -- "$cur"))
				compopt -o filenames 2>/dev/null
			fi
			return
		fi
	done
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$(_stasis_options "$stasis" "$cmd")" -- "$cur"))
		return
	fi
	case $cmd in
	launch)
		COMPREPLY=($(compgen -c -- "$cur"))
		;;
	inspect)
		if [[ $'\n'"${COMP_WORDS[*]:2:COMP_CWORD-2}"$'\n' == *$'\n--dir\n'* ]]; then # a view
			COMPREPLY=($(compgen -W $'ps\nthreads\nfds\nmem\nipc\nall' -- "$cur"))
		else
			_stasis_images "$cur"
		fi
		;;
	restart)
		_stasis_images "$cur"
		;;
	merge)
		if ((nargs == 0)); then
			_stasis_images "$cur"
		else
			COMPREPLY=($(compgen -f -- "$cur"))
			compopt -o filenames 2>/dev/null
		fi
		;;
	esac
}

complete -F _stasis stasis
