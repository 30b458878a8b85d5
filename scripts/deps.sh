# shellcheck shell=bash
# Helpers shared by the scripts: install Debian packages for the commands the
# tests and benchmarks use, only when a command is missing.

# need_commands CMD:PACKAGE... installs the package of every missing command.
# As root (CI, a fresh box) a failed install is fatal; otherwise the missing
# commands are listed and the tests that need them skip with a message.
need_commands() {
	local missing=() pkgs=() pair
	for pair in "$@"; do
		command -v "${pair%%:*}" >/dev/null 2>&1 || { missing+=("${pair%%:*}"); pkgs+=("${pair##*:}"); }
	done
	[ ${#pkgs[@]} -eq 0 ] && return 0
	local sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
			sudo=(sudo -n)
		else
			echo "missing: ${missing[*]} (install the Debian packages: ${pkgs[*]}); their tests will skip" >&2
			return 0
		fi
	fi
	echo "installing ${pkgs[*]} for ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	if ! "${sudo[@]}" apt-get install -y -q --no-install-recommends "${pkgs[@]}" >/dev/null; then
		"${sudo[@]}" apt-get update -q >/dev/null
		"${sudo[@]}" apt-get install -y -q --no-install-recommends "${pkgs[@]}" >/dev/null
	fi
	for pair in "$@"; do
		command -v "${pair%%:*}" >/dev/null 2>&1 || { echo "still missing after install: ${pair%%:*}" >&2; return 1; }
	done
}

# need_libtorrent installs Debian's python3-libtorrent (libtorrent 2.0 for
# /usr/bin/python3), which scripts/lt-peer.py runs for the transport interop
# tests, when /usr/bin/python3 cannot import it. Failures are handled as in
# need_commands.
need_libtorrent() {
	/usr/bin/python3 -c 'import libtorrent' >/dev/null 2>&1 && return 0
	local sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
			sudo=(sudo -n)
		else
			echo "missing: python3-libtorrent (install the Debian package); its tests will skip" >&2
			return 0
		fi
	fi
	echo "installing python3-libtorrent" >&2
	export DEBIAN_FRONTEND=noninteractive
	if ! "${sudo[@]}" apt-get install -y -q --no-install-recommends python3 python3-libtorrent >/dev/null; then
		"${sudo[@]}" apt-get update -q >/dev/null
		"${sudo[@]}" apt-get install -y -q --no-install-recommends python3 python3-libtorrent >/dev/null
	fi
	/usr/bin/python3 -c 'import libtorrent' || { echo "still missing after install: python3-libtorrent" >&2; return 1; }
}

# need_go makes the machine's Go visible to a non-login shell.
need_go() {
	if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
		export PATH="/usr/local/go/bin:$PATH"
	fi
	command -v go >/dev/null 2>&1 || { echo "Go is not installed (see README: Requirements)" >&2; return 1; }
}

# staticcheck_version is the staticcheck that test.sh runs beside go vet:
# pinned, so that a new release's checks never fail a build by surprise.
staticcheck_version=v0.8.2

# need_staticcheck installs staticcheck (once per version) into the
# project-local .tools/ through the Go module proxy, and sets STATICCHECK
# to its path.
need_staticcheck() {
	local dir="$PWD/.tools/staticcheck-$staticcheck_version"
	if [ ! -x "$dir/staticcheck" ]; then
		echo "installing staticcheck $staticcheck_version into ${dir#"$PWD"/}" >&2
		GOBIN="$dir" go install "honnef.co/go/tools/cmd/staticcheck@$staticcheck_version" ||
			{ echo "could not install staticcheck $staticcheck_version (needs the Go module proxy)" >&2; return 1; }
	fi
	STATICCHECK="$dir/staticcheck"
}

# free_port prints a loopback TCP port nobody listens on.
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 30000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
}
