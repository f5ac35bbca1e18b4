package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/migrate-tool/migrate/internal/testenv"
	"github.com/migrate-tool/migrate/providers/providertest"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds cmd/migrate once per test run.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "migrate-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "migrate")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// world is the rig as one test sees it: S3 behind a recording proxy, Azure
// behind the copy-source front.
type world struct {
	s3    *testenv.S3Server
	proxy *testenv.S3Proxy
	az    *testenv.AzureServer
	s3c   *awss3.Client
	azc   *azblob.Client
}

func newWorld(t *testing.T) *world {
	t.Helper()
	return newWorldOn(t, testenv.S3(t), testenv.Azure(t))
}

// newPrivateWorld starts servers of the test's own, for tests that see the
// whole account (every bucket, every container).
func newPrivateWorld(t *testing.T) *world {
	t.Helper()
	testenv.S3(t) // skips, or fails in CI, when the rig is missing
	ctx := context.Background()
	s3srv, err := testenv.StartS3(ctx, testenv.S3Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s3srv.Stop() })
	az, err := testenv.StartAzure(ctx, testenv.AzureOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { az.Stop() })
	return newWorldOn(t, s3srv, az)
}

func newWorldOn(t *testing.T, s3srv *testenv.S3Server, az *testenv.AzureServer) *world {
	t.Helper()
	w := &world{s3: s3srv, az: az}
	var err error
	if w.proxy, err = testenv.NewS3Proxy(w.s3.Endpoint); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.proxy.Close() })
	if w.s3c, err = w.s3.NewClient(context.Background()); err != nil {
		t.Fatal(err)
	}
	cred, err := azblob.NewSharedKeyCredential(w.az.Account, w.az.Key)
	if err != nil {
		t.Fatal(err)
	}
	if w.azc, err = azblob.NewClientWithSharedKeyCredential(w.az.AzuriteEndpoint+"/", cred, nil); err != nil {
		t.Fatal(err)
	}
	return w
}

// run executes the binary with the rig's credentials and returns its exit
// code, stdout and stderr.
func (w *world) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return w.runEnv(t, w.azureKey(), args...)
}

// childEnv is the environment of a migrate process: the rig's AWS
// credentials, no Azure credential (callers add the one they test), nothing
// from the developer's own configuration, then extra.
func (w *world) childEnv(extra ...string) []string {
	env := append(os.Environ(),
		"AWS_ACCESS_KEY_ID="+w.s3.AccessKey, "AWS_SECRET_ACCESS_KEY="+w.s3.SecretKey, "AWS_REGION="+w.s3.Region,
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		// As on many corporate machines: the SDK must still build its client.
		"AWS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt",
		"AZURE_STORAGE_ACCOUNT=", "AZURE_STORAGE_KEY=", "AZURE_STORAGE_CONNECTION_STRING=", "AZURE_STORAGE_SAS_TOKEN=",
		"MIGRATE_SSE_C_KEY=")
	return append(env, extra...)
}

// azureKey is the environment that gives a migrate process the rig's
// account key.
func (w *world) azureKey() []string {
	return []string{"AZURE_STORAGE_ACCOUNT=" + w.az.Account, "AZURE_STORAGE_KEY=" + w.az.Key}
}

