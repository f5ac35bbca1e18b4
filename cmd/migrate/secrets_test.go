package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/migrate-tool/migrate/providers/providertest"
)

// TestSecretsNotInFormattedOptions formats the options a copy is parsed
// into the ways a log line or a debug print would (fmt's verbs, JSON) and
// finds none of the secrets they hold: Secret's String, GoString and
// MarshalText are what keeps them out.
func TestSecretsNotInFormattedOptions(t *testing.T) {
	const (
		sasQuery = "sv=2024-08-04&sr=c&sp=racwl&se=2030-01-01T00%3A00%3A00Z&sig=c2VjcmV0LXNhcy1zaWduYXR1cmUtdmFsdWU%3D"
		key      = "c2VjcmV0LWFjY291bnQta2V5LXZhbHVlLTEyMzQ1Njc4OTA="
		ssec     = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	)
	connStr := "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=" + key + ";EndpointSuffix=core.windows.net"
	cases := []struct {
		name string
		env  map[string]string
		dst  string
	}{
		{"SAS in DST", nil, "https://acct.blob.core.windows.net/cont?" + sasQuery},
		{"AZURE_STORAGE_SAS_TOKEN", map[string]string{"AZURE_STORAGE_SAS_TOKEN": "?" + sasQuery}, "https://acct.blob.core.windows.net/cont"},
		{"connection string", map[string]string{"AZURE_STORAGE_CONNECTION_STRING": connStr}, "https://acct.blob.core.windows.net/cont"},
		{"account key", map[string]string{"AZURE_STORAGE_ACCOUNT": "acct", "AZURE_STORAGE_KEY": key}, "https://acct.blob.core.windows.net/cont"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			getenv := func(k string) string {
				if k == "MIGRATE_JOURNAL_DIR" {
					return t.TempDir()
				}
				return tc.env[k]
			}
			j, err := parseCopy([]string{"s3://bucket/p", tc.dst, "--sse-c-key", ssec}, getenv, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			var out strings.Builder
			for _, v := range []any{j.azOpts, j.azOpts.Credential, j.s3Opts, j.dst, j.src} {
				fmt.Fprintf(&out, "%v\n%+v\n%#v\n%s\n", v, v, v, v)
			}
			for _, v := range []any{j.azOpts.Credential, j.dst, j.s3Opts.SSECustomerKey} {
				b, err := json.Marshal(v)
				if err != nil {
					t.Fatal(err)
				}
				out.Write(b)
			}
			for what, s := range map[string]string{"SAS signature": "c2VjcmV0LXNhcy1zaWduYXR1cmUtdmFsdWU", "account key": key, "SSE-C key": ssec} {
				if n := strings.Index(out.String(), s); n >= 0 {
					t.Errorf("the formatted options hold the %s: …%s…", what, excerpt(out.String(), n))
				}
			}
		})
	}
}

// TestSecretsNotInUsageErrors: a SAS pasted into --azure-endpoint (the
// service URL, where Azure's portal shows it) is refused for an http
// endpoint, and the refusal must not quote it.
func TestSecretsNotInUsageErrors(t *testing.T) {
	const sasQuery = "sv=2024-08-04&sr=c&sp=racwl&se=2030-01-01T00%3A00%3A00Z&sig=c2VjcmV0LXNhcy1zaWduYXR1cmUtdmFsdWU%3D"
	getenv := func(k string) string {
		if k == "MIGRATE_JOURNAL_DIR" {
			return t.TempDir()
		}
		return ""
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"copy", "s3://bucket", "https://acct.blob.core.windows.net/cont",
		"--azure-endpoint", "http://127.0.0.1:1/acct?" + sasQuery}, getenv, &stdout, &stderr)
	if code != exitUsage {
		t.Errorf("exit %d, want %d\n%s%s", code, exitUsage, stdout.String(), stderr.String())
	}
	out := stdout.String() + stderr.String()
	if strings.Contains(out, "c2VjcmV0LXNhcy1zaWduYXR1cmUtdmFsdWU") {
		t.Errorf("the usage error quotes the SAS signature:\n%s", out)
	}
}

