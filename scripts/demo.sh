#!/usr/bin/env bash
# The README's first command: a demo swarm on loopback, mounted.
# It builds btfs, makes sample content, creates its torrent, starts a tracker
# and two seeders on 127.0.0.1, mounts the torrent at ./demo/mnt, verifies a
# file through the mount, and waits. Ctrl-C unmounts and stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
need_go
[ -e /dev/fuse ] || { echo "demo: /dev/fuse is missing: FUSE is needed to mount (modprobe fuse, or run on a machine with FUSE)" >&2; exit 1; }
if [ "$(id -u)" -ne 0 ]; then
	need_commands fusermount3:fuse3
	command -v fusermount3 >/dev/null || { echo "demo: mounting as a user needs fusermount3 (Debian package fuse3)" >&2; exit 1; }
fi

demo=$PWD/demo
bin=$demo/btfs
port_tracker=${BTFS_DEMO_PORT:-16969}
mkdir -p "$demo/data/sample/docs" "$demo/mnt"
go build -o "$bin" ./cmd/btfs
echo "built $bin"

pids=()
cleanup() {
	trap - INT TERM EXIT
	echo
	echo "stopping..."
	"$bin" unmount "$demo/mnt" 2>/dev/null || true
	for pid in "${pids[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	echo "done: no mount, no process left behind"
}
trap cleanup INT TERM EXIT

# Sample content: made once, kept between runs.
if [ ! -f "$demo/data/sample/video.bin" ]; then
	head -c $((48 << 20)) /dev/urandom >"$demo/data/sample/video.bin"
	printf 'btfs demo: a BitTorrent client whose user interface is the filesystem.\n' >"$demo/data/sample/README.txt"
	seq 1 20000 >"$demo/data/sample/docs/numbers.txt"
fi
"$bin" create -f -t "http://127.0.0.1:$port_tracker/announce" -c "btfs demo" -o "$demo/sample.torrent" "$demo/data/sample" >/dev/null

"$bin" tracker --listen "127.0.0.1:$port_tracker" --udp "127.0.0.1:$port_tracker" --interval 1m 2>"$demo/tracker.log" &
pids+=($!)
for i in 1 2; do
	"$bin" seed --listen 127.0.0.1 --port 0 -d "$demo/data" "$demo/sample.torrent" 2>"$demo/seed$i.log" &
	pids+=($!)
done
"$bin" mount --listen 127.0.0.1 --port 0 --cache-dir "$demo/cache" "$demo/sample.torrent" "$demo/mnt" 2>"$demo/mount.log" &
pids+=($!)

for _ in $(seq 100); do [ -f "$demo/mnt/sample/README.txt" ] && break; sleep 0.1; done
[ -f "$demo/mnt/sample/README.txt" ] || { echo "the mount did not come up; see $demo/mount.log" >&2; cat "$demo/mount.log" >&2; exit 1; }

echo
echo "mounted at $demo/mnt:"
find "$demo/mnt" | sed "s|$demo/||"
echo
want=$(sha1sum <"$demo/data/sample/video.bin" | cut -d' ' -f1)
got=$(sha1sum <"$demo/mnt/sample/video.bin" | cut -d' ' -f1)
if [ "$want" = "$got" ]; then
	echo "video.bin read through the mount: SHA-1 $got matches the seeders' copy"
else
	echo "video.bin through the mount: SHA-1 $got, expected $want" >&2
	exit 1
fi
cat <<MSG

Try, in another terminal:
  cat $demo/mnt/sample/README.txt
  cp $demo/mnt/sample/video.bin /tmp/
  $bin info $demo/sample.torrent
Logs: $demo/*.log.  Ctrl-C here unmounts and stops the swarm.
MSG
wait