// runEnv is run with the Azure credential given in env.
func (w *world) runEnv(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	cmd.Env = w.childEnv(append([]string{"MIGRATE_JOURNAL_DIR=" + t.TempDir()}, env...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	// Not on a terminal: no control characters (cursor movement, \r).
	for _, out := range []string{stdout.String(), stderr.String()} {
		if i := strings.IndexFunc(out, func(r rune) bool { return r < 0x20 && r != '\n' && r != '\t' || r == 0x7f }); i >= 0 {
			t.Errorf("output holds control character %q at %d: %q", out[i], i, out[max(0, i-40):min(len(out), i+40)])
		}
	}
	// No secret the tool was given may appear in anything it printed.
	for _, secret := range []string{w.s3.SecretKey, w.az.Key, "X-Amz-Signature=", "X-Amz-Credential=", "sig="} {
		if strings.Contains(stdout.String()+stderr.String(), secret) {
			t.Errorf("output contains secret %q", secret)
		}
	}
	return code, stdout.String(), stderr.String()
}

type seed struct {
	key  string
	data []byte
	put  func(*awss3.PutObjectInput)
}

func (w *world) seed(t *testing.T, bucket string, objs []seed) {
	t.Helper()
	ctx := context.Background()
	if _, err := w.s3c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("create bucket %s: %v", bucket, err)
	}
	for _, o := range objs {
		in := &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(o.key), Body: bytes.NewReader(o.data)}
		if o.put != nil {
			o.put(in)
		}
		if _, err := w.s3c.PutObject(ctx, in); err != nil {
			t.Fatalf("put %s: %v", o.key, err)
		}
	}
}

func (w *world) blob(t *testing.T, cont, name string) ([]byte, container.BlobProperties, map[string]*string) {
	t.Helper()
	ctx := context.Background()
	bc := w.azc.ServiceClient().NewContainerClient(cont).NewBlobClient(name)
	p, err := bc.GetProperties(ctx, nil)
	if err != nil {
		t.Fatalf("properties of %s/%s: %v", cont, name, err)
	}
	props := container.BlobProperties{ContentType: p.ContentType, ContentEncoding: p.ContentEncoding, ContentMD5: p.ContentMD5,
		ContentDisposition: p.ContentDisposition, ContentLanguage: p.ContentLanguage, CacheControl: p.CacheControl}
	return w.download(t, cont, name), props, p.Metadata
}

