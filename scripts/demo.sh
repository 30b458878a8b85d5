#!/usr/bin/env bash
# The README's first command: a demo swarm on loopback, a library mounted.
# It builds btfs, makes sample content (a short video when ffmpeg is there,
# and three small torrents beside it), creates their torrents, starts a tracker
# and two seeders on 127.0.0.1, mounts the library watched in ./demo/library
# at ./demo/mnt, copies one more torrent in and waits for it to appear,
# verifies every file through the mount, shows 'btfs status', and waits.
# Ctrl-C unmounts and stops everything.
#
# Usage: scripts/demo.sh [--check]
#   --check  run without waiting: everything above, then 'btfs status --json'
#            and the metrics are checked, everything is torn down, and the exit
#            status says whether all of it worked (no mount, no process left).
# Environment: BTFS_DEMO_DIR (default ./demo), BTFS_DEMO_PORT (the tracker's,
# default 16969), BTFS_DEMO_METRICS_PORT (the mount's metrics, default the
# tracker's + 1), BTFS_DEMO_NO_INSTALL=1 (do not install ffmpeg if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
check=0
case "${1:-}" in
"") ;;
--check) check=1 ;;
-h | --help)
	sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
	;;
*)
	echo "usage: scripts/demo.sh [--check]" >&2
	exit 2
	;;
esac
. scripts/deps.sh
need_go
[ -e /dev/fuse ] || { echo "demo: /dev/fuse is missing: FUSE is needed to mount (modprobe fuse, or run on a machine with FUSE)" >&2; exit 1; }
if [ "$(id -u)" -ne 0 ]; then
	need_commands fusermount3:fuse3
	command -v fusermount3 >/dev/null || { echo "demo: mounting as a user needs fusermount3 (Debian package fuse3)" >&2; exit 1; }
fi
if [ -z "${BTFS_DEMO_NO_INSTALL:-}" ]; then
	need_commands ffmpeg:ffmpeg || true
fi

