#!/usr/bin/env bash
# `btfs mount` against Debian's btfs (johang/btfs on libtorrent), side by side
# in one run, with aria2c as the plain-downloader reference: one loopback
# swarm for all (Debian's opentracker with a whitelist, 2-4 aria2c seeders on
# 127.0.0.11-14), every client measured on cold mounts (mount stopped, its
# cache deleted, the page cache dropped), the median of RUNS runs, and a
# table of btfs | debian-btfs | btfs/debian | aria2c on stdout and as
# markdown in OUT.
#
# Measures, per client and run: mount latency (command start to the files
# listed), time to the first 4 KiB of the big file, cold sequential read of it
# (dd bs=1M) and a warm re-read on the same mount, 64 KiB random reads at 50
# offsets on a fresh cold mount (p50/p95/max), reading every file of the
# multi-file torrent, peak RSS (VmHWM) and anonymous RSS of the mount after the
# big-file reads, its CPU time; a player's access pattern on a cold mount of a
# video (ffprobe, then ffmpeg -ss T -t 2 at three positions, MP4 and MKV);
# aria2c's full download of the big and the multi-file torrents. Data read
# through both mounts is compared with the original (not timed).
#
# Usage: sudo scripts/bench.sh           (root: it mounts, drops caches, unshares)
#        SIZE=64MiB RUNS=1 scripts/bench.sh   a quick run: 1-3 minutes
#        (the default, 1 GiB and 3 runs, takes 15-25 minutes on 2 cores)
# Environment (sizes take B, KiB/K, MiB/M, GiB/G, all binary):
#   SIZE=1GiB          the single-file torrent (PIECE=1MiB pieces)
#   MULTI_SIZE=SIZE/4  the multi-file torrent, ~90 files in 3 folders (MULTI_PIECE=256KiB)
#   VIDEO_SECS=180     length of the test video (default scales down with SIZE,
#                      at least 20 s); VIDEO_RATE=4M its video bitrate; VIDEO=0 skips it
#   SEEDERS=2          aria2c seeders, 1-4, on 127.0.0.11..14
#   RUNS=3             runs per client; medians are reported
#   RAND_COUNT=50 RAND_SIZE=64KiB   the random reads
#   STEP_TIMEOUT=secs  limit of one measured step (default 60 s + SIZE at 2 MB/s)
#   MOUNT_TIMEOUT=60   limit for a mount to list its files
#   VIDEO_TIMEOUT=120  limit of one ffprobe or ffmpeg run
#   (after a step times out, the rest of that cold-mount session is skipped)
#   VERIFY=1           compare what the mounts read with the original (0: skip)
#   ARIA2=1            the aria2c reference downloads (0: skip)
#   CLIENTS="btfs debian"           which mounts to measure
#   SESSIONS="big rand multi video" which cold-mount sessions to run
#   BTFS=PATH          btfs binary to measure (default: built from this tree)
#   BTFS_ARGS=...      extra flags for `btfs mount`, e.g. "--prefetch"
#   DEBIAN_ARGS=...    extra flags for Debian's btfs
#   OUT=FILE           markdown results (default: bench-results.md in the
#                      results folder, which keeps the logs and is printed)
#   KEEP=1             keep the working folder (content, torrents, caches)
# The run happens in a private network and mount namespace (unshare -n -m, a
# re-exec of this script): only lo exists, so nothing leaves the machine
# (Debian's btfs always tries public DHT routers), and no mount can outlive
# the run. Our mount runs with -v; its log is kept in the results folder.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
repo=$PWD
self=$repo/scripts/bench.sh
probe=$repo/scripts/bench/probe.py

case ${1:-} in
-h | --help | help)
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
	exit 0
	;;
"") ;;
*)
	echo "bench.sh takes no arguments (see --help: settings are environment variables)" >&2
	exit 2
	;;
esac

die() {
	echo "bench.sh: $*" >&2
	exit 1
}

# ---------------------------------------------------------------------------
# Outside the namespace: checks, packages, the build (these need the network).
if [ -z "${BTFS_BENCH_INNER:-}" ]; then
	[ "$(id -u)" -eq 0 ] || die "must run as root: it drops the page cache (/proc/sys/vm/drop_caches), mounts FUSE filesystems and runs in a private network namespace (unshare -n). Try: sudo $0"
	command -v unshare >/dev/null || die "unshare is not installed (Debian package util-linux): it is needed to run the swarm in a private network namespace"
	if ! err=$(unshare -n -m true 2>&1); then
		die "cannot make a private network namespace with 'unshare -n -m': ${err:-failed} (in a container this needs CAP_SYS_ADMIN, e.g. docker run --privileged)"
	fi
	[ -c /dev/fuse ] || die "/dev/fuse is missing: FUSE is needed to mount (modprobe fuse, or a container with --device /dev/fuse)"
	[ -w /proc/sys/vm/drop_caches ] || die "/proc/sys/vm/drop_caches is not writable: the cold runs need to drop the page cache"
	. scripts/deps.sh
	need_commands aria2c:aria2 opentracker:opentracker /usr/bin/btfs:btfs ffmpeg:ffmpeg ffprobe:ffmpeg \
		curl:curl ip:iproute2 python3:python3 timeout:coreutils cmp:diffutils
	if ! dpkg -S /usr/bin/btfs 2>/dev/null | grep -q '^btfs:'; then
		die "/usr/bin/btfs is not Debian's btfs package (dpkg -S /usr/bin/btfs): ours must not be installed there"
	fi
	bindir=$(mktemp -d /tmp/btfs-bench-bin.XXXXXX)
	trap 'rm -rf "$bindir"' EXIT
	if [ -n "${BTFS:-}" ]; then
		cp "$BTFS" "$bindir/btfs"
	else
		need_go
		echo "building btfs from $repo ..." >&2
		go build -o "$bindir/btfs" ./cmd/btfs || die "go build ./cmd/btfs failed"
	fi
	rc=0
	BTFS_BENCH_INNER=1 BTFS_BENCH_BIN=$bindir/btfs BTFS_BENCH_REV=$(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown) \
		unshare -n -m -- bash "$self" || rc=$?
	exit "$rc"
