#!/usr/bin/env bash
# Runs every test of migrate on a fresh machine with Go and Node.js:
# installs the local rig (versitygw from the Go module proxy, Azurite from
# npm) into .rig/ when missing, checks formatting and vet, then runs the whole
# suite with the race detector. The integration tests start the servers
# themselves on 127.0.0.1. With CI=true a test that cannot reach them fails.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== installing the local rig (versitygw, Azurite) if missing"
go run ./internal/testenv/cmd/rig install

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.rig/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change: $unformatted" >&2
  exit 1
fi

echo "== go vet"
go vet ./...

echo "== go test -race"
go test -race -count=1 -timeout 25m ./... "$@"