func (w *world) download(t *testing.T, cont, name string) []byte {
	t.Helper()
	ctx := context.Background()
	bc := w.azc.ServiceClient().NewContainerClient(cont).NewBlobClient(name)
	resp, err := bc.DownloadStream(ctx, nil)
	if err != nil {
		t.Fatalf("download %s/%s: %v", cont, name, err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// eachBlob calls fn for every blob of cont, listed straight from Azurite.
func (w *world) eachBlob(t *testing.T, cont string, fn func(*container.BlobItem)) {
	t.Helper()
	pager := w.azc.NewListBlobsFlatPager(cont, nil)
	for pager.More() {
		page, err := pager.NextPage(context.Background())
		if err != nil {
			t.Fatalf("list %s: %v", cont, err)
		}
		for _, b := range page.Segment.BlobItems {
			fn(b)
		}
	}
}

func (w *world) listBlobs(t *testing.T, cont string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	w.eachBlob(t, cont, func(b *container.BlobItem) { out[*b.Name] = *b.Properties.ContentLength })
	return out
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// TestCopyBucketEndToEnd copies a bucket of 210 objects of mixed sizes
// through the built binary, server-side, and checks every blob.
func TestCopyBucketEndToEnd(t *testing.T) {
	w := newWorld(t)
	const bucket = "e2e.mixed--sizes"
	var objs []seed
	sizes := []int{0, 1, 2, 1023, 1024, 4096, 65536, 300 * 1024, 1 << 20, 1<<20 + 5}
	for i := 0; i < 200; i++ {
		objs = append(objs, seed{key: fmt.Sprintf("dir%d/obj-%03d.bin", i%7, i), data: providertest.Data(sizes[i%len(sizes)], uint32(i))})
	}
	withHeaders := func(in *awss3.PutObjectInput) {
		in.ContentType = aws.String("application/json")
		in.ContentEncoding = aws.String("identity")
		in.ContentDisposition = aws.String(`attachment; filename="a.json"`)
		in.ContentLanguage = aws.String("en-GB")
		in.CacheControl = aws.String("max-age=3600")
		in.Metadata = map[string]string{"valid_name": "kept", "Owner": "team-a", "my-key": "dropped", "1abc": "dropped"}
	}
	big := providertest.Data(3*1024*1024+12345, 999) // 4 blocks of 1 MiB
	objs = append(objs,
		seed{key: "headers/doc.json", data: []byte(`{"a":1}`), put: withHeaders},
		seed{key: "headers/empty.json", data: nil, put: withHeaders},
		seed{key: "large/big.bin", data: big, put: withHeaders},
		seed{key: "odd names/a b+c%d é 日本.txt", data: providertest.Data(77, 1)},
		// versitygw's POSIX backend stores "a//b" as "a/b", so that key is
		// covered by the in-memory conformance run, not here.
		seed{key: "odd names/semi;colon=eq&amp?q#h", data: providertest.Data(78, 2)},
		seed{key: "folder/", data: nil},
	)
	w.seed(t, bucket, objs)

	dst := w.az.Endpoint + "/e2e-container/copied"
	code, stdout, stderr := w.run(t, "copy", "s3://"+bucket, dst,
		"--s3-endpoint", w.proxy.URL, "--put-blob-max-size", "2MiB", "--block-size", "1MiB", "--concurrency", "16")
	if code != 0 {
		t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	copied := len(objs) - 1 // the folder marker is skipped
	for _, want := range []string{fmt.Sprintf("copied:          %d", copied), "skipped:         1", "failed:          0", "folder marker"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "my-key") || !strings.Contains(stderr, "1abc") {
		t.Errorf("stderr does not warn about the dropped metadata keys:\n%s", stderr)
	}

	blobs := w.listBlobs(t, "e2e-container")
	if len(blobs) != copied {
		t.Errorf("container holds %d blobs, want %d", len(blobs), copied)
	}
	var payload int64
	for _, o := range objs {
		if strings.HasSuffix(o.key, "/") {
			continue
		}
		payload += int64(len(o.data))
		name := "copied/" + o.key
		got, props, md := w.blob(t, "e2e-container", name)
		if !bytes.Equal(got, o.data) {
			t.Errorf("%s: %d bytes differ from the object's %d", name, len(got), len(o.data))
		}
		// Single-part objects have an MD5 ETag: Azure stores it as the
		// blob's Content-MD5, so the blob can be verified later.
		if sum := md5.Sum(o.data); !bytes.Equal(props.ContentMD5, sum[:]) {
			t.Errorf("%s: Content-MD5 %x, want %x", name, props.ContentMD5, sum)
		}
		if o.put == nil {
			continue
		}
		if str(props.ContentType) != "application/json" || str(props.ContentEncoding) != "identity" ||
			str(props.ContentDisposition) != `attachment; filename="a.json"` || str(props.ContentLanguage) != "en-GB" ||
			str(props.CacheControl) != "max-age=3600" {
			t.Errorf("%s: headers not kept: %+v", name, props)
		}
		lower := map[string]string{}
		for k, v := range md {
			lower[strings.ToLower(k)] = str(v)
		}
		if len(lower) != 2 || lower["valid_name"] != "kept" || lower["owner"] != "team-a" {
			t.Errorf("%s: metadata %v, want valid_name and owner only", name, lower)
		}
	}

	// The large object was staged as 4 blocks of at most 1 MiB, then
	// committed: its committed block list says so.
	bl, err := w.azc.ServiceClient().NewContainerClient("e2e-container").NewBlockBlobClient("copied/large/big.bin").
		GetBlockList(context.Background(), blockblob.BlockListTypeCommitted, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(bl.CommittedBlocks); n != 4 {
		t.Errorf("large/big.bin has %d committed blocks, want 4", n)
	}
	for _, b := range bl.CommittedBlocks {
		if *b.Size > 1<<20 {
			t.Errorf("block of %d bytes, want at most 1 MiB", *b.Size)
		}
	}

	// Server-side means server-side: the tool itself fetched no object
	// bytes from S3; Azure's side (the front) fetched all of them through
	// presigned URLs.
	var toolGets, toolObjectBytes, presignedBytes int64
	for _, r := range w.proxy.Records() {
		switch {
		case r.Presigned:
			presignedBytes += r.RespBytes
		case r.Authorized && r.Key != "":
			toolObjectBytes += r.RespBytes
			if r.Method == "GET" {
				toolGets++
			}
		}
	}
	if toolGets != 0 || toolObjectBytes != 0 {
		t.Errorf("the tool fetched %d objects (%d bytes) from S3 itself", toolGets, toolObjectBytes)
	}
	if presignedBytes != payload {
		t.Errorf("presigned fetches carried %d bytes, want the payload %d", presignedBytes, payload)
	}
}

// TestOneObjectFails: a presigned URL the source refuses fails that object
// only, with its name and reason, and exit code 1 (server-side only: in
// auto mode the object would be streamed instead, see large_test.go).
func TestOneObjectFails(t *testing.T) {
	w := newWorld(t)
	const bucket = "e2e-one-fails"
	var objs []seed
	for i := 0; i < 30; i++ {
		objs = append(objs, seed{key: fmt.Sprintf("k%02d", i), data: providertest.Data(1000+i, uint32(i))})
	}
	objs = append(objs, seed{key: "refused/object.bin", data: providertest.Data(500, 7)})
	w.seed(t, bucket, objs)
	w.proxy.RefusePresigned(bucket, "refused/object.bin", 403)

	logFile := filepath.Join(t.TempDir(), "migrate.log")
	code, stdout, stderr := w.run(t, "copy", "s3://"+bucket, w.az.Endpoint+"/one-fails",
		"--s3-endpoint", w.proxy.URL, "--retries", "2", "--transfer-mode", "server-side", "--log-file", logFile, "--log-level", "debug")
	if code != 1 {
		t.Fatalf("exit code %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, out := range []string{stdout, stderr} {
		if !strings.Contains(out, "refused/object.bin") || !strings.Contains(out, "403") || !strings.Contains(out, "CannotVerifyCopySource") {
			t.Errorf("output does not name the object, the status and the code:\n%s", out)
		}
	}
	if !strings.Contains(stdout, "copied:          30") || !strings.Contains(stdout, "failed:          1") {
		t.Errorf("summary:\n%s", stdout)
	}
	blobs := w.listBlobs(t, "one-fails")
	if len(blobs) != 30 {
		t.Errorf("%d blobs arrived, want 30", len(blobs))
	}
	if _, ok := blobs["refused/object.bin"]; ok {
		t.Error("the refused object must not exist at the destination")
	}
	// The structured log: one JSON line per event, the failure a warning,
	// every copied object at debug level.
	raw, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	var failed, done int
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		switch e["msg"] {
		case "object failed":
			failed++
			if e["level"] != "WARN" || e["source"] != "s3://e2e-one-fails/refused/object.bin" || !strings.Contains(e["reason"].(string), "403") {
				t.Errorf("failure logged as %v", e)
			}
		case "object done":
			done++
		}
	}
	if failed != 1 || done != 30 || !strings.Contains(string(raw), `"msg":"run ended"`) {
		t.Errorf("log: %d failures, %d done objects:\n%s", failed, done, raw)
	}
	for _, secret := range []string{w.s3.SecretKey, w.az.Key, "X-Amz-Signature="} {
		if strings.Contains(string(raw), secret) {
			t.Errorf("the log holds %q", secret)
		}
	}
}

// TestUsageAndConfigurationErrors: one line that says what to fix, exit 2.
func TestUsageAndConfigurationErrors(t *testing.T) {
	w := newWorld(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no arguments", []string{"copy"}, "copy needs SRC and DST"},
		{"bad source", []string{"copy", "ftp://x/y", w.az.Endpoint + "/cont"}, "source"},
		{"bad destination", []string{"copy", "s3://bucket", "not-a-url"}, "destination"},
		{"bad flag", []string{"copy", "--block-size", "5GiB", "s3://bucket", w.az.Endpoint + "/cont"}, "--block-size"},
		{"unknown policy", []string{"copy", "--s2s-handle-invalid-metadata", "Nope", "s3://bucket", w.az.Endpoint + "/cont"}, "s2s-handle-invalid-metadata"},
		{"missing bucket", []string{"copy", "--s3-endpoint", w.s3.Endpoint, "s3://no-such-bucket-xyz", w.az.Endpoint + "/cont"}, "no-such-bucket-xyz"},
		{"unreachable Azure", []string{"copy", "--s3-endpoint", w.s3.Endpoint, "--azure-endpoint", "http://127.0.0.1:1/devstoreaccount1", "--retries", "1", "s3://bucket", "https://devstoreaccount1.blob.core.windows.net/cont"}, "reachable"},
		{"unreachable S3", []string{"copy", "--s3-endpoint", "http://127.0.0.1:1", "--retries", "1", "s3://bucket", w.az.Endpoint + "/cont"}, "reachable"},
		{"unknown command", []string{"frobnicate"}, "unknown command"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := w.run(t, tc.args...)
			if code != 2 {
				t.Fatalf("exit code %d, want 2; stderr:\n%s", code, stderr)
			}
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			last := lines[len(lines)-1]
			if !strings.Contains(last, tc.want) || strings.Contains(stderr, "goroutine ") {
				t.Errorf("stderr %q should end in one line mentioning %q", stderr, tc.want)
			}
		})
	}
}

// TestAzureCredentialForms copies with a SAS in the destination URL and with
// a connection string plus --azure-endpoint.
func TestAzureCredentialForms(t *testing.T) {
	w := newWorld(t)
	const bucket = "e2e-credentials"
	w.seed(t, bucket, []seed{{key: "a.txt", data: providertest.Data(100, 1)}, {key: "b/c.txt", data: providertest.Data(200, 2)}})
	ctx := context.Background()
	if _, err := w.azc.CreateContainer(ctx, "via-sas", nil); err != nil {
		t.Fatal(err)
	}
	cred, err := azblob.NewSharedKeyCredential(w.az.Account, w.az.Key)
	if err != nil {
		t.Fatal(err)
	}
	perms := sas.ContainerPermissions{Read: true, Write: true, Create: true, List: true, Add: true}
	qp, err := sas.BlobSignatureValues{Protocol: sas.ProtocolHTTPSandHTTP, ExpiryTime: time.Now().Add(time.Hour),
		ContainerName: "via-sas", Permissions: perms.String()}.SignWithSharedKey(cred)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, container string
		env             []string
		args            []string
	}{
		{"container SAS in the URL", "via-sas", nil,
			[]string{w.az.Endpoint + "/via-sas/in?" + qp.Encode()}},
		{"connection string and --azure-endpoint", "via-connstr",
			[]string{"AZURE_STORAGE_CONNECTION_STRING=" + w.az.ConnectionString()},
			[]string{"https://" + w.az.Account + ".blob.core.windows.net/via-connstr/in", "--azure-endpoint", w.az.Endpoint}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"copy", "s3://" + bucket, "--s3-endpoint", w.proxy.URL}, tc.args...)
			code, stdout, stderr := w.runEnv(t, tc.env, args...)
			if code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
			}
			if strings.Contains(stdout+stderr, qp.Signature()) {
				t.Error("the SAS signature was printed")
			}
			blobs := w.listBlobs(t, tc.container)
			if len(blobs) != 2 || blobs["in/a.txt"] != 100 || blobs["in/b/c.txt"] != 200 {
				t.Errorf("blobs %v", blobs)
			}
		})
	}
}