fi

# ---------------------------------------------------------------------------
# Inside: a network namespace with lo only, a mount namespace of our own.
bench_start=$SECONDS
btfs=$BTFS_BENCH_BIN
debbtfs=/usr/bin/btfs

ip link set lo up
if ip -o link show | grep -qv ': lo:'; then
	die "the network namespace has interfaces other than lo: $(ip -o link show | awk -F': ' '{print $2}' | tr '\n' ' ')"
fi
# The seeders' addresses: lo answers all of 127/8; added only if binding fails.
for i in 1 2 3 4; do
	if ! python3 -c 'import socket, sys; socket.socket().bind((sys.argv[1], 0))' "127.0.0.1$i" 2>/dev/null; then
		ip addr add "127.0.0.1$i/32" dev lo
	fi
done

. "$repo/scripts/bench/lib.sh" # to_bytes, human, session_pid

size=$(to_bytes "${SIZE:-1GiB}")
multi_size=$(to_bytes "${MULTI_SIZE:-$((size / 4))}")
piece=$(to_bytes "${PIECE:-1MiB}")
multi_piece=$(to_bytes "${MULTI_PIECE:-256KiB}")
seeders=${SEEDERS:-2}
runs=${RUNS:-3}
rand_count=${RAND_COUNT:-50}
rand_size=$(to_bytes "${RAND_SIZE:-64KiB}")
video=${VIDEO:-1}
video_secs=${VIDEO_SECS:-$((size * 180 / 1073741824 < 20 ? 20 : (size * 180 / 1073741824 > 180 ? 180 : size * 180 / 1073741824)))}
video_rate=${VIDEO_RATE:-4M}
step_timeout=${STEP_TIMEOUT:-$((60 + size / 2000000))}
mount_timeout=${MOUNT_TIMEOUT:-60}
video_timeout=${VIDEO_TIMEOUT:-120}
verify=${VERIFY:-1}
aria2=${ARIA2:-1}
btfs_args=${BTFS_ARGS:-}
debian_args=${DEBIAN_ARGS:-}
clients=${CLIENTS:-btfs debian}
sessions=${SESSIONS:-big rand multi video}
for c in $clients; do [[ $c =~ ^(btfs|debian)$ ]] || die "CLIENTS: unknown client $c (btfs, debian)"; done
for s in $sessions; do [[ $s =~ ^(big|rand|multi|video)$ ]] || die "SESSIONS: unknown session $s (big, rand, multi, video)"; done
[[ $seeders =~ ^[1-4]$ ]] || die "SEEDERS must be 1 to 4 (one loopback address each, 127.0.0.11-14)"
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive number"
((size >= 4 * 1048576)) || die "SIZE must be at least 4 MiB"
((multi_size >= 1048576)) || die "MULTI_SIZE must be at least 1 MiB"

work=$(mktemp -d /tmp/btfs-bench.XXXXXX)
chmod 755 "$work" # opentracker, started as root, reads its whitelist as nobody
results=$(mktemp -d /tmp/btfs-bench-results.XXXXXX)
chmod 755 "$results"
out=${OUT:-$results/bench-results.md}
mkdir -p "$results/logs" "$work/src" "$work/tmp"
raw=$results/raw.tsv     # client, measure, run, value (a number or FAIL: why)
failures=$results/failures.md
notes=$results/notes.txt
: >"$raw"
: >"$failures"
: >"$notes"

