package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/migrate-tool/migrate/pipeline"
	"github.com/migrate-tool/migrate/providers/providertest"
)

// verifyExit maps runVerify's error to the exit code main gives it once
// its dispatch knows verify (verifyDiffError: 3).
func verifyExit(err error, stderr io.Writer) int {
	var vd verifyDiffError
	if errors.As(err, &vd) {
		return 3
	}
	return exitCode(err, stderr)
}

// verifyHere runs 'migrate verify' in this process with the rig's
// credentials (AWS's from the environment the test set).
func (w *world) verifyHere(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	getenv := func(k string) string {
		switch k {
		case "AZURE_STORAGE_ACCOUNT":
			return w.az.Account
		case "AZURE_STORAGE_KEY":
			return w.az.Key
		}
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := verifyExit(runVerify(ctx, args, getenv, &stdout, &stderr), &stderr)
	for _, secret := range []string{w.s3.SecretKey, w.az.Key} {
		if strings.Contains(stdout.String()+stderr.String(), secret) {
			t.Errorf("output contains secret %q", secret)
		}
	}
	return code, stdout.String(), stderr.String()
}

// putMultipart uploads key in two parts, so its ETag is "<md5>-2" and no
// MD5 of its content is known anywhere.
func (w *world) putMultipart(t *testing.T, bucket, key string, data []byte) {
	t.Helper()
	ctx := context.Background()
	up, err := w.s3c.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	const part = 5 << 20
	var parts []s3types.CompletedPart
	for i, chunk := range [][]byte{data[:part], data[part:]} {
		n := int32(i + 1)
		res, err := w.s3c.UploadPart(ctx, &awss3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: up.UploadId,
			PartNumber: aws.Int32(n), Body: bytes.NewReader(chunk)})
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, s3types.CompletedPart{ETag: res.ETag, PartNumber: aws.Int32(n)})
	}
	if _, err := w.s3c.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key),
		UploadId: up.UploadId, MultipartUpload: &s3types.CompletedMultipartUpload{Parts: parts}}); err != nil {
		t.Fatal(err)
	}
}