func (w *world) containers(t *testing.T) []string {
	t.Helper()
	var names []string
	pager := w.azc.NewListContainersPager(nil)
	for pager.More() {
		page, err := pager.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range page.ContainerItems {
			names = append(names, *c.Name)
		}
	}
	return names
}

// TestAccountWideCopyMapsNames copies every bucket of an account in one
// run, each into its own container named by AzCopy's rules.
func TestAccountWideCopyMapsNames(t *testing.T) {
	w := newPrivateWorld(t)
	buckets := map[string]string{ // bucket -> expected container
		"my.data": "my-data-2", "my-data": "my-data", "a----b": "a-4-b", "plain-bucket": "plain-bucket",
	}
	for b := range buckets {
		w.seed(t, b, []seed{{key: "in-" + b + ".txt", data: []byte(b)}, {key: "sub/x", data: providertest.Data(99, 3)}})
	}
	account := "https://" + w.az.Account + ".blob.core.windows.net/"
	args := []string{"copy", "s3://", account, "--s3-endpoint", w.proxy.URL, "--azure-endpoint", w.az.Endpoint}

	// A dry run first: it shows the table and writes nothing.
	before := len(w.proxy.Records())
	code, stdout, stderr := w.run(t, append(args, "--dry-run")...)
	if code != 0 {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for b, c := range buckets {
		if !strings.Contains(stdout, b) || !strings.Contains(stdout, c) {
			t.Errorf("dry run output lacks %s -> %s:\n%s", b, c, stdout)
		}
	}
	if !strings.Contains(stdout, "would copy:      8") || strings.Count(stdout, `"." replaced by "-"`) != 2 {
		t.Errorf("dry run summary:\n%s", stdout)
	}
	if got := w.containers(t); len(got) != 0 {
		t.Errorf("the dry run created containers %v", got)
	}
	for _, r := range w.proxy.Records()[before:] {
		if r.Method != "GET" && r.Method != "HEAD" {
			t.Errorf("the dry run sent %s to S3", r.Method)
		}
	}

	// An unrelated container already holds one of the names: that bucket is
	// not copied (exit 1) unless merging is allowed.
	if _, err := w.azc.CreateContainer(context.Background(), "plain-bucket", nil); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = w.run(t, args...)
	if code != 1 || !strings.Contains(stdout, "NOT COPIED") || !strings.Contains(stdout, "buckets failed:  1") {
		t.Fatalf("collision run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if n := len(w.listBlobs(t, "plain-bucket")); n != 0 {
		t.Errorf("the existing container received %d blobs", n)
	}
	code, stdout, stderr = w.run(t, append(args, "--allow-existing-containers")...)
	if code != 0 {
		t.Fatalf("merge run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	got := w.containers(t)
	if len(got) != len(buckets) {
		t.Errorf("containers %v, want one per bucket", got)
	}
	for b, c := range buckets {
		blobs := w.listBlobs(t, c)
		if len(blobs) != 2 || blobs["in-"+b+".txt"] != int64(len(b)) {
			t.Errorf("container %s holds %v, want bucket %s's two objects", c, blobs, b)
		}
	}
}

// TestMetadataPoliciesAgainstTheRig copies objects with metadata Azure
// refuses (Azurite answers 400 InvalidMetadata like Azure), tags and every
// header once under each policy and checks what arrives on the blob.
func TestMetadataPoliciesAgainstTheRig(t *testing.T) {
	w := newWorld(t)
	const bucket = "e2e-metadata"
	all := func(in *awss3.PutObjectInput) {
		in.ContentType = aws.String("text/csv")
		in.ContentEncoding = aws.String("identity")
		in.ContentDisposition = aws.String("inline")
		in.ContentLanguage = aws.String("fr")
		in.CacheControl = aws.String("no-cache")
		in.Expires = aws.Time(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
		in.WebsiteRedirectLocation = aws.String("/elsewhere")
		in.Metadata = map[string]string{"my-key": "v1", "1abc": "v2", "has.dot": "v3", "valid_name": "v4"}
		in.Tagging = aws.String("project=migrate&team=data%20eng&bad%40key=v")
	}
	w.seed(t, bucket, []seed{
		{key: "weird.csv", data: []byte("a,b\n1,2\n"), put: all},
		{key: "plain.txt", data: []byte("plain"), put: func(in *awss3.PutObjectInput) { in.Metadata = map[string]string{"ok": "yes"} }},
	})
	tagsOf := func(cont, name string) map[string]string {
		t.Helper()
		resp, err := w.azc.ServiceClient().NewContainerClient(cont).NewBlobClient(name).GetTags(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, tag := range resp.BlobTagSet {
			out[*tag.Key] = *tag.Value
		}
		return out
	}
	metaOf := func(cont, name string) map[string]string {
		t.Helper()
		_, _, md := w.blob(t, cont, name)
		out := map[string]string{}
		for k, v := range md {
			out[strings.ToLower(k)] = str(v)
		}
		return out
	}
	tierOf := func(cont, name string) string {
		t.Helper()
		p, err := w.azc.ServiceClient().NewContainerClient(cont).NewBlobClient(name).GetProperties(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		return str(p.AccessTier)
	}
	copyWith := func(container string, extra ...string) (int, string, string) {
		args := append([]string{"copy", "s3://" + bucket, w.az.Endpoint + "/" + container, "--s3-endpoint", w.proxy.URL}, extra...)
		return w.run(t, args...)
	}

	t.Run("ExcludeIfInvalid", func(t *testing.T) {
		results := filepath.Join(t.TempDir(), "results.jsonl")
		code, stdout, stderr := copyWith("md-exclude", "--preserve-tier", "--results", results)
		if code != 0 {
			t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
		}
		if md := metaOf("md-exclude", "weird.csv"); len(md) != 1 || md["valid_name"] != "v4" {
			t.Errorf("metadata %v, want only valid_name", md)
		}
		if tags := tagsOf("md-exclude", "weird.csv"); len(tags) != 2 || tags["project"] != "migrate" || tags["team"] != "data eng" {
			t.Errorf("tags %v, want project and team", tags)
		}
		for _, want := range []string{"my-key", "1abc", "has.dot", "bad@key", "Expires", "website"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr does not report %q:\n%s", want, stderr)
			}
		}
		_, props, _ := w.blob(t, "md-exclude", "weird.csv")
		if str(props.ContentType) != "text/csv" || str(props.ContentEncoding) != "identity" || str(props.ContentDisposition) != "inline" ||
			str(props.ContentLanguage) != "fr" || str(props.CacheControl) != "no-cache" {
			t.Errorf("headers %+v", props)
		}
		if tier := tierOf("md-exclude", "weird.csv"); tier != "Hot" {
			t.Errorf("tier %q, want Hot (STANDARD)", tier)
		}
		raw, err := os.ReadFile(results)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`"source":"s3://e2e-metadata/weird.csv"`, `"key":"my-key","action":"dropped"`, `"key":"valid_name","new_key":"valid_name","action":"kept"`, `"key":"bad@key","action":"dropped"`, `"tier":"Hot"`, `"outcome":"copied"`} {
			if !strings.Contains(string(raw), want) {
				t.Errorf("results file lacks %s:\n%s", want, raw)
			}
		}
	})

	t.Run("FailIfInvalid", func(t *testing.T) {
		code, stdout, stderr := copyWith("md-fail", "--s2s-handle-invalid-metadata", "FailIfInvalid")
		if code != 1 {
			t.Fatalf("exit %d, want 1\n%s\n%s", code, stdout, stderr)
		}
		for _, want := range []string{"weird.csv", "my-key", "1abc", "has.dot"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("summary does not name %q:\n%s", want, stdout)
			}
		}
		blobs := w.listBlobs(t, "md-fail")
		if _, ok := blobs["weird.csv"]; ok || len(blobs) != 1 {
			t.Errorf("blobs %v, want only plain.txt", blobs)
		}
	})

	t.Run("RenameIfInvalid", func(t *testing.T) {
		code, stdout, stderr := copyWith("md-rename", "--s2s-invalid-metadata-handle", "RenameIfInvalid",
			"--blob-tier", "cool", "--keep-s3-headers-as-metadata", "--preserve-source-info")
		if code != 0 {
			t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
		}
		md := metaOf("md-rename", "weird.csv")
		want := map[string]string{
			"valid_name": "v4", "rename_my_key": "v1", "rename_key_my_key": "my-key", "rename_1abc": "v2", "rename_key_1abc": "1abc",
			"rename_has_dot": "v3", "rename_key_has_dot": "has.dot", "s3_website_redirect": "/elsewhere",
		}
		for k, v := range want {
			if md[k] != v {
				t.Errorf("metadata %s = %q, want %q (all: %v)", k, md[k], v, md)
			}
		}
		if md["s3_expires"] == "" || md["s3_etag"] == "" || md["s3_last_modified"] == "" {
			t.Errorf("metadata %v lacks s3_expires / s3_etag / s3_last_modified", md)
		}
		if tags := tagsOf("md-rename", "weird.csv"); tags["bad_key"] != "v" || len(tags) != 3 {
			t.Errorf("tags %v, want bad@key renamed to bad_key", tags)
		}
		if tier := tierOf("md-rename", "plain.txt"); tier != "Cool" {
			t.Errorf("tier %q, want Cool", tier)
		}
	})
}

// TestSyncAgainstTheRig: add, change and delete source objects between two
// syncs; the second copies only what changed and, with the flag, deletes
// what went (shown first by a dry run).
func TestSyncAgainstTheRig(t *testing.T) {
	w := newWorld(t)
	const bucket = "e2e-sync"
	var seeds []seed
	for i := range 20 {
		seeds = append(seeds, seed{key: fmt.Sprintf("f%02d", i), data: providertest.Data(100+i, uint32(i))})
	}
	w.seed(t, bucket, seeds)
	args := []string{"sync", "s3://" + bucket, w.az.Endpoint + "/synced", "--s3-endpoint", w.proxy.URL}
	if code, stdout, stderr := w.run(t, args...); code != 0 || !strings.Contains(stdout, "copied:          20") {
		t.Fatalf("first sync: exit %d\n%s\n%s", code, stdout, stderr)
	}
	ctx := context.Background()
	put := func(k string, data []byte) {
		if _, err := w.s3c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: bytes.NewReader(data)}); err != nil {
			t.Fatal(err)
		}
	}
	put("f01", providertest.Data(101, 99)) // same size, new content
	put("f02", providertest.Data(5000, 2)) // new size
	put("new", providertest.Data(7, 7))    // added
	if _, err := w.s3c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("f03")}); err != nil {
		t.Fatal(err)
	}
	w.proxy.Reset()
	code, stdout, stderr := w.run(t, append(args, "--delete-destination", "--dry-run")...)
	if code != 0 || !strings.Contains(stdout, "would delete synced/f03") || !strings.Contains(stdout, "would copy:      3") {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if _, ok := w.listBlobs(t, "synced")["f03"]; !ok {
		t.Fatal("the dry run deleted f03")
	}
	code, stdout, stderr = w.run(t, append(args, "--delete-destination")...)
	if code != 0 || !strings.Contains(stdout, "copied:          3") || !strings.Contains(stdout, "unchanged:       17") {
		t.Fatalf("second sync: exit %d\n%s\n%s", code, stdout, stderr)
	}
	blobs := w.listBlobs(t, "synced")
	if _, ok := blobs["f03"]; ok || len(blobs) != 20 {
		t.Errorf("blobs after the sync: %d, f03 present %v", len(blobs), ok)
	}
	for _, k := range []string{"f01", "f02", "new"} {
		out, err := w.s3c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)})
		if err != nil {
			t.Fatal(err)
		}
		want, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if got := w.download(t, "synced", k); !bytes.Equal(got, want) {
			t.Errorf("%s not up to date", k)
		}
	}
	// Only the three changed objects were fetched, and nothing was HEADed
	// per object on the source for the unchanged ones.
	heads, fetched := 0, map[string]bool{}
	for _, r := range w.proxy.Records() {
		if r.Presigned && r.Method == "GET" {
			fetched[r.Key] = true
		}
		if r.Authorized && r.Method == "HEAD" && r.Key != "" {
			heads++
		}
	}
	if len(fetched) != 3 || heads != 3*2 { // the dry run and the sync HEAD each changed object once
		t.Errorf("fetched %v and made %d HEADs; want the 3 changed objects only", fetched, heads)
	}
}