// TestSecretsNeverPrintedOrWritten runs full copies with failures against
// the rig — presigned fetches refused (a single Put Blob From URL and a
// block-by-block copy), an object failing under FailIfInvalid, a renamed
// key — with a SAS in the destination URL, then a resume of that job with
// the SAS in AZURE_STORAGE_SAS_TOKEN, then with a connection string, then
// with an SSE-C key on the command line (and the account key) and in
// MIGRATE_SSE_C_KEY, then against a destination that echoes the request
// (SAS and presigned URL included) in its error messages, and
// scans every byte the tool printed (stdout, stderr, of 'jobs list' and
// 'jobs show' too) and wrote (the job folders: journal.db, job.json,
// results.jsonl; the --results files; the rename manifests; anything else
// under its working and home directories) for the secrets it was given
// and for credential parameters with a value that is not redacted.
func TestSecretsNeverPrintedOrWritten(t *testing.T) {
	w := newWorld(t)
	const bucket = "e2e-secrets"
	var objs []seed
	for i := range 6 {
		objs = append(objs, seed{key: fmt.Sprintf("ok/%02d.bin", i), data: providertest.Data(500+i, uint32(i))})
	}
	objs = append(objs,
		seed{key: "ok/big.bin", data: providertest.Data(3<<20, 40)}, // three blocks from URL
		seed{key: "refused/small.bin", data: providertest.Data(700, 41)},
		seed{key: "refused/gone.bin", data: providertest.Data(701, 42)},
		seed{key: "refused/big.bin", data: providertest.Data(2<<20+1, 43)},
		seed{key: "meta/bad.txt", data: []byte("bad metadata"), put: func(in *awss3.PutObjectInput) {
			in.Metadata = map[string]string{"my-key": "v", "ok_key": "w"}
		}},
		seed{key: "tags/t.txt", data: []byte("tagged"), put: func(in *awss3.PutObjectInput) { in.Tagging = aws.String("project=secrets") }},
		seed{key: "odd/name.", data: []byte("renamed")}, // a segment ending in '.': renamed
	)
	w.seed(t, bucket, objs)
	w.proxy.RefusePresigned(bucket, "refused/small.bin", 403)
	w.proxy.RefusePresigned(bucket, "refused/gone.bin", 404)
	w.proxy.RefusePresigned(bucket, "refused/big.bin", 403)

	// The secrets.
	ctx := context.Background()
	if _, err := w.azc.CreateContainer(ctx, "secrets-sas", nil); err != nil {
		t.Fatal(err)
	}
	cred, err := azblob.NewSharedKeyCredential(w.az.Account, w.az.Key)
	if err != nil {
		t.Fatal(err)
	}
	perms := sas.ContainerPermissions{Read: true, Add: true, Create: true, Write: true, Delete: true, List: true, Tag: true}
	qp, err := sas.BlobSignatureValues{Protocol: sas.ProtocolHTTPSandHTTP, ExpiryTime: time.Now().Add(time.Hour),
		ContainerName: "secrets-sas", Permissions: perms.String()}.SignWithSharedKey(cred)
	if err != nil {
		t.Fatal(err)
	}
	sasQuery := qp.Encode()
	connStr := w.az.ConnectionString()
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	ssecKey := base64.StdEncoding.EncodeToString(raw)
	secrets := map[string]string{
		"AWS secret access key":          w.s3.SecretKey,
		"Azure account key":              w.az.Key,
		"SAS signature":                  qp.Signature(),
		"whole SAS query":                sasQuery,
		"connection string":              connStr,
		"connection string's AccountKey": "AccountKey=" + w.az.Key,
		"SSE-C key":                      ssecKey,
	}
	for what, s := range map[string]string{"Azure account key": w.az.Key, "SAS signature": qp.Signature(), "SSE-C key": ssecKey} {
		secrets[what+", URL-encoded"] = url.QueryEscape(s)
		secrets[what+", without its base64 padding"] = strings.TrimRight(s, "=")
	}
	for what, s := range secrets {
		if len(s) < 8 {
			t.Fatalf("%s %q is too short to scan for", what, s)
		}
	}

	home := t.TempDir() // working and home directory of every run: all it writes lands here
	jobs := filepath.Join(home, "jobs")
	var printed []string // name and text of everything printed
	run := func(name string, env []string, args ...string) (int, string, string) {
		t.Helper()
		code, stdout, stderr := w.runIn(t, home, env, args...)
		printed = append(printed, name+" stdout", stdout, name+" stderr", stderr)
		return code, stdout, stderr
	}
	common := []string{"--s3-endpoint", w.proxy.URL, "--journal-dir", jobs, "--retries", "1",
		"--put-blob-max-size", "1MiB", "--block-size", "1MiB", "--rename-invalid-keys"}
	copyArgs := func(dst, tag string, extra ...string) []string {
		args := append([]string{"copy", "s3://" + bucket, dst}, common...)
		args = append(args, "--results", filepath.Join(home, "results-"+tag+".jsonl"),
			"--rename-manifest", filepath.Join(home, "renamed-"+tag+".jsonl"))
		return append(args, extra...)
	}
	failing := []string{"--transfer-mode", "server-side", "--s2s-handle-invalid-metadata", "FailIfInvalid"}
	// The run had what it is meant to have: the failures, and their reasons.
	wantFailures := func(name string, code int, stdout, stderr string) {
		t.Helper()
		if code != 1 {
			t.Fatalf("%s: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", name, code, stdout, stderr)
		}
		for _, want := range []string{"failed:          4", "CannotVerifyCopySource", "refused/small.bin", "refused/big.bin", "refused/gone.bin", `"my-key"`, "renamed keys:    1"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("%s: the summary lacks %q:\n%s", name, want, stdout)
			}
		}
	}

	// 1. A SAS in the destination URL.
	code, stdout, stderr := run("SAS in DST", nil, copyArgs(w.az.Endpoint+"/secrets-sas/in?"+sasQuery, "sas", failing...)...)
	wantFailures("SAS in DST", code, stdout, stderr)
	ids, _ := filepath.Glob(filepath.Join(jobs, "*", "job.json"))
	if len(ids) != 1 {
		t.Fatalf("job folders: %v", ids)
	}
	sasJob := filepath.Base(filepath.Dir(ids[0]))

	// 2. Its resume, the SAS now in the environment; and the job commands.
	code, stdout, stderr = run("resume", []string{"AZURE_STORAGE_SAS_TOKEN=?" + sasQuery}, "jobs", "resume", sasJob, "--journal-dir", jobs)
	if code != 1 || !strings.Contains(stdout, "CannotVerifyCopySource") {
		t.Errorf("resume: exit %d, want 1 with the refused objects failing again\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	run("jobs list", nil, "jobs", "list", "--journal-dir", jobs)
	run("jobs show", nil, "jobs", "show", sasJob, "--journal-dir", jobs)

	// 3. A connection string.
	code, stdout, stderr = run("connection string", []string{"AZURE_STORAGE_CONNECTION_STRING=" + connStr},
		copyArgs(w.az.Endpoint+"/secrets-connstr/in", "connstr", failing...)...)
	wantFailures("connection string", code, stdout, stderr)

	// 4. An SSE-C key on the command line (the rig's S3 ignores it on
	// unencrypted objects; the key makes every object stream), with the
	// account key, then in the environment for a dry run.
	code, stdout, stderr = run("SSE-C key", []string{"AZURE_STORAGE_ACCOUNT=" + w.az.Account, "AZURE_STORAGE_KEY=" + w.az.Key}, "copy", "s3://"+bucket+"/ok", w.az.Endpoint+"/secrets-ssec",
		"--s3-endpoint", w.proxy.URL, "--journal-dir", jobs, "--sse-c-key", ssecKey, "--results", filepath.Join(home, "results-ssec.jsonl"))
	if code != 0 || !strings.Contains(stdout, "source cannot be presigned") {
		t.Errorf("SSE-C run: exit %d, want 0 with every object streamed\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	code, stdout, stderr = run("SSE-C key, dry run", []string{"MIGRATE_SSE_C_KEY=" + ssecKey, "AZURE_STORAGE_CONNECTION_STRING=" + connStr},
		copyArgs(w.az.Endpoint+"/secrets-dry", "dry", "--dry-run")...)
	if code != 0 {
		t.Errorf("dry run: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	run("jobs list, all", nil, "jobs", "list", "--journal-dir", jobs)

	// 5. A destination that echoes what it was sent in its error messages
	// (Azure's AuthenticationFailed detail, for one, quotes the request): the
	// request URL with its SAS, and the presigned URL in x-ms-copy-source.
	echo := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && r.URL.Query().Get("restype") == "container" {
			rw.WriteHeader(http.StatusCreated)
			return
		}
		msg := fmt.Sprintf("The value for one of the HTTP headers is not in the correct format. Request %s %s x-ms-copy-source: %s",
			r.Method, r.URL.String(), r.Header.Get("x-ms-copy-source"))
		rw.Header().Set("Content-Type", "application/xml")
		rw.Header().Set("x-ms-error-code", "InvalidHeaderValue")
		rw.WriteHeader(http.StatusBadRequest)
		_, _ = fmt.Fprintf(rw, `<?xml version="1.0" encoding="utf-8"?><Error><Code>InvalidHeaderValue</Code><Message>%s</Message><HeaderName>x-ms-copy-source</HeaderName></Error>`, html.EscapeString(msg))
	}))
	defer echo.Close()
	code, stdout, stderr = run("echoing destination", nil, "copy", "s3://"+bucket+"/ok", echo.URL+"/"+w.az.Account+"/echo?"+sasQuery,
		"--s3-endpoint", w.proxy.URL, "--journal-dir", jobs, "--retries", "0", "--transfer-mode", "server-side",
		"--put-blob-max-size", "1MiB", "--block-size", "1MiB", "--results", filepath.Join(home, "results-echo.jsonl"))
	if code != 1 || !strings.Contains(stdout, "InvalidHeaderValue") || !strings.Contains(stdout, "x-ms-copy-source") {
		t.Errorf("echoing destination: exit %d, want 1 with every object failing on InvalidHeaderValue\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}

	// Everything written: the job folders, results files and manifests, and
	// whatever else landed in the working or home directory.
	var written []string
	err = filepath.WalkDir(home, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(home, p)
		written = append(written, rel, string(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, must := range []string{"journal.db", "job.json", "results.jsonl", "results-sas.jsonl", "results-connstr.jsonl", "results-ssec.jsonl", "results-echo.jsonl", "renamed-sas.jsonl", "renamed-connstr.jsonl"} {
		found := false
		for i := 0; i < len(written); i += 2 {
			if filepath.Base(written[i]) == must && len(written[i+1]) > 0 {
				found = true
			}
		}
		if !found {
			t.Errorf("the runs wrote no (non-empty) %s to scan", must)
		}
	}

	all := append(printed, written...)
	for i := 0; i < len(all); i += 2 {
		where, text := all[i], all[i+1]
		for what, s := range secrets {
			if n := strings.Index(text, s); n >= 0 {
				t.Errorf("%s contains the %s: …%s…", where, what, excerpt(text, n))
			}
		}
		for _, m := range credentialParamRE.FindAllStringSubmatchIndex(text, -1) {
			value := text[m[4]:m[5]]
			if !redactedValue(value) {
				t.Errorf("%s holds a credential parameter with a value: …%s…", where, excerpt(text, m[0]))
			}
		}
	}
}

// credentialParamRE finds credential-bearing parameters (presigned S3 URLs,
// SAS, connection strings), plain or URL-encoded, and captures the value.
var credentialParamRE = regexp.MustCompile(`(?i)(?:^|[?&;\s"'/]|%26|%3f|\\u0026)(x-amz-signature|x-amz-credential|x-amz-security-token|sig|signature|accountkey|sharedaccesssignature)(?:=|%3d|\\u003d)([^&;\s"'<>\\]*)`)

// redactedValue says whether a parameter's value is absent or redacted.
func redactedValue(v string) bool {
	v = strings.ToLower(v)
	return v == "" || strings.HasPrefix(v, "**redacted**") || strings.HasPrefix(v, "%2a%2aredacted%2a%2a")
}

// excerpt is some text around position n, for a failure message.
func excerpt(s string, n int) string {
	lo, hi := max(0, n-60), min(len(s), n+100)
	return strings.ToValidUTF8(strings.NewReplacer("\n", `\n`, "\x00", `\0`).Replace(s[lo:hi]), "?")
}

// runIn is runEnv with dir as the working and home directory, so that
// whatever the tool writes outside the paths it is given lands there too.
func (w *world) runIn(t *testing.T, dir string, env []string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	cmd.Dir = dir
	cmd.Env = w.childEnv(append([]string{"HOME=" + dir, "XDG_CONFIG_HOME=" + filepath.Join(dir, ".config"),
		"XDG_CACHE_HOME=" + filepath.Join(dir, ".cache"), "MIGRATE_JOURNAL_DIR=" + filepath.Join(dir, "default-jobs")}, env...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stdout.String(), stderr.String()
}
