#!/usr/bin/env bash
# A library mount at scale: N small torrents (default 1,000) and V short
# videos (default 50), one btfs seed process seeding all of them from one
# data directory, one btfs tracker, everything on 127.0.0.1. The torrents are
# mounted from a watched directory with a short --idle-timeout, and the script
# reports, beside the targets:
#   - the time from the start of `btfs mount --watch` until every torrent is
#     listed at the mount's root;
#   - the RSS (anonymous, total, peak) of the process that serves the mount
#     (the `btfs session` process of the cache, or the mount itself), once
#     every torrent is parked;
#   - the time of `ls -lR` over the whole mount, all parked;
#   - the time to the first byte of a file of a parked torrent (head -c1);
#   - an ffprobe scan of every video: its time, and the bytes fetched per
#     file (the torrent's verified bytes in `btfs status --json`) against the
#     file's size.
#
# Usage: scripts/bench-library.sh
# Environment:
#   BTFS_BENCH_LIBRARY_N=1000       small torrents
#   BTFS_BENCH_LIBRARY_VIDEOS=50    video torrents for the ffprobe scan
#   BTFS_BENCH_LIBRARY_IDLE=5s      the mount's --idle-timeout
#   BTFS_BENCH_LIBRARY_VIDEO_SECS=6 each video's length (4 Mbit/s: 6 s is 3.3 MiB, 60 s about 30 MiB)
#   BTFS=PATH                       a btfs binary to measure (default: built
#                                   from here)
# Needs FUSE (/dev/fuse; run as root or with fusermount3) and ffmpeg.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
need_go
need_commands ffmpeg:ffmpeg ffprobe:ffmpeg jq:jq
[ -e /dev/fuse ] || { echo "bench-library: /dev/fuse is missing: FUSE is needed to mount" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || need_commands fusermount3:fuse3

n=${BTFS_BENCH_LIBRARY_N:-1000}
nv=${BTFS_BENCH_LIBRARY_VIDEOS:-50}
idle=${BTFS_BENCH_LIBRARY_IDLE:-5s}
vsecs=${BTFS_BENCH_LIBRARY_VIDEO_SECS:-6}
total=$((n + nv))

work=$(mktemp -d)
mnt=$work/mnt
pids=()
cleanup() {
	local p
	[ -n "${btfs:-}" ] && "$btfs" unmount "$mnt" >/dev/null 2>&1 || true
	for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	# The session process the mount started ends with its last mount; wait
	# for it, so that the cache directory is free to remove.
	[ -n "${server:-}" ] && for _ in $(seq 100); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
	grep -qs " $mnt fuse" /proc/self/mounts && { fusermount3 -u -z "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true; }
	rm -rf "$work"
}
trap cleanup EXIT

# now_ms prints the wall clock in milliseconds.
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# wait_until SECONDS DESCRIPTION CMD...: polls CMD until it succeeds.
wait_until() {
	local limit=$1 what=$2 start=$SECONDS
	shift 2
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS - start > limit)); then
			echo "timed out waiting for $what" >&2
			tail -20 "$work/mount.log" >&2 || true
			exit 1
		fi
		sleep 0.05
	done
}

btfs=${BTFS:-}
if [ -z "$btfs" ]; then
	go build -o "$work/btfs" ./cmd/btfs
	btfs=$work/btfs
fi

[[ $("$btfs" mount --help 2>&1) == *--watch* ]] ||
	{ echo "bench-library: this btfs has no library mount (btfs mount --watch); give one with BTFS=PATH" >&2; exit 1; }

tport=$(free_port)
announce="http://127.0.0.1:$tport/announce"
mkdir -p "$work/data" "$work/torrents" "$work/watch" "$mnt"

