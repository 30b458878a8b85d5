#!/usr/bin/env bash
# Runs every test of the project: installs the third-party clients the interop
# tests run against (when missing), then go vet, staticcheck and go test -race.
# Usage: scripts/test.sh [go test flags...]   e.g. scripts/test.sh -run Interop
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh

need_go
need_staticcheck
tools=(mktorrent:mktorrent transmission-show:transmission-cli transmission-create:transmission-cli
	transmission-cli:transmission-cli aria2c:aria2 opentracker:opentracker fusermount3:fuse3)
need_commands "${tools[@]}"
need_libtorrent

# With the tools installed, an interop test that cannot find one is a failure,
# not a skip.
all=1
for pair in "${tools[@]}"; do command -v "${pair%%:*}" >/dev/null || all=0; done
/usr/bin/python3 -c 'import libtorrent' >/dev/null 2>&1 || all=0
if [ "$all" = 1 ]; then
	export BTFS_REQUIRE_INTEROP=1
fi

echo "== go vet" >&2
go vet ./...
echo "== staticcheck $staticcheck_version" >&2
"$STATICCHECK" ./...
echo "== go test -race" >&2
go test -race -timeout 20m "$@" ./...
