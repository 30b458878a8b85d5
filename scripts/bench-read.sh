#!/usr/bin/env bash
# The read path against the engine: in one loopback swarm (opentracker, 2
# aria2c seeders on 127.0.0.11-12), for 1 MiB and 256 KiB pieces, `btfs get`
# and aria2c's download of a SIZE file, a cold `dd bs=1M` of it through `btfs
# mount`, four readers of the four files of a 4-file torrent (SIZE/4 each) at
# once through one cold mount, the ratios mount/get and mount/aria2c, the
# memory of the `btfs session` that serves the mount (VmHWM, RssAnon,
# RssFile), 64 KiB random reads at 50 offsets on a cold mount (started after
# the first 4 KiB of the file has been read: the mount has its peers), and a
# player's seeks in a 150 s MP4 (256 KiB pieces): ffprobe, then ffmpeg -ss T
# -t 2 -c copy at T = 63, 144, 18, 100 s, as the cost over the same command on
# the local file, btfs beside Debian's btfs. Medians of RUNS runs; a markdown
# table on stdout and in OUT, with the git rev and the machine's load.
#
# Usage: sudo scripts/bench-read.sh        (1 GiB, 3 runs: about 15-25 min on 2 cores)
#        SIZE=64MiB RUNS=1 scripts/bench-read.sh   quick mode, a few minutes
# Environment: SIZE=1GiB RUNS=3 CLIENTS="btfs debian" (debian: the video seeks
#   through Debian's btfs too) BTFS=PATH (binary to measure; default: built
#   here) BTFS_ARGS="..." (extra `btfs mount` flags) OUT=FILE STEP_TIMEOUT=s
#   KEEP=1 (keep the working folder).
# Cold: fresh cache dir, page cache dropped, the session of the last mount gone.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
repo=$PWD
self=$repo/scripts/bench-read.sh
probe=$repo/scripts/bench/probe.py
die() {
	echo "bench-read.sh: $*" >&2
	exit 1
}
case ${1:-} in
-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' && exit 0 ;;
"") ;;
*) die "no arguments (see --help: settings are environment variables)" ;;
esac
clients=${CLIENTS:-btfs debian}

if [ -z "${BTFS_BENCH_INNER:-}" ]; then
	[ "$(id -u)" -eq 0 ] || die "must run as root (drops the page cache, mounts, unshares). Try: sudo $0"
	unshare -n -m true 2>/dev/null || die "cannot make a private network namespace with 'unshare -n -m' (needs CAP_SYS_ADMIN)"
	. scripts/deps.sh
	need_commands aria2c:aria2 opentracker:opentracker ffmpeg:ffmpeg ffprobe:ffmpeg curl:curl ip:iproute2 python3:python3 pgrep:procps
	[[ " $clients " == *" debian "* ]] && need_commands /usr/bin/btfs:btfs
	bindir=$(mktemp -d /tmp/btfs-bench-read-bin.XXXXXX)
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
# Inside: lo only, a mount namespace of our own.
. "$repo/scripts/bench/lib.sh"
. "$repo/scripts/bench/read-lib.sh"
btfs=$BTFS_BENCH_BIN
ip link set lo up
for i in 1 2; do
	python3 -c 'import socket, sys; socket.socket().bind((sys.argv[1], 0))' "127.0.0.1$i" 2>/dev/null || ip addr add "127.0.0.1$i/32" dev lo
done
size=$(to_bytes "${SIZE:-1GiB}")
runs=${RUNS:-3}
step_timeout=${STEP_TIMEOUT:-$((60 + size / 2000000))}
btfs_args=${BTFS_ARGS:-}
video_secs=150
seeks=(63 144 18 100)
((size >= 4 * 1048576)) || die "SIZE must be at least 4 MiB"
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive number"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

work=$(mktemp -d /tmp/btfs-bench-read.XXXXXX)
chmod 755 "$work"
results=$(mktemp -d /tmp/btfs-bench-read-results.XXXXXX)
out=${OUT:-$results/bench-read.md}
mkdir -p "$results/logs" "$work/src/four" "$work/src/video" "$work/ot" "$work/bin"
raw=$results/raw.tsv # measure, column, run, value
: >"$raw"
pids=()
m_pid=""
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

log "making content: $(human "$size") file, 4 x $(human $((size / 4))), a ${video_secs}s video"
head -c "$size" /dev/urandom >"$work/src/one.bin"
for f in a b c d; do head -c $((size / 4)) /dev/urandom >"$work/src/four/$f.bin"; done
ffmpeg -nostdin -v error -f lavfi -i "testsrc2=size=1280x720:rate=30:duration=$video_secs" \
	-f lavfi -i "sine=frequency=440:sample_rate=48000:duration=$video_secs" \
	-c:v libx264 -preset ultrafast -b:v 4000000 -maxrate 4000000 -bufsize 8000000 -g 120 \
	-pix_fmt yuv420p -c:a aac -b:a 128k -shortest "$work/src/video/movie.mp4" 2>"$results/logs/ffmpeg-make.log" ||
	die "making the video failed: $(tail -3 "$results/logs/ffmpeg-make.log")"

