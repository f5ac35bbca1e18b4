#!/usr/bin/env bash
# Runs migrate and rclone side by side on the local rig (versitygw, Azurite
# and its copy-source front on 127.0.0.1; issue 10, item 6) and prints one
# table: wall time, client CPU seconds and bytes through the client for each
# tool on 2,000 objects of 4 KiB and on 5 objects of 64 MiB. Every copy is
# checked blob by blob (MD5) and the run fails if one differs.
#
#   scripts/bench-rclone.sh                 two rounds (about a minute on 2 cores, plus rclone's build the first time)
#   RUNS=1 scripts/bench-rclone.sh          one round
#   scripts/bench-rclone.sh -large-objects 2 -small-objects 200   a smaller smoke run
#
# Installs what is missing into .rig/: the rig (as demo.sh does) and rclone
# ($RCLONE_VERSION, default v1.75.1, built with `go install`: a few minutes).
# Builds migrate from this tree unless $MIGRATE names a binary. rclone flags:
# -rclone-small-flags / -rclone-large-flags (defaults "--transfers 64
# --checkers 64" and "--transfers 8 --checkers 8"). The helper is
# internal/bench/cmd/vsrclone; its flags follow -h.
set -euo pipefail
cd "$(dirname "$0")/.."
go run ./internal/testenv/cmd/rig install
mkdir -p .rig/bin
RCLONE=${RCLONE:-.rig/bin/rclone}
if [ ! -x "$RCLONE" ]; then
  echo "== installing github.com/rclone/rclone@${RCLONE_VERSION:-v1.75.1} into .rig/bin (a few minutes)" >&2
  GOBIN="$PWD/.rig/bin" GOFLAGS= go install "github.com/rclone/rclone@${RCLONE_VERSION:-v1.75.1}"
fi
if [ -z "${MIGRATE:-}" ]; then
  go build -ldflags "-X main.commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" -o .rig/bin/migrate ./cmd/migrate
  MIGRATE=.rig/bin/migrate
fi
exec go run ./internal/bench/cmd/vsrclone -migrate "$MIGRATE" -rclone "$RCLONE" -runs "${RUNS:-2}" "$@"