pids=()     # tracker and seeders
m_pid=""    # the mount being measured
m_mnt=""
cur=""      # the measured step running in the background
watcher=""  # and what watches it
cleanup() {
	trap - EXIT INT TERM HUP
	set +e
	[ -n "${watcher:-}" ] && kill -TERM "$watcher" 2>/dev/null
	if [ -n "$cur" ]; then
		kill -TERM "$cur" 2>/dev/null
		sleep 0.5
		kill -KILL "$cur" 2>/dev/null
	fi
	[ -n "$m_pid" ] && stop_mount quiet
	local p
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for _ in $(seq 50); do
		local alive=0
		for p in "${pids[@]}"; do alive_pid "$p" && alive=1; done
		[ "$alive" = 0 ] && break
		sleep 0.1
	done
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	# Whatever is still mounted under the work folder (there should be none).
	awk -v w="$work/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
		echo "cleanup: unmounting leftover $m" >&3
		umount "$m" 2>/dev/null || umount -l "$m"
	done
	if [ "${KEEP:-0}" = 1 ]; then
		echo "kept the working folder $work" >&3
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
# fd 3: stderr, also where a step's stderr is sent elsewhere (the traps run there).
exec 3>&2
trap 'echo "bench.sh: interrupted; cleaning up (logs so far: $results)" >&3; exit 130' INT TERM HUP

log() { echo "[$(date +%T)] $*" >&2; }
note() { echo "$*" >>"$notes"; log "note: $*"; }
alive_pid() { [ -n "$1" ] && [ -e "/proc/$1" ] && [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
now_ns() { date +%s%N; }
mounted() { awk -v m="$1" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo; }
drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
}

# step LIMIT OUTFILE ERRFILE CMD...: runs CMD in the background (so that a
# signal reaches this script at once) under a timeout; returns its status,
# 124 on a timeout.
step() {
	local limit=$1 o=$2 e=$3 rc=0
	shift 3
	timeout -k 5 "$limit" "$@" >"$o" 2>"$e" &
	cur=$!
	if [ -n "${WATCH:-}" ]; then # the longest time CMD made no progress reading, to $WATCH
		rm -f "$WATCH"
		python3 "$probe" stallwatch "$cur" "$WATCH" &
		watcher=$!
	fi
	{ wait "$cur"; } 2>/dev/null || rc=$?
	cur=""
	if [ -n "${WATCH:-}" ]; then
		wait "$watcher" 2>/dev/null || true
		watcher=""
	fi
	return "$rc"
}
# why RC ERRFILE LIMIT: a short reason for a failed step.
why() {
	local rc=$1 e=$2 limit=$3 last
	last=$(grep -v '^\s*$' "$e" 2>/dev/null | tail -1 | sed "s|$work/||g" | cut -c1-100)
	case $rc in
	124 | 137) echo "timed out after ${limit}s" ;;
	*) echo "exit $rc${last:+: $last}" ;;
	esac
}

# ---------------------------------------------------------------------------
# Content, torrents, tracker, seeders.
tport=6969
announce="http://127.0.0.1:$tport/announce"

# Room for the content, one mount's cache and one aria2c download at a time.
need_kib=$(((3 * size + 2 * multi_size + 400 * 1048576) / 1024))
free_kib=$(df -Pk "$work" | awk 'NR == 2 { print $4 }')
((free_kib > need_kib)) || die "not enough space in $(dirname "$work"): $((free_kib / 1024)) MiB free, about $((need_kib / 1024)) MiB needed"

log "making content: $(human "$size") single file, $(human "$multi_size") in many files$([ "$video" = 1 ] && echo ", a ${video_secs}s video")"
head -c "$size" /dev/urandom >"$work/src/big.bin"
# The multi-file torrent: 4 large files (1/2 of it), 24 medium ones in 4
# folders (3/8), 64 small ones (1/8), none a multiple of the piece length.
mkdir -p "$work/src/multi/large" "$work/src/multi/small"
# random_file PATH BASE I: BASE bytes less up to 6.4% (I/1000 of it), at least 1.
random_file() {
	local n=$(($2 - $2 * $3 / 1000))
	((n >= 1)) || n=1
	head -c "$n" /dev/urandom >"$1"
}
for i in $(seq 1 4); do random_file "$work/src/multi/large/part$i.bin" $((multi_size / 8)) "$i"; done
for i in $(seq 1 24); do
	d=$work/src/multi/medium/set$(((i - 1) / 6 + 1))
	mkdir -p "$d"
	random_file "$d/file$(printf %02d "$i").dat" $((multi_size / 64)) "$i"
done
for i in $(seq 1 64); do random_file "$work/src/multi/small/s$(printf %02d "$i").txt" $((multi_size / 512)) "$i"; done
multi_bytes=$(find "$work/src/multi" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
multi_files=$(find "$work/src/multi" -type f | wc -l)

torrents=(big multi)
if [ "$video" = 1 ]; then
	mkdir -p "$work/src/video"
	case $video_rate in # ffmpeg's units: 4M is 4 Mbit/s
	*[kK]) rate_bits=$((${video_rate%?} * 1000)) ;;
	*[mM]) rate_bits=$((${video_rate%?} * 1000000)) ;;
	*) rate_bits=$video_rate ;;
	esac
	if ! ffmpeg -nostdin -v error -f lavfi -i "testsrc2=size=1280x720:rate=30:duration=$video_secs" \
		-f lavfi -i "sine=frequency=440:sample_rate=48000:duration=$video_secs" \
		-c:v libx264 -preset ultrafast -b:v "$rate_bits" -maxrate "$rate_bits" -bufsize $((rate_bits * 2)) -g 120 \
		-pix_fmt yuv420p -c:a aac -b:a 128k -shortest "$work/src/video/movie.mp4" 2>"$results/logs/ffmpeg-make.log" ||
		! ffmpeg -nostdin -v error -i "$work/src/video/movie.mp4" -c copy "$work/src/video/movie.mkv" 2>>"$results/logs/ffmpeg-make.log"; then
		die "making the test video with ffmpeg failed: $(tail -3 "$results/logs/ffmpeg-make.log")"
	fi
	torrents+=(video)
fi

declare -A hash
for t in "${torrents[@]}"; do
	args=(-t "$announce")
	case $t in
	big)
		src=$work/src/big.bin
		args+=(-l "$piece")
		;;
	multi)
		src=$work/src/multi
		args+=(-l "$multi_piece")
		;;
	video)
		src=$work/src/video
		[ -n "${VIDEO_PIECE:-}" ] && args+=(-l "$VIDEO_PIECE")
		;;
	esac
	"$btfs" create "${args[@]}" -o "$work/$t.torrent" "$src" >/dev/null 2>"$results/logs/create-$t.log" ||
		die "btfs create $t failed: $(tail -3 "$results/logs/create-$t.log")"
	hash[$t]=$("$btfs" info --json "$work/$t.torrent" | sed -n 's/.*"info_hash": *"\([0-9a-f]*\)".*/\1/p')