tport=6969
announce="http://127.0.0.1:$tport/announce"
declare -A hash
torrents=()
# mk NAME SRC PIECE
mk() {
	"$btfs" create -t "$announce" -l "$3" -o "$work/$1.torrent" "$2" >/dev/null 2>"$results/logs/create-$1.log" ||
		die "btfs create $1 failed: $(tail -3 "$results/logs/create-$1.log")"
	hash[$1]=$("$btfs" info --json "$work/$1.torrent" | sed -n 's/.*"info_hash": *"\([0-9a-f]*\)".*/\1/p')
	torrents+=("$1")
}
pieces=(1048576 262144)
for p in "${pieces[@]}"; do
	mk "one-$p" "$work/src/one.bin" "$p"
	mk "four-$p" "$work/src/four" "$p"
done
mk video "$work/src/video" 262144
sync

chmod 755 "$work/ot"
for t in "${torrents[@]}"; do echo "${hash[$t]}"; done >"$work/ot/whitelist.txt"
chmod 644 "$work/ot/whitelist.txt"
printf 'access.whitelist whitelist.txt\ntracker.rootdir %s\n' "$work/ot" >"$work/ot/opentracker.conf"
# Copies under names of their own: a `pkill aria2c` elsewhere leaves them alone.
cp "$(command -v opentracker)" "$work/bin/bench-tracker"
cp "$(command -v aria2c)" "$work/bin/bench-seeder"
cp "$(command -v aria2c)" "$work/bin/bench-leecher"
"$work/bin/bench-tracker" -i 127.0.0.1 -p "$tport" -P "$tport" -f "$work/ot/opentracker.conf" >"$results/logs/opentracker.log" 2>&1 &
pids+=($!)
aria2_common=(--no-conf --enable-dht=false --enable-dht6=false --bt-enable-lpd=false --enable-peer-exchange=false
	--disable-ipv6=true --file-allocation=none --summary-interval=0 --enable-color=false
	--console-log-level=warn --bt-tracker-connect-timeout=5 --bt-tracker-timeout=5)
# aria2c refuses two downloads of one file, and the torrents of both piece
# sizes are of the same files: each piece size has its own pair of seeders,
# over hard links of the content in a folder of its own.
k=0
for p in "${pieces[@]}"; do
	mkdir -p "$work/src-$p"
	cp -al "$work/src/one.bin" "$work/src/four" "$work/src/video" "$work/src-$p/"
	files=("$work/one-$p.torrent" "$work/four-$p.torrent") # aria2c takes a .torrent only by its name
	[ "$p" = 262144 ] && files+=("$work/video.torrent")
	for i in 1 2; do
		k=$((k + 1))
		"$work/bin/bench-seeder" "${aria2_common[@]}" --interface="127.0.0.1$i" \
			--listen-port=$((51410 + k)) --dir="$work/src-$p" --check-integrity=true --seed-ratio=0.0 \
			--max-concurrent-downloads=8 "${files[@]}" >"$results/logs/seeder$i-$p.log" 2>&1 &
		pids+=($!)
	done
done
log "waiting for the 2 seeders to check their data and announce..."
wait_until 180 "2 seeders at the tracker" swarm_ready || die "the swarm did not come up: $(tail -n 3 "$results"/logs/seeder*.log)"
log "swarm ready"

for run in $(seq 1 "$runs"); do
	for p in "${pieces[@]}"; do
		log "run $run/$runs, $(human "$p") pieces"
		aria2_get "one-$p" "$p"
		btfs_get "one-$p" "$p"
		mount_one "one-$p" "$p"
		mount_four "four-$p" "$p"
		mount_rand "one-$p" "$p"
	done
	video_local
	for c in $clients; do mount_video "$c"; done
done

load_end=$(cut -d' ' -f1-3 /proc/loadavg)
{
	echo "# btfs read path vs btfs get and aria2c ($(date -u +%Y-%m-%dT%H:%MZ))"
	echo
	echo "- btfs $BTFS_BENCH_REV (\`btfs mount --no-dht --listen 127.0.0.1 --port 0${btfs_args:+ $btfs_args}\`); $(aria2c --version | sed -n 1p)"
	echo "- loopback swarm in a private network namespace: opentracker, 2 aria2c seeders (127.0.0.11-12); clients on 127.0.0.1"
	echo "- $(human "$size") file; the 4-reader case: a 4-file torrent of 4 x $(human $((size / 4))), one dd bs=1M per file at once, MB/s in sum"
	echo "- cold: fresh cache dir, page cache dropped; memory: /proc/PID/status of the \`btfs session\` serving the mount, after the reads"
	echo "- random reads start once the first 4 KiB of the file has been read (the mount has its peers)"
	echo "- median of $runs run(s); $(nproc) cores; load average (1/5/15 min) $load_start at the start, $load_end at the end"
	echo
	python3 "$repo/scripts/bench/read_report.py" "$raw" "${seeks[*]}"
} >"$out"
cat "$out"
echo
echo "results: $out; logs and raw values: $results"
