# The steps of scripts/bench-read.sh (sourced inside its namespace; it sets
# btfs, work, results, raw, run, size, step_timeout, btfs_args, seeks, pids,
# aria2_common, tport, hash, torrents, probe). Each step records
# "measure<TAB>column<TAB>run<TAB>value" in $raw; a failure records FAIL.

log() { echo "[$(date +%T)] $*" >&2; }
alive_pid() { [ -n "$1" ] && [ -e "/proc/$1" ] && [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
now_ns() { date +%s%N; }
drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
}
rec() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$run" "$3" >>"$raw"; }
recfail() {
	log "FAILED: run $run, $1 ($2): $3"
	rec "$1" "$2" "FAIL"
}
mbps() { awk -v b="$1" -v a="$2" -v e="$3" 'BEGIN { printf "%.1f", b / ((e - a) / 1e9) / 1e6 }'; }
secs() { awk -v a="$1" -v e="$2" 'BEGIN { printf "%.3f", (e - a) / 1e9 }'; }

# wait_until SECONDS WHAT CMD...: polls CMD until it succeeds (status 1 on the deadline).
wait_until() {
	local limit=$1 what=$2 start=$SECONDS
	shift 2
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS - start > limit)); then
			log "timed out waiting for $what"
			return 1
		fi
		sleep 0.2
	done
}
complete_count() {
	curl -s --max-time 2 "http://127.0.0.1:$tport/scrape?info_hash=$(echo "$1" | sed 's/../%&/g')" |
		grep -ao '8:completei[0-9]*e' | sed 's/8:completei//; s/e$//'
}
# swarm_ready: the tracker counts both seeders as complete for every torrent
# (aria2c announces so once it has checked a torrent's data).
swarm_ready() {
	local t
	for t in "${torrents[@]}"; do [ "$(complete_count "${hash[$t]}")" -ge 2 ] 2>/dev/null || return 1; done
}

cleanup() {
	trap - EXIT INT TERM HUP
	set +e
	[ -n "$m_pid" ] && stop_mount
	local p
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	wait 2>/dev/null
	awk -v w="$work/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m"
	done
	[ "${KEEP:-0}" = 1 ] || rm -rf "$work"
}

# aria2_get TORRENT PIECE: aria2c's cold download, MB/s.
aria2_get() {
	local t0 t1
	rm -rf "$work/dl" && mkdir -p "$work/dl" && drop_caches
	t0=$(now_ns)
	if timeout -k 5 "$step_timeout" "$work/bin/bench-leecher" "${aria2_common[@]}" --interface=127.0.0.1 --listen-port=51420 \
		--dir="$work/dl" --seed-time=0 --bt-stop-timeout=60 "$work/$1.torrent" >"$results/logs/run$run-aria2c-$2.log" 2>&1; then
		t1=$(now_ns)
		if cmp -s "$work/dl/one.bin" "$work/src/one.bin"; then rec aria2c "$2" "$(mbps "$size" "$t0" "$t1")"; else recfail aria2c "$2" "data differs"; fi
	else
		recfail aria2c "$2" "aria2c failed (log run$run-aria2c-$2.log)"
	fi
	rm -rf "$work/dl"
}

# btfs_get TORRENT PIECE: `btfs get`'s cold download, MB/s.
btfs_get() {
	local t0 t1
	rm -rf "$work/dl" && mkdir -p "$work/dl" && drop_caches
	t0=$(now_ns)
	if timeout -k 5 "$step_timeout" "$btfs" get --no-dht -o "$work/dl" --listen 127.0.0.1 --port 0 "$work/$1.torrent" \
		>"$results/logs/run$run-get-$2.log" 2>&1; then
		t1=$(now_ns)
		if cmp -s "$work/dl/one.bin" "$work/src/one.bin"; then rec get "$2" "$(mbps "$size" "$t0" "$t1")"; else recfail get "$2" "data differs"; fi
	else
		recfail get "$2" "btfs get failed (log run$run-get-$2.log)"
	fi
	rm -rf "$work/dl"
}

# start_mount CLIENT TORRENT NAME TAG: a cold mount at $work/mnt, NAME listed in it.
start_mount() {
	local client=$1 t=$2 name=$3 tag=$4 t0
	m_mnt=$work/mnt
	m_cache=$work/cache-$client
	mkdir -p "$m_mnt"
	rm -rf "$m_cache" && mkdir -p "$m_cache"
	drop_caches
	m_log=$results/logs/run$run-$client-$tag.log
	t0=$(now_ns)
	case $client in
	# shellcheck disable=SC2086
	btfs) "$btfs" -v mount --no-dht --cache-dir "$m_cache" --listen 127.0.0.1 --port 0 $btfs_args "$work/$t.torrent" "$m_mnt" >"$m_log" 2>&1 & ;;
	debian) /usr/bin/btfs -f --data-directory="$m_cache" "$work/$t.torrent" "$m_mnt" >"$m_log" 2>&1 & ;;
	esac
	m_pid=$!
	if ! timeout 70 python3 "$probe" listed "$m_mnt" "$name" "$m_pid" "$t0" 60 >/dev/null 2>"$work/listed.err"; then
		log "run $run: $client: $name not listed: $(tail -1 "$work/listed.err")"
		stop_mount
		return 1
	fi
}