done
video_piece=""
[ "$video" = 1 ] && video_piece=$("$btfs" info --json "$work/video.torrent" | sed -n 's/.*"piece_length": *\([0-9]*\).*/\1/p')
sync

mkdir -p "$work/ot"
chmod 755 "$work/ot"
for t in "${torrents[@]}"; do echo "${hash[$t]}"; done >"$work/ot/whitelist.txt"
chmod 644 "$work/ot/whitelist.txt"
printf 'access.whitelist whitelist.txt\ntracker.rootdir %s\n' "$work/ot" >"$work/ot/opentracker.conf"
# The tracker and the seeders run as copies of opentracker and aria2c under
# names of their own: on a shared machine, other people's scripts clean up
# with `pkill aria2c` (seen while writing this: both seeders vanished in the
# middle of a run). If one still goes away, swarm_check starts it again.
mkdir -p "$work/bin"
cp "$(command -v opentracker)" "$work/bin/bench-tracker"
cp "$(command -v aria2c)" "$work/bin/bench-seeder"
cp "$(command -v aria2c)" "$work/bin/bench-leecher"
start_tracker() {
	"$work/bin/bench-tracker" -i 127.0.0.1 -p "$tport" -P "$tport" -f "$work/ot/opentracker.conf" >>"$results/logs/opentracker.log" 2>&1 &
	tracker_pid=$!
	pids+=("$tracker_pid")
}

aria2_common=(--no-conf --enable-dht=false --enable-dht6=false --bt-enable-lpd=false --enable-peer-exchange=false
	--disable-ipv6=true --file-allocation=none --summary-interval=0 --enable-color=false
	--console-log-level=warn --bt-tracker-connect-timeout=5 --bt-tracker-timeout=5)
torrent_files=()
for t in "${torrents[@]}"; do torrent_files+=("$work/$t.torrent"); done
declare -A seeder_pid
# start_seeder I: aria2c seeding every torrent from 127.0.0.1I.
printf '#!/bin/sh\necho "$1" >>"$BENCH_SEEDING"\n' >"$work/bin/seeding-hook"
chmod +x "$work/bin/seeding-hook"
start_seeder() {
	: >"$work/seeding.$1"
	BENCH_SEEDING=$work/seeding.$1 "$work/bin/bench-seeder" "${aria2_common[@]}" --interface="127.0.0.1$1" --listen-port=$((51410 + $1)) --dir="$work/src" \
		--check-integrity=true --seed-ratio=0.0 --max-concurrent-downloads=8 \
		--on-bt-download-complete="$work/bin/seeding-hook" "${torrent_files[@]}" \
		>>"$results/logs/seeder$1.log" 2>&1 &
	seeder_pid[$1]=$!
	pids+=("${seeder_pid[$1]}")
}
# seeding I: seeder I has checked its data and seeds every torrent (aria2c
# runs its --on-bt-download-complete hook for each, once checked).
seeding() { [ "$(wc -l <"$work/seeding.$1" 2>/dev/null || echo 0)" -ge "${#torrents[@]}" ]; }
# complete_count HASH: seeders the tracker counts for the torrent.
complete_count() {
	local pct
	pct=$(echo "$1" | sed 's/../%&/g')
	curl -s --max-time 2 "http://127.0.0.1:$tport/scrape?info_hash=$pct" | grep -ao '8:completei[0-9]*e' | sed 's/8:completei//; s/e$//'
}
# swarm_ready: every seeder seeds and the tracker knows them all.
swarm_ready() {
	local i t
	for i in $(seq 1 "$seeders"); do seeding "$i" || return 1; done
	for t in "${torrents[@]}"; do [ "$(complete_count "${hash[$t]}")" -ge "$seeders" ] 2>/dev/null || return 1; done
}
wait_swarm() {
	local start=$SECONDS p
	until swarm_ready; do
		if ((SECONDS - start > 600)); then
			tail -n 3 "$results"/logs/seeder*.log >&2 || true
			die "timed out waiting for $seeders seeder(s) at the tracker"
		fi
		alive_pid "$tracker_pid" || die "the tracker exited: $(tail -n 3 "$results/logs/opentracker.log")"
		for p in "${seeder_pid[@]}"; do alive_pid "$p" || die "a seeder exited: $(tail -n 3 "$results"/logs/seeder*.log)"; done
		sleep 0.5
	done
}
# swarm_check: restarts whatever of the swarm has gone, with a note.
swarm_check() {
	local i gone=""
	if ! alive_pid "$tracker_pid"; then
		note "run $run: the tracker had exited (killed from outside?): restarted it and the seeders"
		start_tracker
		for i in $(seq 1 "$seeders"); do
			kill -TERM "${seeder_pid[$i]}" 2>/dev/null || true
			gone+=" $i"
		done
		sleep 1
	else
		for i in $(seq 1 "$seeders"); do alive_pid "${seeder_pid[$i]}" || gone+=" $i"; done
		[ -n "$gone" ] && note "run $run: seeder(s)$gone had exited (killed from outside?): restarted"
	fi
	[ -n "$gone" ] || return 0
	for i in $gone; do
		echo "--- restarted" >>"$results/logs/seeder$i.log"
		start_seeder "$i"
	done
	wait_swarm
}

start_tracker
for i in $(seq 1 "$seeders"); do start_seeder "$i"; done
log "waiting for $seeders seeder(s) to check their data and announce..."
start=$SECONDS
wait_swarm
log "swarm ready after $((SECONDS - start))s"

