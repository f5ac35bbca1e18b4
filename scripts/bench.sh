#!/usr/bin/env bash
# Runs the scale benchmarks of issue 10 (internal/bench: the real providers
# and pipeline against the fake of internal/testenv/scale on 127.0.0.1) and
# the local-upload benchmark of issue 9 (a folder into the rig's versitygw;
# needs the rig, installed by scripts/test.sh) and prints one table: figure,
# target, result, met?
#
#   scripts/bench.sh            the issues' sizes (about 12 minutes on 2 cores; 12 GiB of disk)
#   QUICK=1 scripts/bench.sh    about a tenth of the sizes (about 90 s), for a smoke test
#
# The raw `go test -bench` output is kept in $OUT (default bench.out in a
# temporary directory) and its path printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-$(mktemp -d)/bench.out}
ceiling=100000 memory=100000,1000000 list=1000000 small=20000
localsmall=53248 locallarge=5 locallargesize=$((2 << 30))
if [ "${QUICK:-}" = 1 ]; then
  ceiling=10000 memory=10000,100000 list=100000 small=5000
  localsmall=5000 locallarge=2 locallargesize=$((256 << 20))
fi

go test -c -o "$(dirname "$OUT")/bench.test" ./internal/bench
bin="$(dirname "$OUT")/bench.test"
args=(-test.run '^$' -test.benchtime 1x -test.count 1 -test.timeout 30m
  -bench.ceiling-objects "$ceiling" -bench.memory-objects "$memory" -bench.list-keys "$list" -bench.small-objects "$small"
  -bench.local-small-files "$localsmall" -bench.local-large-files "$locallarge" -bench.local-large-size "$locallargesize")
echo "== running the benchmarks (raw output: $OUT)" >&2
(cd internal/bench && "$bin" "${args[@]}" -test.bench . | tee "$OUT" >&2)