# stop_mount: SIGTERM, then (after 15 s) a lazy unmount and SIGKILL; then waits
# for our session to be gone, so that the next mount starts cold.
stop_mount() {
	local i spid=""
	[ -n "$m_pid" ] || return 0
	[ -d "$work/cache-btfs" ] && spid=$(session_pid "$work/cache-btfs")
	kill -TERM "$m_pid" 2>/dev/null || true
	for i in $(seq 150); do alive_pid "$m_pid" || break; sleep 0.1; done
	if alive_pid "$m_pid"; then
		log "run $run: the mount did not exit within 15 s of SIGTERM: killed it"
		umount -l "$m_mnt" 2>/dev/null || true
		kill -KILL "$m_pid" 2>/dev/null || true
	fi
	wait "$m_pid" 2>/dev/null || true
	m_pid=""
	for i in $(seq 100); do alive_pid "$spid" || break; sleep 0.1; done
	if alive_pid "$spid"; then
		log "run $run: the btfs session outlived its mount by 10 s: killed it"
		kill -KILL "$spid" 2>/dev/null || true
	fi
	awk -v m="$m_mnt" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo && { umount "$m_mnt" 2>/dev/null || umount -l "$m_mnt"; }
	return 0
}

# session_mem PIECE TAG: VmHWM, RssAnon, RssFile (MiB) of our session now.
session_mem() {
	local spid k
	spid=$(session_pid "$m_cache")
	for k in VmHWM RssAnon RssFile; do
		if [ -n "$spid" ] && [ -r "/proc/$spid/status" ]; then
			rec "$k$2" "$1" "$(awk -v k="$k:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$spid/status")"
		else
			recfail "$k$2" "$1" "no btfs session for $m_cache"
		fi
	done
}

# dd_mbps FILE BYTES [ERRFILE]: a dd bs=1M of FILE; prints MB/s or fails.
dd_mbps() {
	local e=${3:-$work/dd.err} b s
	timeout -k 5 "$step_timeout" dd if="$1" of=/dev/null bs=1M 2>"$e" || return 1
	b=$(awk '/copied/ { print $1 }' "$e")
	s=$(sed -n 's/.*copied, \([0-9.e+-]*\) s,.*/\1/p' "$e")
	[ "$b" = "$2" ] || return 1
	awk -v b="$b" -v s="$s" 'BEGIN { printf "%.1f", b / s / 1e6 }'
}

# mount_one TORRENT PIECE: one cold dd through the mount, then its memory.
mount_one() {
	local v
	start_mount btfs "$1" one.bin "one-$2" || { recfail mount1 "$2" "not mounted"; return; }
	if v=$(dd_mbps "$m_mnt/one.bin" "$size"); then rec mount1 "$2" "$v"; else recfail mount1 "$2" "dd: $(tail -1 "$work/dd.err")"; fi
	session_mem "$2" 1
	stop_mount
}

# mount_four TORRENT PIECE: four dd's, one per file, at once; MB/s in sum.
mount_four() {
	local f t0 t1 ok=1 ps=()
	start_mount btfs "$1" four "four-$2" || { recfail mount4 "$2" "not mounted"; return; }
	t0=$(now_ns)
	for f in a b c d; do
		dd_mbps "$m_mnt/four/$f.bin" $((size / 4)) "$work/dd-$f.err" >/dev/null &
		ps+=($!)
	done
	for f in "${ps[@]}"; do wait "$f" || ok=0; done
	t1=$(now_ns)
	if [ "$ok" = 1 ]; then rec mount4 "$2" "$(mbps $((size / 4 * 4)) "$t0" "$t1")"; else recfail mount4 "$2" "a dd failed: $(cat "$work"/dd-?.err | tail -1)"; fi
	session_mem "$2" 4
	stop_mount
}

# mount_rand TORRENT PIECE: 64 KiB random reads at 50 offsets on a cold
# mount, once the first 4 KiB has been read (the mount has connected).
mount_rand() {
	local p50 p95 max
	start_mount btfs "$1" one.bin "rand-$2" || { recfail rand_p50 "$2" "not mounted"; return; }
	if timeout "$step_timeout" python3 "$probe" ttfb "$m_mnt/one.bin" >/dev/null &&
		timeout "$step_timeout" python3 "$probe" randread "$m_mnt/one.bin" "$work/src/one.bin" 50 65536 \
			"$((run * 7919))" "$results/logs/run$run-rand-$2.txt" >"$work/rand" 2>"$work/rand.err"; then
		read -r p50 p95 max <"$work/rand"
		rec rand_p50 "$2" "$p50"
		rec rand_p95 "$2" "$p95"
		rec rand_max "$2" "$max"
	else
		recfail rand_p50 "$2" "$(tail -1 "$work/rand.err" 2>/dev/null)"
	fi
	stop_mount
}

# player FILE COLUMN: ffprobe, then ffmpeg -ss T -t 2 -c copy at each seek; seconds each.
player() {
	local f=$1 col=$2 t0 t1 i=0 T
	t0=$(now_ns)
	if timeout 120 ffprobe -v error -show_format -show_streams "$f" >/dev/null 2>>"$results/logs/run$run-player-$col.err"; then
		t1=$(now_ns)
		rec probe "$col" "$(secs "$t0" "$t1")"
	else
		recfail probe "$col" "ffprobe failed"
	fi
	for T in "${seeks[@]}"; do
		i=$((i + 1))
		t0=$(now_ns)
		if timeout 120 ffmpeg -nostdin -v error -ss "$T" -i "$f" -t 2 -c copy -f null - 2>>"$results/logs/run$run-player-$col.err"; then
			t1=$(now_ns)
			rec "seek$i" "$col" "$(secs "$t0" "$t1")"
		else
			recfail "seek$i" "$col" "ffmpeg -ss $T failed"
		fi
	done
}

# video_local: the player on the local file, warm in the page cache.
video_local() {
	cat "$work/src/video/movie.mp4" >/dev/null
	player "$work/src/video/movie.mp4" local
}

# mount_video CLIENT: the player on a cold mount of the video.
mount_video() {
	start_mount "$1" video video "video" || { recfail probe "$1" "not mounted"; return; }
	player "$m_mnt/video/movie.mp4" "$1"
	stop_mount
}