# ---------------------------------------------------------------------------
# Mounts.
rec() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$run" "$3" >>"$raw"; }
# fail CLIENT "KEY..." REASON: failed cells, and one entry in the failures
# with an excerpt of the log of the mount (or download) at fault.
fail() {
	local client=$1 keys=$2 reason=$3 k
	for k in $keys; do rec "$client" "$k" "FAIL: $reason"; done
	log "FAILED: run $run, $client, $keys: $reason"
	{
		echo "### run $run, $client, $keys: $reason"
		echo
		if [ -n "${m_log:-}" ] && [ -s "$m_log" ]; then
			echo "$(basename "$m_log"): its warnings and errors, then its last lines (badger's lines left out):"
			echo '```'
			grep -aiE 'level=(warn|error)|error|fail|panic' "$m_log" | grep -v 'msg="badger' | tail -6 | cut -c1-400 || true
			echo '...'
			grep -av 'msg="badger' "$m_log" | tail -10 | cut -c1-400 || true
			echo '```'
		fi
		echo
	} >>"$failures"
}
# skip CLIENT "KEY...": cells left out after an earlier step of the session
# timed out (the mount is stuck: every later step would wait as long).
skip() {
	local k
	for k in $2; do rec "$1" "$k" "FAIL: skipped (${3:-an earlier step timed out})"; done
}

# start_mount CLIENT TORRENT TAG: a cold mount of TORRENT at $work/mnt-CLIENT;
# sets m_pid, m_mnt, m_log and m_lat (ms to the files listed); fails (status
# 1, reason in m_err) if the files are not listed within MOUNT_TIMEOUT.
start_mount() {
	local client=$1 t=$2 tag=$3 name cdir t0 rc=0
	m_mnt=$work/mnt-$client
	cdir=$work/cache-$client
	swarm_check
	mkdir -p "$m_mnt"
	rm -rf "$cdir"
	mkdir -p "$cdir"
	drop_caches
	m_log=$results/logs/run$run-$client-$tag.log
	m_hung=0
	case $t in big) name=big.bin ;; *) name=$t ;; esac
	t0=$(now_ns)
	case $client in
	btfs)
		# shellcheck disable=SC2086
		"$btfs" -v mount --no-dht --cache-dir "$cdir" --listen 127.0.0.1 --port 0 $btfs_args "$work/$t.torrent" "$m_mnt" >"$m_log" 2>&1 &
		;;
	debian)
		# shellcheck disable=SC2086
		"$debbtfs" -f --data-directory="$cdir" $debian_args "$work/$t.torrent" "$m_mnt" >"$m_log" 2>&1 &
		;;
	esac
	m_pid=$!
	step $((mount_timeout + 10)) "$work/tmp/lat" "$work/tmp/lat.err" python3 "$probe" listed "$m_mnt" "$name" "$m_pid" "$t0" "$mount_timeout" || rc=$?
	if [ "$rc" != 0 ]; then
		m_err="files not listed: $(tail -1 "$work/tmp/lat.err")"
		return 1
	fi
	m_lat=$(cat "$work/tmp/lat")
}

# stop_mount [quiet]: stops the mount (SIGTERM, then a lazy unmount and
# SIGKILL after 15 s) and makes sure nothing is left mounted.
stop_mount() {
	local quiet=${1:-} rc=0 i
	[ -n "$m_pid" ] || return 0
	kill -TERM "$m_pid" 2>/dev/null || true
	for i in $(seq "$([ -n "$quiet" ] && echo 50 || echo 150)"); do
		alive_pid "$m_pid" || break
		sleep 0.1
	done
	if alive_pid "$m_pid"; then
		[ -z "$quiet" ] && note "run $run: $m_client did not exit within 15 s of SIGTERM; unmounted lazily and killed (log $(basename "$m_log"))"
		umount -l "$m_mnt" 2>/dev/null || true
		kill -KILL "$m_pid" 2>/dev/null || true
	fi
	{ wait "$m_pid"; } 2>/dev/null || rc=$?
	if [ -z "$quiet" ] && [ "$rc" != 0 ] && [ "$rc" != 143 ]; then
		note "run $run: $m_client exited with status $rc after SIGTERM (log $(basename "$m_log"))"
	fi
	if mounted "$m_mnt"; then
		[ -z "$quiet" ] && note "run $run: $m_client left $m_mnt mounted after exiting; unmounted it"
		umount "$m_mnt" 2>/dev/null || umount -l "$m_mnt" 2>/dev/null || true
	fi
	m_pid=""
}

# mount_dead: the mount process has exited on its own (a crash): note it.
mount_dead() {
	if alive_pid "$m_pid"; then return 1; fi
	[ -n "$m_pid" ] || return 0
	local rc=0
	{ wait "$m_pid"; } 2>/dev/null || rc=$?
	m_err="the mount process exited (status $rc)"
	note "run $run: $m_client: the mount process exited on its own with status $rc (log $(basename "$m_log"))"
	m_pid=""
	if mounted "$m_mnt"; then umount "$m_mnt" 2>/dev/null || umount -l "$m_mnt" 2>/dev/null || true; fi
	return 0
}

