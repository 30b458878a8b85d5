# Shell helpers shared by scripts/bench.sh and scripts/bench-read.sh (sourced;
# the caller defines die).

# to_bytes SIZE: 64MiB, 1G, 262144 ... in bytes (binary units).
to_bytes() {
	local v=$1 n u m
	n=${v%%[!0-9]*}
	u=${v#"$n"}
	[ -n "$n" ] || die "bad size: $v"
	case ${u^^} in
	"" | B) m=1 ;;
	K | KB | KIB) m=1024 ;;
	M | MB | MIB) m=1048576 ;;
	G | GB | GIB) m=1073741824 ;;
	*) die "bad size unit in $v (use B, KiB, MiB or GiB)" ;;
	esac
	echo $((n * m))
}
# human BYTES: 1 GiB, 256 MiB, 64 KiB.
human() {
	awk -v b="$1" 'BEGIN { if (b >= 1073741824 && b % 1073741824 == 0) printf "%d GiB", b / 1073741824;
		else if (b >= 1048576) printf (b % 1048576 ? "%.1f MiB" : "%d MiB"), b / 1048576;
		else if (b >= 1024) printf (b % 1024 ? "%.1f KiB" : "%d KiB"), b / 1024; else printf "%d B", b }'
}

# session_pid CACHE_DIR: the pid of the hidden `btfs session` that serves the
# mounts of CACHE_DIR (`btfs mount` is a thin client of it: the FUSE server
# and the engine, so the memory and CPU, are in the session). Empty if none.
session_pid() {
	pgrep -f -- "session --cache-dir $1( |\$)" | head -1
}
