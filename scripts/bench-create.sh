#!/usr/bin/env bash
# Hashing throughput of `btfs create` against mktorrent (same thread count,
# same piece length) and sha1sum (one thread, the floor), side by side on one
# file, warm in the page cache so the CPU work is what is compared.
# Usage: scripts/bench-create.sh [SIZE_MiB=1024] [RUNS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
need_go
need_commands mktorrent:mktorrent sha1sum:coreutils /usr/bin/time:time

size_mib=${1:-1024}
runs=${2:-3}
threads=$(nproc)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

go build -o "$work/btfs" ./cmd/btfs
echo "making a ${size_mib} MiB file..." >&2
head -c "$((size_mib << 20))" /dev/urandom >"$work/data.bin"
cat "$work/data.bin" >/dev/null # warm the page cache

# best RUNS... CMD: the fastest of RUNS wall-clock times, in seconds.
best() {
	local b="" t
	for _ in $(seq "$runs"); do
		rm -f "$work/out.torrent"
		/usr/bin/time -f %e -o "$work/time" "$@" >/dev/null 2>&1
		t=$(tail -1 "$work/time")
		b=$(awk -v a="$b" -v t="$t" 'BEGIN { print (a == "" || t < a) ? t : a }')
	done
	echo "$b"
}

t_btfs=$(best "$work/btfs" create --threads "$threads" -l 1MiB --no-date -o "$work/out.torrent" "$work/data.bin")
t_mk=$(best mktorrent -t "$threads" -l 20 -d -a http://127.0.0.1/announce -o "$work/out.torrent" "$work/data.bin")
t_sha=$(best sha1sum "$work/data.bin")

rate() { awk -v s="$size_mib" -v t="$1" 'BEGIN { printf "%.0f", (t > 0) ? s / t : 0 }'; }
printf "%-30s %8s %10s\n" "hashing ${size_mib} MiB, ${threads} threads" "seconds" "MiB/s"
printf "%-30s %8s %10s\n" "btfs create" "$t_btfs" "$(rate "$t_btfs")"
printf "%-30s %8s %10s\n" "mktorrent" "$t_mk" "$(rate "$t_mk")"
printf "%-30s %8s %10s\n" "sha1sum (1 thread)" "$t_sha" "$(rate "$t_sha")"
awk -v a="$t_mk" -v b="$t_btfs" 'BEGIN { printf "btfs / mktorrent throughput: %.2fx\n", (b > 0) ? a / b : 0 }'
