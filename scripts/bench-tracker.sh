#!/usr/bin/env bash
# Announce throughput and latency of `btfs tracker` against Debian's
# opentracker, side by side in one run, under the same load: a swarm of
# TORRENTS torrents x PEERS peers (every peer its own address in 127/8), each
# peer announcing again and again, from CONCURRENCY workers with one request
# in flight each, over HTTP with keep-alive, HTTP with a new connection per
# announce, and UDP (BEP 15). Each tracker starts empty for each mode, is
# populated (every peer announces "started" once, not measured), then
# measured for DURATION.
#
# The tracker runs on CPU 0 and the load generator on the others (taskset),
# so both trackers get the same single core; "server CPU" says how busy that
# core was with the tracker while measured (well under 100% means the load
# generator, the kernel or the machine's other work was the limit), and "CPU
# us/ann" is the tracker's own CPU time per answered announce, the figure
# least disturbed by whatever else the machine runs. "load CPU" is the
# generator's: near 100%, it was the limit.
#
# Usage: scripts/bench-tracker.sh [DURATION=10s] [CONCURRENCY=32]
# Environment: MODES="http http-close udp" TORRENTS=10000 PEERS=10
#   REPEAT=N     run each pair N times, interleaved, and report medians (the
#                machine's other work weighs on both trackers alike)
#   PROFILE=DIR  also run btfs's tracker server (the same code and settings,
#                in a harness that writes a CPU profile) under each mode and
#                print the top of each profile; the profiles stay in DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
need_go
need_commands opentracker:opentracker taskset:util-linux ss:iproute2

duration=${1:-10s}
conc=${2:-32}
modes=${MODES:-http http-close udp}
torrents=${TORRENTS:-10000}
peers=${PEERS:-10}
profile_dir=${PROFILE:-}
repeat=${REPEAT:-1}

work=$(mktemp -d)
server_pid=""
stop_server() {
	if [ -n "$server_pid" ]; then
		kill -INT "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
		server_pid=""
	fi
}
trap 'stop_server; rm -rf "$work"' EXIT

ncpu=$(nproc)
if [ "$ncpu" -ge 2 ]; then
	server_cpus=0
	load_cpus=1
	[ "$ncpu" -gt 2 ] && load_cpus=1-$((ncpu - 1))
else
	echo "one CPU: tracker and load share it" >&2
	server_cpus=0
	load_cpus=0
fi

echo "building..." >&2
go build -o "$work/btfs" ./cmd/btfs
go build -o "$work/trackerload" ./internal/trackerload/cmd/trackerload

# opentracker as Debian builds it serves whitelisted info-hashes only. Run
# as root it chroots into its directory and becomes nobody, so the
# directory must be readable by all and the whitelist named relative to it.
mkdir -p "$work/ot"
chmod 755 "$work" "$work/ot"
"$work/trackerload" hashes -torrents "$torrents" >"$work/ot/whitelist.txt"
chmod 644 "$work/ot/whitelist.txt"
printf 'access.whitelist whitelist.txt\ntracker.rootdir %s\n' "$work/ot" >"$work/ot/opentracker.conf"

# free_port prints a port free for both TCP and UDP on this machine.
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 40000))
		if [ -z "$(ss -Htuan "( sport = :$p )")" ]; then
			echo "$p"
			return
		fi
	done
}

# start_server NAME PORT [PROFILE_FILE]: runs the tracker on the server CPU.
# Each load worker sends from one address for thousands of peers, thousands
# of times a second: far over btfs's per-address announce rate, which is
# raised out of reach (the check itself stays on the measured path), and it
# starts TORRENTS/CONCURRENCY torrents, which may pass the per-address cap,
# lifted too: opentracker has neither limit.
start_server() {
	local name=$1 port=$2 prof=${3:-}
	case $name in
	btfs)
		taskset -c "$server_cpus" "$work/btfs" tracker --listen "127.0.0.1:$port" --udp "127.0.0.1:$port" \
			--announce-rate-per-ip 1000000 --announce-burst-per-ip 1000000 --max-torrents-per-ip 0 \
			>"$work/server.log" 2>&1 &
		;;
	opentracker)
		taskset -c "$server_cpus" opentracker -i 127.0.0.1 -p "$port" -P "$port" -f "$work/ot/opentracker.conf" \
			>"$work/server.log" 2>&1 &
		;;
	btfs-profiled)
		taskset -c "$server_cpus" "$work/trackerload" serve -addr "127.0.0.1:$port" -cpuprofile "$prof" \
			>"$work/server.log" 2>&1 &
		;;
	esac
	server_pid=$!
	for _ in $(seq 100); do
		[ -n "$(ss -Hltn "( sport = :$port )")" ] && return
		sleep 0.05
	done
	echo "$name did not start:" >&2
	cat "$work/server.log" >&2
	exit 1
}

# cpu_ticks PID: user+system clock ticks of the process (all its threads).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

load() { taskset -c "$load_cpus" "$work/trackerload" load -c "$conc" -torrents "$torrents" -peers "$peers" "$@"; }

