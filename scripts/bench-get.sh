#!/usr/bin/env bash
# Download throughput of `btfs get` against aria2c, side by side in one
# loopback swarm: a tracker, N seeders of one torrent (1, then 4), and the
# two leechers run one after the other against the same seeders. Prints MB/s
# (10^6 bytes per second, wall clock from start to exit), the ratio
# btfs/aria2c, CPU seconds (user+sys) and peak RSS of each leecher.
#
# Usage: scripts/bench-get.sh [SIZE_MiB=1024] [SEEDER_COUNTS="1 4"]
# Environment:
#   SEEDER=aria2c|btfs      who seeds (default aria2c: a third party that is
#                           neither leecher under test, and the faster seeder
#                           here, so the leechers are what is measured)
#   TRACKER=opentracker|btfs  the tracker (default opentracker; btfs tracker
#                           when opentracker is not installed)
#   PIECE=BYTES             piece length (default: btfs create's choice, 1 MiB
#                           for 1 GiB)
#   BTFS=PATH               a btfs binary to measure (default: built from here)
# Everything listens on 127.0.0.1; DHT (btfs: --no-dht), LPD and PEX are off
# (btfs has no switch for PEX: it only names peers the tracker named already).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
need_go
need_commands aria2c:aria2 /usr/bin/time:time curl:curl

size_mib=${1:-1024}
counts=${2:-"1 4"}
seeder=${SEEDER:-aria2c}
tracker=${TRACKER:-}
if [ -z "$tracker" ]; then
	if command -v opentracker >/dev/null; then tracker=opentracker; else tracker=btfs; fi
fi

work=$(mktemp -d)
chmod 755 "$work" # opentracker, started as root, reads its whitelist as nobody
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

# wait_until SECONDS DESCRIPTION CMD...: polls CMD until it succeeds.
wait_until() {
	local limit=$1 what=$2 start=$SECONDS
	shift 2
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS - start > limit)); then
			echo "timed out waiting for $what" >&2
			exit 1
		fi
		sleep 0.2
	done
}

btfs=${BTFS:-}
if [ -z "$btfs" ]; then
	go build -o "$work/btfs" ./cmd/btfs
	btfs=$work/btfs
fi

echo "making ${size_mib} MiB of random content..." >&2
mkdir -p "$work/src"
head -c "$((size_mib << 20))" /dev/urandom >"$work/src/content.bin"
tport=$(free_port)
announce="http://127.0.0.1:$tport/announce"
piece_args=()
[ -n "${PIECE:-}" ] && piece_args=(-l "$PIECE")
"$btfs" create -t "$announce" "${piece_args[@]}" -o "$work/content.torrent" "$work/src/content.bin" >/dev/null 2>&1
hash=$("$btfs" info --json "$work/content.torrent" | sed -n 's/.*"info_hash": *"\([0-9a-f]*\)".*/\1/p')
pieces=$("$btfs" info --json "$work/content.torrent" | sed -n 's/.*"piece_length": *\([0-9]*\).*/\1/p')
bytes=$((size_mib << 20))
sync # the new content's writeback is not to run during the measurements

case $tracker in
opentracker)
	echo "$hash" >"$work/whitelist"
	chmod 644 "$work/whitelist"
	opentracker -i 127.0.0.1 -p "$tport" -d "$work" -w whitelist -u nobody >"$work/tracker.log" 2>&1 &
	;;
btfs)
	"$btfs" tracker --listen "127.0.0.1:$tport" --udp "" >"$work/tracker.log" 2>&1 &
	;;
*)
	echo "TRACKER must be opentracker or btfs" >&2
	exit 2
	;;
esac
pids+=($!)

# seeders_known N: the tracker counts at least N seeders of the torrent.
pct_hash=$(echo "$hash" | sed 's/../%&/g')
seeders_known() {
	local n
	n=$(curl -s "http://127.0.0.1:$tport/scrape?info_hash=$pct_hash" | grep -ao '8:completei[0-9]*e' | sed 's/8:completei//; s/e$//')
	[ "${n:-0}" -ge "$1" ]
}

aria2_common=(--enable-dht=false --enable-dht6=false --bt-enable-lpd=false --enable-peer-exchange=false
	--disable-ipv6=true --interface=127.0.0.1 --file-allocation=none --summary-interval=0
	--console-log-level=warn --enable-color=false --bt-tracker-connect-timeout=5 --bt-tracker-timeout=5)

