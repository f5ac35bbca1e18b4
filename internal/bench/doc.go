// Package bench holds the scale benchmarks of issue 10: the client's
// ceiling in objects per second, peak memory at a million objects, listing
// speed, bytes through the client and requests per object. They drive the
// real providers (providers/s3, providers/azure) and the real pipeline
// against the fake of internal/testenv/scale, so the figures are the
// tool's own. Run them with scripts/bench.sh; they never run in the normal
// test suite. The package has no code of its own.
package bench