// putBlob writes a blob straight into Azurite: one block, committed, with
// the given Content-MD5 (nil: none, as a blob committed from blocks).
func (w *world) putBlob(t *testing.T, cont, name string, data, contentMD5 []byte) {
	t.Helper()
	ctx := context.Background()
	bb := w.azc.ServiceClient().NewContainerClient(cont).NewBlockBlobClient(name)
	id := base64.StdEncoding.EncodeToString([]byte("block-0"))
	if _, err := bb.StageBlock(ctx, id, streaming.NopCloser(bytes.NewReader(data)), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := bb.CommitBlockList(ctx, []string{id}, &blockblob.CommitBlockListOptions{HTTPHeaders: &blob.HTTPHeaders{BlobContentMD5: contentMD5}}); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyEndToEnd copies a bucket, verifies it (0), then tampers with
// the container: a same-size rewrite of a blob without MD5 is found only
// with --deep; a deleted blob, a same-size rewrite with an MD5 and an extra
// blob are found by the listings (3).
func TestVerifyEndToEnd(t *testing.T) {
	w := newWorld(t)
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": w.s3.AccessKey, "AWS_SECRET_ACCESS_KEY": w.s3.SecretKey, "AWS_REGION": w.s3.Region,
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
		"AWS_SESSION_TOKEN": "", "AWS_PROFILE": "", "MIGRATE_JOURNAL_DIR": t.TempDir(),
	} {
		t.Setenv(k, v)
	}
	const bucket = "e2e-verify"
	files := map[string][]byte{
		"a.txt":     providertest.Data(1000, 1),
		"b.txt":     providertest.Data(2000, 2),
		"dir/c.txt": providertest.Data(3000, 3),
		"empty":     nil,
	}
	var seeds []seed
	for k, v := range files {
		seeds = append(seeds, seed{key: k, data: v})
	}
	seeds = append(seeds, seed{key: "dir/", data: nil}) // a folder marker: not copied, not missing
	w.seed(t, bucket, seeds)
	big := providertest.Data(5<<20+1000, 4)
	w.putMultipart(t, bucket, "big.bin", big)

	const cont = "e2e-verify"
	dst := w.az.Endpoint + "/" + cont + "/copied"
	// Blocks of 1 MiB: Azure computes no Content-MD5 for the multipart
	// object, whose MD5 nobody knows.
	code, stdout, stderr := w.run(t, "copy", "s3://"+bucket, dst, "--s3-endpoint", w.proxy.URL, "--put-blob-max-size", "1MiB", "--block-size", "1MiB")
	if code != 0 {
		t.Fatalf("copy: exit %d\n%s\n%s", code, stdout, stderr)
	}
	verify := func(extra ...string) (int, string, string) {
		return w.verifyHere(t, append([]string{"s3://" + bucket, dst, "--s3-endpoint", w.proxy.URL, "--retries", "1"}, extra...)...)
	}

	code, stdout, stderr = verify()
	if code != 0 {
		t.Fatalf("verify of a clean copy: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"source objects:    5", "matched:           5", "content equal:   4", "size only:       1", "skipped:           1", "Result: everything matches"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("clean verify output lacks %q:\n%s", want, stdout)
		}
	}
	if code, stdout, stderr = verify("--deep"); code != 0 || !strings.Contains(stdout, "1 by reading both sides") {
		t.Fatalf("deep verify of a clean copy: exit %d\n%s\n%s", code, stdout, stderr)
	}

	// The multipart object's blob rewritten with other bytes of its size:
	// only --deep can tell.
	other := bytes.Clone(big)
	other[len(other)/2] ^= 0xff
	w.putBlob(t, cont, "copied/big.bin", other, nil)
	if code, stdout, stderr = verify(); code != 0 {
		t.Errorf("verify without --deep: exit %d, want 0 (sizes match, no MD5)\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, stderr = verify("--deep")
	if code != 3 || !strings.Contains(stdout, "content differs:   1") || !strings.Contains(stdout, "copied/big.bin: SHA-256") {
		t.Errorf("verify --deep: exit %d, want 3 naming big.bin\n%s\n%s", code, stdout, stderr)
	}
	w.putBlob(t, cont, "copied/big.bin", big, nil)

	// Missing, extra, and a same-size rewrite whose MD5 Azure knows.
	if _, err := w.azc.ServiceClient().NewContainerClient(cont).NewBlobClient("copied/a.txt").Delete(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	changed := providertest.Data(2000, 99)
	sum := md5.Sum(changed)
	w.putBlob(t, cont, "copied/b.txt", changed, sum[:])
	w.putBlob(t, cont, "copied/zz-extra.txt", []byte("extra"), nil)
	code, stdout, stderr = verify("--output", "json")
	if code != 3 {
		t.Fatalf("verify after tampering: exit %d, want 3\n%s\n%s", code, stdout, stderr)
	}
	var doc verifyDoc
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("--output json is not one JSON document: %v\n%s", err, stdout)
	}
	tot := doc.Totals
	if doc.Result != "differences" || tot.Missing != 1 || tot.Extra != 1 || tot.HashMismatch != 1 || tot.SizeMismatch != 0 || tot.Matched != 3 {
		t.Errorf("totals %+v, result %q", tot, doc.Result)
	}
	var got []string
	for _, d := range doc.Differences {
		got = append(got, d.Kind+" "+d.Source+" "+d.Destination)
	}
	want := []string{
		"missing s3://" + bucket + "/a.txt " + cont + "/copied/a.txt",
		"extra  " + cont + "/copied/zz-extra.txt",
		"hash s3://" + bucket + "/b.txt " + cont + "/copied/b.txt",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("differences\n%q\nwant\n%q", got, want)
	}
	if len(doc.Differences) == 3 && !strings.Contains(doc.Differences[2].Detail, fmt.Sprintf("%x", sum)) {
		t.Errorf("hash detail %q does not name the destination's MD5", doc.Differences[2].Detail)
	}

	// Usage errors are exit 2 and name what to fix.
	for _, args := range [][]string{
		{"s3://" + bucket},
		{"s3://" + bucket, dst, "--output", "xml"},
		{"s3://" + bucket, dst, "--max-listed", "-1"},
		{"s3://" + bucket, dst, "--no-such-flag"},
	} {
		if code, _, stderr := w.verifyHere(t, args...); code != 2 {
			t.Errorf("%q: exit %d, want 2\n%s", args, code, stderr)
		}
	}

	// Through the binary, once main dispatches 'verify'.
	code, stdout, stderr = w.run(t, "verify", "s3://"+bucket, dst, "--s3-endpoint", w.proxy.URL, "--max-listed", "0")
	if strings.Contains(stderr, `unknown command "verify"`) {
		t.Skip("the binary does not dispatch 'verify' yet (main.go)")
	}
	if code != 3 || !strings.Contains(stdout, "... and 1 more of kind missing") || strings.Contains(stdout, "Differences:") {
		t.Errorf("binary: exit %d, want 3 with the differences counted, none listed\n%s\n%s", code, stdout, stderr)
	}
	t.Logf("binary's report:\n%s", stdout)
}

func TestSplitVerifyArgs(t *testing.T) {
	var f verifyFlags
	vfs := newVerifyFlagSet(&f, io.Discard)
	cfs := newCopyFlagSet(&copyFlags{}, io.Discard)
	mine, theirs, help, npos := splitVerifyArgs([]string{
		"--deep", "s3://b", "--s3-endpoint", "http://x", "--output", "json", "--rename-invalid-keys", "dst",
		"--max-listed=5", "--retries=2", "--metadata=false", "--", "--odd",
	}, vfs, cfs)
	if fmt.Sprint(mine) != "[--deep --output json --max-listed=5 --metadata=false]" ||
		fmt.Sprint(theirs) != "[s3://b --s3-endpoint http://x --rename-invalid-keys dst --retries=2 -- --odd]" || help || npos != 3 {
		t.Errorf("mine %q, theirs %q, help %v, positional %d", mine, theirs, help, npos)
	}
	if _, _, help, _ := splitVerifyArgs([]string{"s3://b", "-h"}, vfs, cfs); !help {
		t.Error("-h is help")
	}
}

// TestVerifyReportFormats renders a report with every kind of difference,
// two routes and unlisted differences, as text and as JSON.
func TestVerifyReportFormats(t *testing.T) {
	routes := []pipeline.RouteVerify{
		{Route: pipeline.Route{Bucket: "b1", Container: "c1"}, VerifyCounts: pipeline.VerifyCounts{SourceObjects: 3, Matched: 1, Missing: 1, HashMismatch: 1, ContentVerified: 1}},
		{Route: pipeline.Route{Bucket: "b2", Container: "c2"}, ContainerMissing: true, VerifyCounts: pipeline.VerifyCounts{SourceObjects: 2, Missing: 2}},
		{Route: pipeline.Route{Bucket: "b3", Container: "c3"}, Error: "listing stopped"},
	}
	rep := pipeline.VerifyReport{Routes: routes, FailedRoutes: 1, Metadata: true,
		Differences: []pipeline.Difference{
			{Kind: pipeline.DiffMissing, Bucket: "b1", Key: "k", Container: "c1", Blob: "k", SrcSize: 10, DstSize: -1},
			{Kind: pipeline.DiffExtra, Bucket: "b1", Container: "c1", Blob: "x", SrcSize: -1, DstSize: 5},
			{Kind: pipeline.DiffHash, Bucket: "b1", Key: "h", Container: "c1", Blob: "h", SrcSize: 1, DstSize: 1, Detail: "source MD5 00, destination Content-MD5 11"},
		},
		Unlisted: map[pipeline.DiffKind]int64{pipeline.DiffMissing: 2},
	}
	for _, r := range routes {
		rep.VerifyCounts.SourceObjects += r.SourceObjects
		rep.Matched += r.Matched
		rep.Missing += r.Missing
		rep.HashMismatch += r.HashMismatch
		rep.ContentVerified += r.ContentVerified
	}
	var text bytes.Buffer
	printVerify(&text, "https://acct.blob.core.windows.net", rep)
	for _, want := range []string{
		"b2                           c2", "container c2 does not exist", "error: listing stopped",
		"missing   s3://b1/k -> c1/k (10 B)", "extra     c1/x (5 B)", "hash      s3://b1/h -> c1/h: source MD5 00",
		"... and 2 more of kind missing", "metadata differs:  0", "Result: incomplete (4 differences",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q", want)
		}
	}
	t.Logf("text:\n%s", text.String())
	var js bytes.Buffer
	writeVerifyJSON(&js, rep, false)
	var doc map[string]any
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["result"] != "incomplete" || doc["version"] != float64(1) || len(doc["routes"].([]any)) != 3 || len(doc["differences"].([]any)) != 3 {
		t.Errorf("json: %s", js.String())
	}
	extra := doc["differences"].([]any)[1].(map[string]any)
	if _, ok := extra["source"]; ok || extra["destination_size"] != float64(5) {
		t.Errorf("extra difference: %v", extra)
	}
	t.Logf("json:\n%s", js.String())
}