demo=${BTFS_DEMO_DIR:-$PWD/demo}
case $demo in /*) ;; *) demo=$PWD/$demo ;; esac
show=${demo#"$PWD"/} # for the messages: relative when under the repository
bin=$demo/btfs
port_tracker=${BTFS_DEMO_PORT:-16969}
port_metrics=${BTFS_DEMO_METRICS_PORT:-$((port_tracker + 1))}
mkdir -p "$demo/data/sample/docs" "$demo/data/tables" "$demo/torrents" "$demo/mnt"
rm -rf "$demo/library" # the watched directory: filled below, on every run
mkdir -p "$demo/library"
go build -o "$bin" ./cmd/btfs
echo "built $show/btfs"

pids=()
# cleanup stops everything, on any exit: the end of --check, Ctrl-C, an error.
cleanup() {
	local code=$? pid alive killed=0
	trap - INT TERM EXIT
	echo
	echo "stopping..."
	"$bin" unmount "$demo/mnt" 2>/dev/null || true
	for pid in "${pids[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
	for _ in $(seq 150); do # 15 s for the processes to finish cleanly
		alive=0
		for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
		[ "$alive" = 0 ] && break
		sleep 0.1
	done
	for pid in "${pids[@]}"; do
		if kill -KILL "$pid" 2>/dev/null; then
			echo "demo: process $pid did not stop; killed" >&2
			killed=1
		fi
	done
	wait 2>/dev/null || true
	if grep -qs " $demo/mnt fuse" /proc/self/mounts; then
		echo "demo: $demo/mnt is still mounted; detaching it" >&2
		fusermount3 -u -z "$demo/mnt" 2>/dev/null || umount -l "$demo/mnt" 2>/dev/null || true
		killed=1
	fi
	if [ "$killed" = 1 ] && [ "$code" = 0 ]; then code=1; fi
	if [ "$killed" = 0 ]; then echo "done: no mount, no process left behind"; fi
	exit "$code"
}
trap cleanup EXIT
# Ctrl-C is how the demo ends (status 0), but it fails a --check.
trap 'exit $((check ? 130 : 0))' INT TERM

fail() {
	echo "demo: $*" >&2
	exit 1
}

# Sample content: made once, kept between runs. The video is a test pattern
# with a tone, made by ffmpeg; without ffmpeg, random bytes stand in.
sample=$demo/data/sample
if [ ! -f "$sample/README.txt" ]; then
	printf 'btfs demo: a BitTorrent client whose user interface is the filesystem.\n' >"$sample/README.txt"
	seq 1 20000 >"$sample/docs/numbers.txt"
fi
if [ ! -f "$sample/video.mp4" ] && command -v ffmpeg >/dev/null; then
	echo "making a 20-second video with ffmpeg..."
	if ffmpeg -hide_banner -loglevel error -y -f lavfi -i "testsrc2=size=1280x720:rate=30:duration=20" \
		-f lavfi -i "sine=frequency=440:duration=20" -c:v libx264 -preset veryfast -pix_fmt yuv420p \
		-c:a aac -shortest -movflags +faststart "$sample/video.tmp.mp4" </dev/null; then
		mv "$sample/video.tmp.mp4" "$sample/video.mp4"
		rm -f "$sample/video.bin"
	else
		rm -f "$sample/video.tmp.mp4"
		echo "demo: ffmpeg could not make the video; using random bytes instead" >&2
	fi
fi
if [ -f "$sample/video.mp4" ]; then
	video=video.mp4
else
	[ -f "$sample/video.bin" ] || head -c $((48 << 20)) /dev/urandom >"$sample/video.bin"
	video=video.bin
fi
# Three small torrents beside the video's: a single file, a directory, and
# one (noise.bin) that joins the library while it is mounted.
data=$demo/data
[ -f "$data/poem.txt" ] || printf 'Piece by piece,\nverified, kept, and seeded back:\nthe files were there all along.\n' >"$data/poem.txt"
if [ ! -f "$data/tables/squares.csv" ]; then
	seq 1 1000 | awk '{ print $1 "," $1 * $1 }' >"$data/tables/squares.csv"
	seq 1 1000 | awk '{ print $1 "," $1 * $1 * $1 }' >"$data/tables/cubes.csv"
fi
[ -f "$data/noise.bin" ] || head -c $((1 << 20)) /dev/urandom >"$data/noise.bin"
declare -A hashes
for name in sample poem.txt tables noise.bin; do
	hashes[$name]=$("$bin" create -f -t "http://127.0.0.1:$port_tracker/announce" -c "btfs demo" \
		-o "$demo/torrents/$name.torrent" "$data/$name" | cut -d' ' -f1)
done
hash=${hashes[sample]}

"$bin" tracker --listen "127.0.0.1:$port_tracker" --udp "127.0.0.1:$port_tracker" --interval 1m 2>"$demo/tracker.log" &
pids+=($!)
# --no-dht: the demo swarm stays on loopback; the public DHT is never asked.
for i in 1 2; do
	"$bin" seed --no-dht --listen 127.0.0.1 --port 0 -d "$demo/data" "$demo/torrents"/*.torrent 2>"$demo/seed$i.log" &
	pids+=($!)
done
cp "$demo/torrents/sample.torrent" "$demo/torrents/poem.txt.torrent" "$demo/torrents/tables.torrent" "$demo/library/"
"$bin" mount --no-dht --listen 127.0.0.1 --port 0 --cache-dir "$demo/cache" --metrics "127.0.0.1:$port_metrics" \
	--watch "$demo/library" "$demo/mnt" 2>"$demo/mount.log" &
pids+=($!)

for _ in $(seq 200); do [ -f "$demo/mnt/sample/README.txt" ] && break; sleep 0.1; done
[ -f "$demo/mnt/sample/README.txt" ] || { cat "$demo/mount.log" >&2; fail "the mount did not come up; see $show/mount.log"; }
echo
echo "\$ ls $show/mnt     # the library watched in $show/library"
ls "$demo/mnt"
echo "\$ cp $show/torrents/noise.bin.torrent $show/library/"
cp "$demo/torrents/noise.bin.torrent" "$demo/library/"
for _ in $(seq 100); do [ -e "$demo/mnt/noise.bin" ] && break; sleep 0.1; done
[ -e "$demo/mnt/noise.bin" ] || fail "noise.bin.torrent, copied into $show/library, did not appear in the mount in 10 s"
echo
echo "mounted at $show/mnt:"
find "$demo/mnt" | sed "s|$demo/||"
echo
want=$(sha1sum <"$sample/$video" | cut -d' ' -f1)
got=$(sha1sum <"$demo/mnt/sample/$video" | cut -d' ' -f1)
[ "$want" = "$got" ] || fail "$video through the mount: SHA-1 $got, expected $want"
echo "$video read through the mount: SHA-1 $got matches the seeders' copy"
for f in poem.txt tables/squares.csv tables/cubes.csv noise.bin; do
	cmp -s "$data/$f" "$demo/mnt/$f" || fail "$f through the mount differs from the seeders' copy"
done
echo "poem.txt, tables/ and noise.bin read through the mount: the same bytes as the seeders' copies"
echo
echo "\$ btfs status $show/mnt"
"$bin" status "$demo/mnt"

# http_get prints the body of http://127.0.0.1:PORT/PATH, with bash alone.
http_get() {
	exec 3<>"/dev/tcp/127.0.0.1/$1"
	printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&3
	sed '1,/^\r$/d' <&3
	exec 3<&-
}

if [ "$check" = 1 ]; then
	json=$("$bin" status --json "$demo/mnt") || fail "btfs status --json failed"
	grep -q '"name": "sample"' <<<"$json" || fail "btfs status --json does not name the torrent: $json"
	for name in "${!hashes[@]}"; do
		grep -q "\"info_hash\": \"${hashes[$name]}\"" <<<"$json" ||
			fail "btfs status --json does not show $name's info-hash ${hashes[$name]}: $json"
	done
	grep -q "\"mountpoint\": \"$demo/mnt\"" <<<"$json" || fail "btfs status --json does not show the mountpoint: $json"
	metrics=$(http_get "$port_metrics" /metrics) || fail "no metrics at 127.0.0.1:$port_metrics"
	grep -q '^btfs_downloaded_bytes_total{.*} [1-9]' <<<"$metrics" || fail "metrics show no bytes downloaded"
	grep -q '^btfs_read_duration_seconds_count [1-9]' <<<"$metrics" || fail "metrics show no reads"
	echo
	echo "check passed: the library's files verified through the mount, btfs status --json names every torrent, metrics served"
	exit 0
fi

echo
echo "What to try next, in another terminal:"
try() { printf '  %-58s # %s\n' "$1" "$2"; }
if [ "$video" = video.mp4 ]; then
	try "mpv $show/mnt/sample/$video" "plays as it arrives; seek anywhere"
fi
try "cp $show/mnt/sample/$video /tmp/" "fetched, verified, kept in the cache"
try "rm $show/library/poem.txt.torrent" "poem.txt leaves the mount; cp it back from $show/torrents"
try "$show/btfs remove $show/mnt tables" "tables/ leaves the mount at once"
try "$show/btfs add $show/mnt $show/torrents/tables.torrent" "and comes back"
try "$show/btfs status --watch" "progress, piece map, peers, open files"
try "$show/btfs status --json" "the same for scripts"
try "curl -s http://127.0.0.1:$port_metrics/metrics | grep ^btfs_" "Prometheus metrics of the mount"
try "$show/btfs info $show/torrents/sample.torrent" "what the torrent holds"
echo "Logs: $show/*.log.  Ctrl-C here unmounts and stops the swarm."
wait