# measure LIMIT OUT CMD...: a step of a session; sets m_err and m_hung (on
# a timeout) when it fails.
measure() {
	local limit=$1 o=$2 rc=0
	shift 2
	step "$limit" "$o" "$work/tmp/step.err" "$@" || rc=$?
	[ "$rc" = 0 ] && return 0
	[ "$o" != /dev/null ] && [ -s "$o" ] && cat "$o" >>"$work/tmp/step.err" # cmp and diff say what differs on stdout
	m_err=$(why "$rc" "$work/tmp/step.err" "$limit")
	case $rc in 124 | 137) m_hung=1 ;; esac
	return 1
}

# dd_read FILE: sequential read with dd bs=1M; sets m_mbps or m_err.
dd_read() {
	local f=$1 bytes secs
	m_stall=""
	WATCH=$work/tmp/stall measure "$step_timeout" /dev/null dd if="$f" of=/dev/null bs=1M || return 1
	m_stall=$(cat "$work/tmp/stall" 2>/dev/null || true)
	bytes=$(awk '/copied/ { print $1 }' "$work/tmp/step.err")
	secs=$(sed -n 's/.*copied, \([0-9.e+-]*\) s,.*/\1/p' "$work/tmp/step.err")
	if [ "$bytes" != "$size" ]; then
		m_err="short read: $bytes of $size bytes"
		return 1
	fi
	m_mbps=$(awk -v b="$bytes" -v s="$secs" 'BEGIN { printf "%.1f", b / s / 1e6 }')
}

# timed LIMIT CMD...: runs CMD; sets m_secs (wall) or m_err.
timed() {
	local limit=$1 t0 t1
	shift
	t0=$(now_ns)
	measure "$limit" /dev/null "$@" || return 1
	t1=$(now_ns)
	m_secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
}

