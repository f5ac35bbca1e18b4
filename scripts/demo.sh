#!/usr/bin/env bash
# Runs a demonstration migration end to end on local emulators, no cloud
# account needed: installs and starts versitygw (S3) and Azurite (Azure) with
# its copy-source front on 127.0.0.1, seeds buckets, runs 'migrate copy' and
# prints its summary, then checks every blob against its object; then uploads
# a local folder into S3 and moves it to another bucket, and checks that too.
set -euo pipefail
cd "$(dirname "$0")/.."
go run ./internal/testenv/cmd/rig install
mkdir -p .rig/bin
go build -ldflags "-X main.commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" -o .rig/bin/migrate ./cmd/migrate
exec go run ./internal/testenv/cmd/demo -migrate .rig/bin/migrate "$@"