echo "making $n small files and $nv videos..." >&2
for i in $(seq -f %04g "$n"); do head -c $((16 << 10)) /dev/urandom >"$work/data/small-$i.bin"; done
# Test-pattern videos with a tone ($vsecs s at 4 Mbit/s each): noise (seeded per
# video, so that no two are alike) keeps the bit rate up. The index (moov) is
# at the end, as ffmpeg writes it by default: a scanner reads head and tail.
for i in $(seq -f %02g "$nv"); do
	ffmpeg -hide_banner -loglevel error -y -f lavfi -i "testsrc2=size=640x360:rate=25:duration=$vsecs" \
		-f lavfi -i "sine=frequency=$((200 + 10#$i * 10)):duration=$vsecs" \
		-vf "noise=alls=12:allf=t:all_seed=$((10#$i))" -c:v libx264 -preset ultrafast -b:v 4M -maxrate 4M \
		-bufsize 8M -pix_fmt yuv420p -c:a aac -shortest "$work/data/video-$i.mp4" </dev/null
done
echo "creating $total torrents..." >&2
(cd "$work/data" && ls) | xargs -P "$(nproc)" -I{} "$btfs" create -f -t "$announce" --threads 1 \
	-o "$work/torrents/{}.torrent" "$work/data/{}" >/dev/null 2>&1
[ "$(ls "$work/torrents" | wc -l)" -eq "$total" ] || { echo "btfs create made too few torrents" >&2; exit 1; }
sync

# Every peer here is 127.0.0.1: the tracker's limits per address (announces a
# second, torrents an address is the only peer of) would refuse the seeder's
# 1,000 announces and the mount's rejoins; they are off.
"$btfs" tracker --listen "127.0.0.1:$tport" --udp "" --max-torrents-per-ip 0 --announce-rate-per-ip 0 \
	>"$work/tracker.log" 2>&1 &