# proc_stats PID: "VmHWM_MiB RssAnon_MiB cpu_seconds" of a live process.
proc_stats() {
	local hwm anon cpu
	hwm=$(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status")
	anon=$(awk '/^RssAnon:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status")
	cpu=$(awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$1/stat")
	echo "$hwm $anon $cpu"
}

# session_big CLIENT: mount latency, first byte, cold and warm sequential
# reads, memory and CPU, then the data compared with the original.
session_big() {
	local c=$1 cold_ok=0
	log "run $run/$runs: $c: big file ($(human "$size"))"
	if ! start_mount "$c" big big; then
		fail "$c" "mount_ms ttfb_ms seq_cold seq_stall seq_warm rss_hwm rss_anon cpu_big" "$m_err"
		stop_mount
		verify_state+=" big: not mounted;"
		return
	fi
	rec "$c" mount_ms "$m_lat"
	if measure "$step_timeout" "$work/tmp/ttfb" python3 "$probe" ttfb "$m_mnt/big.bin"; then
		rec "$c" ttfb_ms "$(cat "$work/tmp/ttfb")"
	else
		fail "$c" ttfb_ms "$m_err"
	fi
	if mount_dead; then
		fail "$c" "seq_cold seq_stall seq_warm rss_hwm rss_anon cpu_big" "$m_err"
		return
	fi
	if [ "$m_hung" = 1 ]; then
		skip "$c" "seq_cold seq_stall seq_warm"
	elif dd_read "$m_mnt/big.bin"; then
		rec "$c" seq_cold "$m_mbps"
		[ -n "$m_stall" ] && rec "$c" seq_stall "$m_stall"
		cold_ok=1
		if dd_read "$m_mnt/big.bin"; then rec "$c" seq_warm "$m_mbps"; else fail "$c" seq_warm "$m_err"; fi
	else
		fail "$c" seq_cold "$m_err"
		skip "$c" "seq_stall seq_warm" "the cold read failed"
	fi
	[ "$cold_ok" = 1 ] || verify_state+=" big: not read;"
	if mount_dead; then
		fail "$c" "rss_hwm rss_anon cpu_big" "$m_err"
		return
	fi
	# Ours: the hidden `btfs session` serves the mount (the mount command is a thin client).
	local spid=$m_pid
	[ "$c" = btfs ] && spid=$(session_pid "$work/cache-btfs")
	if [ -z "$spid" ] || ! alive_pid "$spid"; then
		fail "$c" "rss_hwm rss_anon cpu_big" "no btfs session process serves $work/cache-btfs"
		stop_mount
		return
	fi
	read -r hwm anon cpu < <(proc_stats "$spid")
	rec "$c" rss_hwm "$hwm"
	rec "$c" rss_anon "$anon"
	rec "$c" cpu_big "$cpu"
	if [ "$verify" = 1 ] && [ "$cold_ok" = 1 ]; then
		if ! measure "$step_timeout" "$work/tmp/cmp.out" cmp "$m_mnt/big.bin" "$work/src/big.bin"; then
			verify_state+=" big: $m_err;"
			fail "$c" verify_data "the big file read through the mount differs from the original: $m_err"
		fi
	fi
	stop_mount
}

# session_rand CLIENT: random reads on a cold mount.
session_rand() {
	local c=$1 p50 p95 max
	log "run $run/$runs: $c: $rand_count random reads of $(human "$rand_size")"
	if ! start_mount "$c" big rand; then
		fail "$c" "rand_p50 rand_p95 rand_max" "$m_err"
		stop_mount
		return
	fi
	if measure "$step_timeout" "$work/tmp/rand" python3 "$probe" randread "$m_mnt/big.bin" "$work/src/big.bin" \
		"$rand_count" "$rand_size" "$((run * 7919))" "$results/logs/run$run-$c-rand-reads.txt"; then
		read -r p50 p95 max <"$work/tmp/rand"
		rec "$c" rand_p50 "$p50"
		rec "$c" rand_p95 "$p95"
		rec "$c" rand_max "$max"
	else
		fail "$c" "rand_p50 rand_p95 rand_max" "$m_err"
		grep -q 'differ from the original' "$work/tmp/step.err" && verify_state+=" random reads: $(tail -1 "$work/tmp/step.err");"
	fi
	mount_dead || stop_mount
}

# session_multi CLIENT: every file of the multi-file torrent.
session_multi() {
	local c=$1 secs bytes files longest
	log "run $run/$runs: $c: every file of the multi-file torrent ($multi_files files, $(human "$multi_bytes"))"
	if ! start_mount "$c" multi multi; then
		fail "$c" "multi_s multi_longest" "$m_err"
		stop_mount
		verify_state+=" multi: not mounted;"
		return
	fi
	if measure "$step_timeout" "$work/tmp/multi" python3 "$probe" readall "$m_mnt/multi" "$results/logs/run$run-$c-multi-files.txt"; then
		read -r secs bytes files longest <"$work/tmp/multi"
		if [ "$bytes" = "$multi_bytes" ] && [ "$files" = "$multi_files" ]; then
			rec "$c" multi_s "$secs"
			rec "$c" multi_longest "$longest"
			if [ "$verify" = 1 ] && ! measure "$step_timeout" "$work/tmp/diff.out" diff -rq "$m_mnt/multi" "$work/src/multi"; then
				verify_state+=" multi: $m_err;"
				fail "$c" verify_data "the multi-file torrent read through the mount differs from the original: $m_err"
			fi
		else
			fail "$c" "multi_s multi_longest" "read $bytes bytes in $files files, expected $multi_bytes in $multi_files"
		fi
	else
		fail "$c" "multi_s multi_longest" "$m_err"
		verify_state+=" multi: not read;"
	fi
	mount_dead || stop_mount
}

# session_video CLIENT EXT: ffprobe, then three seeks, on a cold mount.
session_video() {
	local c=$1 ext=$2 f i pos
	log "run $run/$runs: $c: $ext: ffprobe, then ffmpeg -ss at ${seek_pos[*]} s"
	if ! start_mount "$c" video "video-$ext"; then
		fail "$c" "${ext}_probe ${ext}_seek1 ${ext}_seek2 ${ext}_seek3" "$m_err"
		stop_mount
		return
	fi
	f=$m_mnt/video/movie.$ext
	if timed "$video_timeout" ffprobe -v error -show_format -show_streams "$f"; then
		rec "$c" "${ext}_probe" "$m_secs"
	else
		fail "$c" "${ext}_probe" "$m_err"
	fi
	for i in 1 2 3; do
		pos=${seek_pos[$((i - 1))]}
		if [ "$m_hung" = 1 ]; then
			skip "$c" "${ext}_seek$i"
		elif mount_dead; then
			fail "$c" "${ext}_seek$i" "$m_err"
		elif timed "$video_timeout" ffmpeg -nostdin -v error -ss "$pos" -i "$f" -t 2 -f null -; then
			rec "$c" "${ext}_seek$i" "$m_secs"
			[ -s "$work/tmp/step.err" ] && note "run $run: $c: ffmpeg -ss $pos on $ext printed: $(head -2 "$work/tmp/step.err" | tr '\n' ' ' | cut -c1-200)"
		else
			fail "$c" "${ext}_seek$i" "$m_err"
		fi
	done
	mount_dead || stop_mount
}

# aria2_get TORRENT KEY: aria2c's full download from the same swarm.
aria2_get() {
	local t=$1 key=$2 t0 t1
	log "run $run/$runs: aria2c: full download of $t"
	swarm_check
	rm -rf "$work/dl"
	mkdir -p "$work/dl"
	drop_caches
	m_log=$results/logs/run$run-aria2c-$t.log
	t0=$(now_ns)
	if ! measure "$step_timeout" "$m_log" "$work/bin/bench-leecher" "${aria2_common[@]}" --interface=127.0.0.1 --listen-port=51420 \
		--dir="$work/dl" --seed-time=0 --bt-stop-timeout=60 "$work/$t.torrent"; then
		fail aria2c "$key" "$m_err"
	else
		t1=$(now_ns)
		local name=$t
		[ "$t" = big ] && name=big.bin
		if ! diff -rq "$work/dl/$name" "$work/src/$name" >/dev/null 2>&1; then
			fail aria2c "$key" "the download differs from the original"
		elif [ "$t" = big ]; then
			rec aria2c "$key" "$(awk -v b="$size" -v a="$t0" -v e="$t1" 'BEGIN { printf "%.1f", b / ((e - a) / 1e9) / 1e6 }')"
		else
			rec aria2c "$key" "$(awk -v a="$t0" -v e="$t1" 'BEGIN { printf "%.3f", (e - a) / 1e9 }')"
		fi
	fi
	m_log=""
	rm -rf "$work/dl"
}

seek_pos=()
if [ "$video" = 1 ]; then
	for frac in 35 80 10; do seek_pos+=($((video_secs * frac / 100))); done
fi

# The clients take turns going first.
clients_for_run() { if ((run % 2)); then echo "$clients"; else echo "$clients" | awk '{ for (i = NF; i > 0; i--) printf "%s ", $i }'; fi; }
has() { [[ " $1 " == *" $2 "* ]]; }
for run in $(seq 1 "$runs"); do
	for m_client in $(clients_for_run); do
		verify_state=""
		has "$sessions" big && session_big "$m_client"
		has "$sessions" rand && session_rand "$m_client"
		has "$sessions" multi && session_multi "$m_client"
		if [ "$video" = 1 ] && has "$sessions" video; then
			session_video "$m_client" mp4
			session_video "$m_client" mkv
		fi
		if [ "$verify" = 1 ]; then
			vs=${verify_state# }
			vs=${vs%;}
			rec "$m_client" verify "${vs:-ok}"
		fi
	done
	if [ "$aria2" = 1 ]; then
		aria2_get big seq_cold
		aria2_get multi multi_s
	fi
done
m_client=""

# ---------------------------------------------------------------------------
# Report.
meta=$results/meta.tsv
{
	printf 'mount_ms\tmount latency: command start to files listed (ms)\tms\tlower\n'
	printf 'ttfb_ms\ttime to first byte: first 4 KiB of the %s file (ms)\tms\tlower\n' "$(human "$size")"
	printf 'seq_cold\tcold sequential read, dd bs=1M (MB/s); aria2c: full download\tMB/s\thigher\n'
	printf 'seq_stall\t  longest wait for one 1 MiB read() in it (ms, sampled every 10 ms)\tms\tlower\n'
	printf 'seq_warm\twarm re-read on the same mount (MB/s)\tMB/s\thigher\n'
	printf 'rand_p50\t%s random reads x%s, cold mount: p50 (ms)\tms\tlower\n' "$(human "$rand_size")" "$rand_count"
	printf 'rand_p95\t%s random reads x%s, cold mount: p95 (ms)\tms\tlower\n' "$(human "$rand_size")" "$rand_count"
	printf 'rand_max\t%s random reads x%s, cold mount: max (ms)\tms\tlower\n' "$(human "$rand_size")" "$rand_count"
	printf 'multi_s\tread every file of the multi-file torrent, %s files, %s (s); aria2c: full download\ts\tlower\n' "$multi_files" "$(human "$multi_bytes")"
	printf 'multi_longest\t  longest single 1 MiB read() in it (ms)\tms\tlower\n'
	if [ "$video" = 1 ]; then
		for ext in mp4 mkv; do
			printf '%s_probe\t%s: ffprobe on a cold mount (s)\ts\tlower\n' "$ext" "$ext"
			for i in 1 2 3; do
				printf '%s_seek%d\t%s: then ffmpeg -ss %ss -t 2 (s)\ts\tlower\n' "$ext" "$i" "$ext" "${seek_pos[$((i - 1))]}"
			done
		done
	fi
	printf 'rss_hwm\tpeak RSS of the process serving the mount (VmHWM; ours: its btfs session) after the big-file reads (MiB)\tMiB\tlower-mem\n'
	printf 'rss_anon\tanonymous RSS of the mount (RssAnon) then (MiB)\tMiB\tlower-mem\n'
	printf 'cpu_big\tCPU time of the process serving the mount over the big-file session (s)\ts\tlower-cpu\n'
	[ "$verify" = 1 ] && printf 'verify\tdata read through the mount equals the original\t-\ttext\n'
} >"$meta"

# Debian's btfs version, without its FUSE lines.
deb_version=$("$debbtfs" --version 2>&1 | grep -E '^(btfs|libtorrent) version' | sed 's/ version:/ /' | paste -sd, - | sed 's/,/, /')
header() {
	echo "# btfs mount vs Debian btfs ($(date -u +%Y-%m-%dT%H:%MZ))"
	echo
	echo "- btfs: $BTFS_BENCH_REV (\`btfs -v mount --no-dht --listen 127.0.0.1 --port 0${btfs_args:+ $btfs_args}\`); debian-btfs: $deb_version (\`btfs -f${debian_args:+ $debian_args}\`); $(aria2c --version | head -1)"
	echo "- swarm on loopback in a private network namespace: opentracker, $seeders aria2c seeder(s) on 127.0.0.11-1$seeders; every client reads from 127.0.0.1"
	echo "- torrents: $(human "$size") single file in $(human "$piece") pieces; $(human "$multi_bytes") in $multi_files files in $(human "$multi_piece") pieces$([ "$video" = 1 ] && echo "; a ${video_secs}s 720p video at $video_rate bit/s (H.264 + AAC), MP4 and MKV, in $(human "$video_piece") pieces")"
	echo "- median of $runs run(s); every measure on a cold mount: mount stopped, its cache deleted, page cache dropped; $(nproc) cores, kernel $(uname -r)"
	echo "- ratio = btfs / debian-btfs: for times lower is better, for MB/s higher is better; the words say which way it went"
	echo
}
header >"$out"
header
python3 "$probe" report "$raw" "$meta" "$out"
elapsed=$((SECONDS - bench_start))
{
	echo
	if [ -s "$failures" ]; then
		echo "## Failures"
		echo
		cat "$failures"
	fi
	if [ -s "$notes" ]; then
		echo "## Notes"
		echo
		sed 's/^/- /' "$notes"
		echo
	fi
	echo "Per-run values: raw.tsv; logs (our mount with -v): logs/, beside this file. Whole run: ${elapsed}s."
} >>"$out"
echo
if [ -s "$failures" ]; then
	echo "FAILURES:"
	grep '^### ' "$failures" | sed 's/^### /  /'
	echo "  (log excerpts in $out)"
fi
if [ -s "$notes" ]; then
	echo "notes:"
	sed 's/^/  /' "$notes"
fi
echo
echo "results: $out"
echo "logs and per-run values: $results"
echo "whole run: ${elapsed}s"
