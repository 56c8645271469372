#!/usr/bin/env bash
# Installs the Debian 12 packages Stasis needs to build and test, when run as
# root; otherwise names the missing ones and exits 1. Used by `make demo`,
# `make check` and CI (.ci/run): the one list of them.
set -euo pipefail

PACKAGES=(build-essential libzstd-dev libxxhash-dev libsodium-dev check pkg-config
	python3-pytest zstd
	tmux screen bsdutils util-linux sqlite3 perl dash redis-server redis-tools default-jdk-headless vim
	r-base-core octave nodejs emacs-nox xvfb xterm x11-utils slurm-wlm munge
	iproute2 openssh-server openssh-client
	openmpi-bin libopenmpi-dev mpich libmpich-dev clang libomp-dev
	man-db dpkg-dev debhelper lintian gdb strace)

is_installed() {
	local status
	status=$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) || return 1
	[[ $status == installed ]]
}

missing_packages() {
	local p
	for p in "${PACKAGES[@]}"; do
		is_installed "$p" || printf '%s\n' "$p"
	done
}

main() {
	if ! command -v dpkg-query >/dev/null; then
		echo "deps: not a Debian system; install by hand: ${PACKAGES[*]}" >&2
		exit 1
	fi
	local missing
	mapfile -t missing < <(missing_packages)
	if ((${#missing[@]} == 0)); then
		echo "deps: all needed Debian packages are installed"
		return 0
	fi
	if ((EUID != 0)); then
		echo "deps: missing Debian packages: ${missing[*]}" >&2
		echo "deps: install them with:" >&2
		echo "  sudo apt-get install -y ${missing[*]}" >&2
		exit 1
	fi
	echo "deps: installing ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
}

main "$@"
