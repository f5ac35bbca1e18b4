// Package testenv starts the real local servers the tests and the demo run
// against: versitygw as the S3 source and Azurite as the Azure Blob Storage
// destination, each bound to 127.0.0.1 on a free port, as child processes in
// their own process group that die with the parent. Azurite cannot pull a
// block or blob from a URL outside itself, so the Azure endpoint handed out
// is a CopySourceFront: a reverse proxy that performs Put Block From URL and
// Put Blob From URL itself (fetching the source, answering source failures
// the way Azure does) and replays them to Azurite as Put Block and Put Blob.
// S3Proxy records S3 traffic and injects faults for tests.
//
// Tests use the lazily started, per-binary servers through S3 and Azure,
// with Main in TestMain to stop them. The tools are installed into ToolsDir
// by InstallTools (`go run ./internal/testenv/cmd/rig install`). This
// package is test and demo infrastructure; the tool itself never imports it.
package testenv
