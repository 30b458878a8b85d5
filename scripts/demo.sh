#!/usr/bin/env bash
# The README's first command. Today it shows what btfs does so far: it builds
# btfs, makes a sample content set, creates its torrent and inspects it.
# The mounted demo swarm (tracker, two seeders, btfs mount) replaces this when
# `btfs mount` lands.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
need_go

demo=./demo
mkdir -p "$demo/content/sample/docs"
go build -o "$demo/btfs" ./cmd/btfs
echo "built $demo/btfs ($("$demo/btfs" --version))"

head -c $((24 << 20)) /dev/urandom >"$demo/content/sample/video.bin"
printf 'btfs demo: a BitTorrent client whose user interface is the filesystem.\n' >"$demo/content/sample/README.txt"
seq 1 20000 >"$demo/content/sample/docs/numbers.txt"

"$demo/btfs" create -f -t http://127.0.0.1:6969/announce -c "btfs demo" -o "$demo/sample.torrent" "$demo/content/sample"
echo
"$demo/btfs" info "$demo/sample.torrent"
cat <<MSG

Next, try:
  $demo/btfs info --json $demo/sample.torrent
  $demo/btfs help create
The mount (btfs mount $demo/sample.torrent $demo/mnt) is not built yet; this demo grows with it.
MSG