# start_seeder: one more seeder of $work/src.
nseeders=0
start_seeder() {
	local port
	port=$(free_port)
	case $seeder in
	aria2c)
		aria2c "${aria2_common[@]}" --listen-port="$port" --dir="$work/src" --check-integrity=true \
			--seed-ratio=0.0 "$work/content.torrent" >"$work/seeder$nseeders.log" 2>&1 &
		;;
	btfs)
		"$btfs" seed --no-dht -d "$work/src" --listen 127.0.0.1 --port "$port" "$work/content.torrent" \
			>"$work/seeder$nseeders.log" 2>&1 &
		;;
	*)
		echo "SEEDER must be aria2c or btfs" >&2
		exit 2
		;;
	esac
	pids+=($!)
	nseeders=$((nseeders + 1))
}

# run_leecher NAME CMD...: runs one download to completion under
# /usr/bin/time -v and sets mbps, rss_mib and cpu.
run_leecher() {
	local name=$1 start end
	shift
	rm -rf "$work/dl"
	mkdir -p "$work/dl"
	start=$(date +%s.%N)
	if ! /usr/bin/time -v -o "$work/time.$name" "$@" >"$work/$name.log" 2>&1; then
		echo "$name failed:" >&2
		tail -20 "$work/$name.log" >&2
		exit 1
	fi
	end=$(date +%s.%N)
	cmp -s "$work/src/content.bin" "$work/dl/content.bin" || {
		echo "$name: downloaded data differs from the original" >&2
		exit 1
	}
	mbps=$(awk -v b="$bytes" -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", b / (e - s) / 1e6 }')
	rss_mib=$(awk '/Maximum resident set size/ { printf "%.0f", $NF / 1024 }' "$work/time.$name")
	cpu=$(awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.2f", s }' "$work/time.$name")
	# What the client itself reports: its average over the transfer, without
	# its start-up (aria2 spends about 3 s announcing and connecting, a
	# second per step of its event loop, and first tries an MSE handshake).
	reported=$(
		grep -ao '([0-9.]* [KMG]iB/s)' "$work/$name.log" | tail -1 | tr -d '()'
		awk -F'|' '$2 ~ /^OK/ { gsub(/ /, "", $3); print $3 }' "$work/$name.log"
	)
	rm -rf "$work/dl"
}

printf "%s MiB, piece %s bytes, seeders: %s, tracker: %s, %s cores\n" "$size_mib" "$pieces" "$seeder" "$tracker" "$(nproc)"
printf "%-8s %-10s %8s %10s %9s   %s\n" seeders leecher "MB/s" "CPU s" "RSS MiB" "(reported by the client)"
warm=1
for n in $counts; do
	while [ "$nseeders" -lt "$n" ]; do start_seeder; done
	wait_until 120 "$n seeders at the tracker" seeders_known "$n"
	if [ "$warm" = 1 ]; then
		# One unmeasured download first: the first pass of the seeders over
		# their data, and of the kernel over fresh page-cache memory, cost
		# the first leecher up to half as much CPU again as the next,
		# whoever it is; after it, the order of the two does not matter.
		lport=$(free_port)
		run_leecher warmup aria2c "${aria2_common[@]}" --listen-port="$lport" --dir="$work/dl" --seed-time=0 \
			--bt-stop-timeout=60 "$work/content.torrent"
		warm=0
	fi

	lport=$(free_port)
	run_leecher btfs "$btfs" get --no-dht -o "$work/dl" --listen 127.0.0.1 --port "$lport" "$work/content.torrent"
	b_mbps=$mbps b_rss=$rss_mib b_cpu=$cpu
	printf "%-8s %-10s %8s %10s %9s   %s\n" "$n" "btfs get" "$b_mbps" "$b_cpu" "$b_rss" "$reported"

	lport=$(free_port)
	run_leecher aria2c aria2c "${aria2_common[@]}" --listen-port="$lport" --dir="$work/dl" --seed-time=0 \
		--bt-stop-timeout=60 "$work/content.torrent"
	a_mbps=$mbps a_rss=$rss_mib a_cpu=$cpu
	printf "%-8s %-10s %8s %10s %9s   %s\n" "$n" "aria2c" "$a_mbps" "$a_cpu" "$a_rss" "$reported"
	awk -v a="$a_mbps" -v b="$b_mbps" -v n="$n" 'BEGIN { printf "%-8s btfs/aria2c throughput: %.2fx\n", n, (a > 0) ? b / a : 0 }'
done