# run NAME MODE: one measured run; prints "rate p50_us p99_us server_cpu% load_cpu% errors+timeouts
# reconnects server_cpu_us_per_announce".
run() {
	local name=$1 mode=$2 port t0 t1 out
	port=$(free_port)
	start_server "$name" "$port"
	load -addr "127.0.0.1:$port" -mode "$mode" -phase populate 2>>"$work/load.log"
	t0=$(cpu_ticks "$server_pid")
	out=$(load -addr "127.0.0.1:$port" -mode "$mode" -phase measure -d "$duration" 2>>"$work/load.log")
	t1=$(cpu_ticks "$server_pid")
	stop_server
	echo "$out" | awk -v t="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" -v d="$duration" '
		function kv(k,  i, a) { for (i = 2; i <= NF; i++) { split($i, a, "="); if (a[1] == k) return a[2] } }
		/^RESULT/ {
			secs = d; sub(/s$/, "", secs); if (d ~ /ms$/) { sub(/m$/, "", secs); secs /= 1000 } else if (d ~ /m$/) { sub(/m$/, "", secs); secs *= 60 }
			printf "%s %s %s %.0f %s %d %s %.1f\n", kv("rate"), kv("p50_us"), kv("p99_us"), 100 * t / hz / secs, kv("load_cpu"), kv("errors") + kv("timeouts"), kv("reconnects"), (kv("announces") > 0) ? 1e6 * t / hz / kv("announces") : 0
		}'
}

# median prints the median of its arguments.
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

printf "tracker announce load: %d torrents x %d peers, %d workers, %s per run, %d run(s) each (medians);\n" \
	"$torrents" "$peers" "$conc" "$duration" "$repeat"
printf "tracker on CPU %s, load generator on CPU %s\n" "$server_cpus" "$load_cpus"
printf "%-11s %-12s %12s %8s %8s %11s %9s %11s %7s %11s\n" mode tracker announces/s "p50 ms" "p99 ms" "server CPU" "load CPU" "CPU us/ann" errors reconnects
declare -A rate p99 cost
for mode in $modes; do
	declare -A runs=()
	# Interleaved, so that whatever else the machine does weighs on both.
	for i in $(seq "$repeat"); do
		for name in btfs opentracker; do
			runs[$name.$i]=$(run "$name" "$mode")
		done
	done
	for name in btfs opentracker; do
		col() { local i out=(); for i in $(seq "$repeat"); do out+=("$(echo "${runs[$name.$i]}" | cut -d' ' -f"$1")"); done; median "${out[@]}"; }
		r=$(col 1) p50=$(col 2) p9=$(col 3) cpu=$(col 4) lcpu=$(col 5) errs=$(col 6) rec=$(col 7) cus=$(col 8)
		rate[$name.$mode]=$r
		p99[$name.$mode]=$p9
		cost[$name.$mode]=$cus
		printf "%-11s %-12s %12.0f %8.2f %8.2f %10.0f%% %8.0f%% %11.1f %7s %11.0f\n" "$mode" "$name" "$r" \
			"$(awk -v u="$p50" 'BEGIN { print u / 1000 }')" "$(awk -v u="$p9" 'BEGIN { print u / 1000 }')" "$cpu" "$lcpu" "$cus" "$errs" "$rec"
		if [ "$repeat" -gt 1 ]; then
			all=""
			for i in $(seq "$repeat"); do all+=" $(echo "${runs[$name.$i]}" | cut -d' ' -f1)"; done
			printf "%-11s %-12s   runs:%s\n" "" "" "$all"
		fi
	done
	unset runs
done
echo
echo "btfs / opentracker (throughput above 1: btfs is faster; p99 and CPU per announce below 1: btfs is better):"
for mode in $modes; do
	awk -v m="$mode" -v a="${rate[btfs.$mode]}" -v b="${rate[opentracker.$mode]}" -v c="${p99[btfs.$mode]}" -v d="${p99[opentracker.$mode]}" \
		-v e="${cost[btfs.$mode]}" -v f="${cost[opentracker.$mode]}" \
		'BEGIN { printf "  %-11s throughput %.2fx   p99 %.2fx   CPU per announce %.2fx\n", m, (b > 0) ? a / b : 0, (d > 0) ? c / d : 0, (f > 0) ? e / f : 0 }'
done
if grep -q "first error" "$work/load.log"; then
	echo
	echo "load generator errors:"
	grep "first error" "$work/load.log" | sort | uniq -c
fi

if [ -n "$profile_dir" ]; then
	mkdir -p "$profile_dir"
	for mode in $modes; do
		port=$(free_port)
		prof="$profile_dir/btfs-tracker-$mode.pprof"
		start_server btfs-profiled "$port" "$prof"
		load -addr "127.0.0.1:$port" -mode "$mode" -d "$duration" >/dev/null 2>>"$work/load.log"
		stop_server
		cp "$work/trackerload" "$profile_dir/trackerload"
		echo
		echo "== CPU profile of btfs's tracker server, $mode (go tool pprof $profile_dir/trackerload $prof)"
		go tool pprof -top -nodecount=25 "$work/trackerload" "$prof" 2>/dev/null | sed -n '4,32p'
	done
fi