pids+=($!)
"$btfs" seed --no-dht --listen 127.0.0.1 --port "$(free_port)" --cache-dir "$work/seed-cache" -d "$work/data" \
	"$work/torrents"/*.torrent >"$work/seed.log" 2>&1 &
pids+=($!)

cp "$work/torrents"/*.torrent "$work/watch/"
listed() { [ "$(ls "$mnt" 2>/dev/null | wc -l)" -ge "$total" ]; }
echo "mounting the library..." >&2
start=$(now_ms)
"$btfs" mount --no-dht --listen 127.0.0.1 --port "$(free_port)" --cache-dir "$work/cache" \
	--idle-timeout "$idle" --watch "$work/watch" "$mnt" >"$work/mount.log" 2>&1 &
mount_pid=$!
pids+=("$mount_pid")
wait_until 120 "all $total torrents listed" listed
t_list=$(($(now_ms) - start))

# server: the process that serves the mount. With one session process per
# cache it is the `btfs session` of $work/cache; else the mount command.
server=
for d in /proc/[0-9]*; do
	cmd=$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null) || continue
	case $cmd in *" session "*"$work/cache"*) server=${d#/proc/} ;; esac
done
[ -n "$server" ] || server=$mount_pid

status_json() { "$btfs" status --json "$mnt"; }
# torrents: the jq function listing the mount's torrents in btfs status
# --json: "mounts" has one element per torrent (a session serving the mount),
# or one per mount with the torrents under "torrents".
torrents='def torrents: if (.mounts[0].torrents | type) == "array" then .mounts[0].torrents[] else .mounts[] end;'
q() { status_json | jq -r "$torrents $1"; }
# states prints how many torrents are in each state, e.g. "parked 1050".
states() { q '[torrents.state] | group_by(.) | map("\(.[0]) \(length)") | join(", ")'; }
all_parked() { [ "$(q '[torrents | select(.state != "parked")] | length')" = 0 ]; }
wait_until 120 "every torrent parked (now: $(states 2>/dev/null || echo ?))" all_parked

rss() { awk -v k="$1:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$server/status"; }
rss_anon=$(rss RssAnon) rss_total=$(rss VmRSS) rss_peak=$(rss VmHWM)

start=$(now_ms)
ls -lR "$mnt" >/dev/null
t_ls=$(($(now_ms) - start))
start=$(now_ms)
ls -lR "$mnt" >/dev/null
t_ls2=$(($(now_ms) - start))

# First byte of parked torrents: five small ones, each checked parked first.
ttfb=()
for i in $(seq -f %04g 1 $(((n + 4) / 5)) "$n" | head -5); do
	name=small-$i.bin
	state=$(q "torrents | select(.name == \"$name\") | .state")
	[ "$state" = parked ] || { echo "$name is $state, not parked" >&2; exit 1; }
	start=$(now_ms)
	head -c1 "$mnt/$name" >/dev/null
	ttfb+=($(($(now_ms) - start)))
done
ttfb_sorted=$(printf '%s\n' "${ttfb[@]}" | sort -n | tr '\n' ' ')
ttfb_median=$(printf '%s\n' "${ttfb[@]}" | sort -n | sed -n "$(((${#ttfb[@]} + 1) / 2))p")

# The ffprobe scan, of parked torrents as a scanner finds them.
echo "ffprobe over $nv videos..." >&2
start=$(now_ms)
for f in "$mnt"/video-*.mp4; do
	# -v debug: ffprobe ends with "Statistics: N bytes read, M seeks".
	timeout 60 ffprobe -v debug -show_format -show_streams "$f" >/dev/null 2>"$work/ffprobe.log" ||
		{ tail -5 "$work/ffprobe.log" >&2; echo "ffprobe failed (or took over 60 s) on $f" >&2; exit 1; }
	grep -ao 'Statistics: [0-9]* bytes read' "$work/ffprobe.log" | awk '{ s += $2 } END { print s + 0 }' >>"$work/ffprobe.read"
done
t_probe=$(($(now_ms) - start))
fetched=$(q 'torrents | select(.name | startswith("video-")) | "\(.bytes_verified) \(.length)"')
probe_median=$(awk '{ printf "%.2f\n", 100 * $1 / $2 }' <<<"$fetched" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
probe_stats=$(awk -v med="$probe_median" '{ f += $1; l += $2; r = $1 / $2; if (r > max) max = r }
	END { printf "%.1f%% of the bytes in all (%.1f of %.1f MiB), per file median %.1f%%, max %.1f%%",
		100 * f / l, f / 1048576, l / 1048576, med, 100 * max }' <<<"$fetched")
size_avg=$(awk '{ l += $2 } END { printf "%.1f", l / NR / 1048576 }' <<<"$fetched")
rss_peak_after=$(rss VmHWM) rss_anon_after=$(rss RssAnon)
probe_read=$(awk '{ s += $1 } END { printf "%.1f MiB (%.1f KiB a file)", s / 1048576, s / NR / 1024 }' "$work/ffprobe.read")

# row FIGURE VALUE TARGET VERDICT
row() { printf '%-44s %14s  %-12s %s\n' "$1" "$2" "$3" "$4"; }
ok() { awk -v v="$1" -v t="$2" 'BEGIN { print (v <= t) ? "ok" : "MISSED" }'; }
printf '%s small torrents (16 KiB) + %s videos (%s MiB on average), --idle-timeout %s, %s cores\n' \
	"$n" "$nv" "$size_avg" "$idle" "$(nproc)"
row "figure" "measured" "target" ""
row "all $total listed at the root" "${t_list} ms" "<= 3000 ms" "$(ok "$t_list" 3000)"
row "RSS anonymous, all parked" "$rss_anon MiB" "<= 150 MiB" "$(ok "$rss_anon" 150)"
row "RSS total, all parked" "$rss_total MiB" "" ""
row "RSS peak (VmHWM) until all parked" "$rss_peak MiB" "" ""
row "ls -lR of the mount, all parked" "${t_ls} ms" "<= 1000 ms" "$(ok "$t_ls" 1000)"
row "ls -lR again" "${t_ls2} ms" "" ""
row "first byte of a parked torrent (median)" "${ttfb_median} ms" "<= 100 ms" "$(ok "$ttfb_median" 100)"
row "  the five, sorted" "${ttfb_sorted% } ms" "" ""
row "ffprobe of $nv videos, in all" "${t_probe} ms" "" ""
row "RSS anonymous after the scan" "$rss_anon_after MiB" "" ""
row "RSS peak (VmHWM) after the scan" "$rss_peak_after MiB" "" ""
echo "ffprobe scan fetched: $probe_stats"
echo "ffprobe itself read: $probe_read"
echo "(the server: pid $server, $(tr '\0' ' ' <"/proc/$server/cmdline" | cut -c1-60)...)"