awk -v memory="$memory" -v list="$list" -v localsmall="$localsmall" -v locallarge="$locallarge" -v locallargesize="$locallargesize" '
/^Benchmark/ {
  name = $1; sub(/-[0-9]+$/, "", name)
  for (i = 3; i < NF; i += 2) v[name, $(i + 1)] = $i
}
function row(fig, target, result, met) { printf "| %-52s | %-26s | %-28s | %-4s |\n", fig, target, result, met < 0 ? "-" : met ? "yes" : "NO" }
function best(prefix, unit,   k, b, parts) {
  b = 0
  for (k in v) { split(k, parts, SUBSEP); if (index(parts[1], prefix) == 1 && parts[2] == unit && v[k] + 0 > b) b = v[k] + 0 }
  return b
}
END {
  split(memory, m, ",")
  printf "| %-52s | %-26s | %-28s | %-4s |\n", "figure", "target", "result", "met?"
  print "|------------------------------------------------------|----------------------------|------------------------------|------|"
  for (k in v) { split(k, p, SUBSEP); if (p[1] ~ /^BenchmarkCeiling\// && p[2] == "objects/s") {
    c = p[1]; sub(/^BenchmarkCeiling\//, "", c)
    t = (c ~ /latency=0ms/) ? 3000 : 2000
    row("1. client ceiling, " c, ">= " t " objects/s", sprintf("%.0f objects/s", v[k]), v[k] >= t) } }
  small = best("BenchmarkMemory/objects=" m[1] "/journal=false/", "peak-RSS-MiB")
  large = best("BenchmarkMemory/objects=" m[2] "/journal=false/", "peak-RSS-MiB")
  row("2. peak RSS, copy of " m[2] " objects", "<= 150 MiB", sprintf("%.1f MiB", large), large > 0 && large <= 150)
  if (small > 0) row("2. peak RSS growth, " m[2] " vs " m[1] " objects", "<= 20%", sprintf("%+.1f%% (%.1f -> %.1f MiB)", 100 * (large / small - 1), small, large), large <= 1.2 * small)
  js = best("BenchmarkMemory/objects=" m[2] "/journal=true/", "peak-RSS-MiB")
  if (js > 0) row("2. peak RSS with the journal, " m[2] " objects", "<= 150 MiB", sprintf("%.1f MiB", js), js <= 150)
  seq = v["BenchmarkList/streams=1", "keys/s"]
  if (seq > 0) row("3. list at 50 ms, " list " keys, one stream", "(baseline)", sprintf("%.0f keys/s (%.1f s/1M)", seq, 1e6 / seq), -1)
  for (k in v) { split(k, p, SUBSEP); if (p[1] ~ /^BenchmarkList\/streams=/ && p[1] != "BenchmarkList/streams=1" && p[2] == "keys/s") {
    s = p[1]; sub(/^BenchmarkList\/streams=/, "", s); d = sub(/^default-/, "", s) ? " (default)" : ""
    row("3. list at 50 ms, " list " keys, " s " ranges" d, "parallel, > one stream", sprintf("%.0f keys/s (x%.1f, %.1f s/1M)", v[k], v[k] / seq, 1e6 / v[k]), seq > 0 && v[k] > seq)
    row("3.   extra ListObjectsV2 requests (split probes)", "-", sprintf("%.0f (+%.1f%% requests)", v[p[1], "extra-list-requests"], 100 * v[p[1], "extra-list-requests"] / v["BenchmarkList/streams=1", "list-requests"]), -1) } }
  for (k in v) { split(k, p, SUBSEP); if (p[1] ~ /^BenchmarkBytesThroughClient\// && p[2] == "payload-%-through-client") {
    s = p[1]; sub(/^BenchmarkBytesThroughClient\/sizes=/, "", s)
    row("4. payload through the client, " s, "<= 0.1% of payload", sprintf("%.3f%%", v[k]), v[k] <= 0.1)
    b = v[p[1], "body-%-of-payload"]
    row("4. all body bytes through the client, " s, "<= 0.1% of payload", sprintf("%.3f%% (%.0f B/object)", b, v[p[1], "body-B/object"]), b <= 0.1) } }
  for (t = 0; t < 2; t++) {
    n = "BenchmarkRequestsPerObject/tags=" (t ? "true" : "false")
    row("5. requests/object, tags " (t ? "on" : "off") ": total", t ? "<= 2.001 + 1/tagged" : "<= 2.001", sprintf("%.3f", v[n, "requests/object"]), t ? v[n, "tags/untagged-object"] == 0 && v[n, "tags/tagged-object"] <= 1 : v[n, "requests/object"] <= 2.0011)
    row("5.   listing / HEAD / Put Blob From URL per object", "0.001 / 1 / 1", sprintf("%.4f / %.3f / %.3f", v[n, "list/object"], v[n, "head/object"], v[n, "put-from-url/object"]), v[n, "list/object"] <= 0.0011 && v[n, "head/object"] <= 1 && v[n, "put-from-url/object"] <= 1)
    row("5.   GetObjectTagging per tagged / untagged object", t ? "1 / 0" : "0 / 0", sprintf("%.3f / %.3f", v[n, "tags/tagged-object"], v[n, "tags/untagged-object"]), v[n, "tags/untagged-object"] == 0 && v[n, "tags/tagged-object"] == t)
  }
  fs = v["BenchmarkLocalUpload/small", "files/s"]
  if (fs > 0) {
    row("7. local folder -> S3, " localsmall " x 32 KiB, 1 process", "> 362 files/s (AWS CLI, 26 procs)", sprintf("%.0f files/s (%.2f req/file)", fs, v["BenchmarkLocalUpload/small", "requests/file"]), fs > 362)
    row("7. local folder -> S3, " locallarge " x " locallargesize / 1048576 " MiB (parallel parts)", "-", sprintf("%.1f MiB/s (%.0f req/file)", v["BenchmarkLocalUpload/large", "MiB/s"], v["BenchmarkLocalUpload/large", "requests/file"]), -1)
  }
}' "$OUT"
echo >&2
echo "raw output: $OUT" >&2
