// Command demo runs a demonstration migration end to end on local servers,
// with no cloud account: it starts versitygw (S3) and Azurite (Azure) with
// its copy-source front on 127.0.0.1, seeds three buckets (one with periods
// and one with a run of hyphens in its name, mapped to containers as AzCopy
// does), copies each with the migrate binary, prints migrate's own output,
// and checks every blob against its object; then it uploads a local folder
// into S3 and moves it to another bucket. scripts/demo.sh builds migrate and
// runs this.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/migrate-tool/migrate/internal/testenv"
	"github.com/migrate-tool/migrate/naming"
)

func main() {
	bin := flag.String("migrate", ".rig/bin/migrate", "path of the migrate binary")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, *bin)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

type object struct {
	key  string
	data []byte
	meta map[string]string
	typ  string
}

func pattern(n, seed int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + seed)
	}
	return b
}

// buckets are the demo's source data.
func buckets() map[string][]object {
	photos := []object{
		{key: "2024/01/beach.jpg", data: pattern(180*1024, 1), typ: "image/jpeg", meta: map[string]string{"camera": "x100", "photo-id": "42"}},
		{key: "2024/01/notes.txt", data: []byte("sand, sun, sea\n"), typ: "text/plain; charset=utf-8"},
		{key: "2024/02/empty.marker", data: nil},
		{key: "2024/02/", data: nil}, // a folder marker: skipped and counted
	}
	for i := 0; i < 40; i++ {
		photos = append(photos, object{key: fmt.Sprintf("thumbs/t%03d.png", i), data: pattern(2048+i*97, i), typ: "image/png"})
	}
	return map[string][]object{
		"demo.photos": photos,
		"demo----logs": {
			{key: "app/2024-01-01.log", data: bytes.Repeat([]byte("GET / 200\n"), 5000), typ: "text/plain"},
			{key: "app/2024-01-02.log", data: bytes.Repeat([]byte("GET /x 404\n"), 3000), typ: "text/plain"},
		},
		"demo-backups": {
			// Larger than the demo's --put-blob-max-size (8 MiB): copied as
			// three 4 MiB blocks from URL, then committed.
			{key: "db/dump-2024-01-01.sql.gz", data: pattern(10*1024*1024+4321, 7), typ: "application/gzip", meta: map[string]string{"source_db": "orders"}},
		},
	}
}

func run(ctx context.Context, bin string) error {
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("migrate binary %s: %w (run scripts/demo.sh)", bin, err)
	}
	fmt.Println("== starting versitygw (S3) and Azurite (Azure) with its copy-source front on 127.0.0.1")
	s3srv, err := testenv.StartS3(ctx, testenv.S3Options{})
	if err != nil {
		return err
	}
	defer s3srv.Stop()
	az, err := testenv.StartAzure(ctx, testenv.AzureOptions{})
	if err != nil {
		return err
	}
	defer az.Stop()
	// migrate talks to S3 through a recording proxy, so the demo can show
	// how many object bytes the tool itself received (none, server-side).
	proxy, err := testenv.NewS3Proxy(s3srv.Endpoint)
	if err != nil {
		return err
	}
	defer proxy.Close()
	fmt.Printf("   S3:    %s (recording proxy at %s)\n   Azure: %s (front before Azurite at %s)\n", s3srv.Endpoint, proxy.URL, az.Endpoint, az.AzuriteEndpoint)

	s3c, err := s3srv.NewClient(ctx)
	if err != nil {
		return err
	}
	data := buckets()
	var names []string
	for b, objs := range data {
		names = append(names, b)
		if _, err := s3c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			return fmt.Errorf("create bucket %s: %w", b, err)
		}
		for _, o := range objs {
			in := &awss3.PutObjectInput{Bucket: aws.String(b), Key: aws.String(o.key), Body: bytes.NewReader(o.data), Metadata: o.meta}
			if o.typ != "" {
				in.ContentType = aws.String(o.typ)
			}
			if _, err := s3c.PutObject(ctx, in); err != nil {
				return fmt.Errorf("put s3://%s/%s: %w", b, o.key, err)
			}
		}
	}

	fmt.Println("\n== bucket -> container names (AzCopy's rules)")
	mappings := naming.MapBuckets(names, naming.MapOptions{})
	for _, m := range mappings {
		if m.Err != nil {
			return fmt.Errorf("bucket %s: %w", m.Bucket, m.Err)
		}
		note := ""
		if m.Changed {
			note = "  (" + m.Reason + ")"
		}
		fmt.Printf("   %-14s -> %s%s\n", m.Bucket, m.Container, note)
	}

	azc, err := blobClient(az)
	if err != nil {
		return err
	}
	for _, m := range mappings {
		args := []string{"copy", "s3://" + m.Bucket, az.Endpoint + "/" + m.Container,
			"--s3-endpoint", proxy.URL, "--put-blob-max-size", "8MiB", "--block-size", "4MiB"}
		fmt.Printf("\n== migrate %s\n", strings.Join(args, " "))
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = append(os.Environ(),
			"AWS_ACCESS_KEY_ID="+s3srv.AccessKey, "AWS_SECRET_ACCESS_KEY="+s3srv.SecretKey, "AWS_REGION="+s3srv.Region,
			"AWS_EC2_METADATA_DISABLED=true",
			"AZURE_STORAGE_ACCOUNT="+az.Account, "AZURE_STORAGE_KEY="+az.Key)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stdout
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("migrate copy of %s: %w", m.Bucket, err)
		}
		n, err := verify(ctx, azc, m.Container, data[m.Bucket])
		if err != nil {
			return err
		}
		fmt.Printf("   verified: %d blobs in %s are byte-identical to their objects\n", n, m.Container)
	}
	var toolBytes, toolReqs, presignedBytes, presignedReqs int64
	for _, r := range proxy.Records() {
		if r.Presigned {
			presignedBytes += r.RespBytes
			presignedReqs++
		} else if r.Key != "" {
			toolBytes += r.RespBytes
			toolReqs++
		}
	}
	fmt.Printf("\n== done: Azure's side fetched %d bytes from S3 in %d presigned requests;\n", presignedBytes, presignedReqs)
	fmt.Printf("   migrate's own %d object requests (HEAD) received %d bytes of object data.\n", toolReqs, toolBytes)
	if toolBytes != 0 {
		return errors.New("the payload passed through migrate: server-side copy is broken")
	}
	return localAndMove(ctx, bin, proxy.URL, s3srv, s3c)
}

// localAndMove shows the other ends: a local folder uploaded into S3 (one
// file in parallel multipart parts), then moved to another bucket
// server-side, each copy verified before its source is deleted.
func localAndMove(ctx context.Context, bin, endpoint string, s3srv *testenv.S3Server, s3c *awss3.Client) error {
	dir, err := os.MkdirTemp("", "migrate-demo-folder-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	files := map[string][]byte{"index.html": []byte("<h1>hello</h1>"), "css/site.css": []byte("h1{}"),
		"data/2024/report.csv": []byte("a,b\n1,2\n"), "video/big.bin": pattern(12<<20, 9)}
	for name, d := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, d, 0o644); err != nil {
			return err
		}
	}
	env := append(os.Environ(), "AWS_ACCESS_KEY_ID="+s3srv.AccessKey, "AWS_SECRET_ACCESS_KEY="+s3srv.SecretKey,
		"AWS_REGION="+s3srv.Region, "AWS_EC2_METADATA_DISABLED=true")
	for _, args := range [][]string{
		{"copy", dir, "s3://demo-staging/site", "--s3-endpoint", endpoint, "--block-size", "5MiB"},
		{"move", "s3://demo-staging/site", "s3://demo-archive/site-v1", "--s3-endpoint", endpoint},
	} {
		fmt.Printf("\n== migrate %s\n", strings.Join(args, " "))
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env, cmd.Stdout, cmd.Stderr = env, os.Stdout, os.Stdout
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("migrate %s: %w", args[0], err)
		}
	}
	left, err := s3c.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String("demo-staging")})
	if err != nil {
		return err
	}
	if len(left.Contents) != 0 {
		return fmt.Errorf("the move left %d objects in demo-staging", len(left.Contents))
	}
	for name, d := range files {
		out, err := s3c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("demo-archive"), Key: aws.String("site-v1/" + name)})
		if err != nil {
			return fmt.Errorf("s3://demo-archive/site-v1/%s: %w", name, err)
		}
		got, err := io.ReadAll(out.Body)
		out.Body.Close()
		if err != nil {
			return err
		}
		if !bytes.Equal(got, d) {
			return fmt.Errorf("s3://demo-archive/site-v1/%s differs from %s", name, name)
		}
	}
	fmt.Printf("   verified: the %d files of the folder are byte-identical in s3://demo-archive/site-v1; s3://demo-staging is empty\n", len(files))
	return nil
}

func blobClient(az *testenv.AzureServer) (*azblob.Client, error) {
	cred, err := azblob.NewSharedKeyCredential(az.Account, az.Key)
	if err != nil {
		return nil, err
	}
	return azblob.NewClientWithSharedKeyCredential(az.AzuriteEndpoint+"/", cred, nil)
}

// verify downloads every copied blob and compares it with its object.
func verify(ctx context.Context, c *azblob.Client, container string, objs []object) (int, error) {
	n := 0
	for _, o := range objs {
		if strings.HasSuffix(o.key, "/") {
			continue
		}
		resp, err := c.DownloadStream(ctx, container, o.key, nil)
		if err != nil {
			return n, fmt.Errorf("blob %s/%s: %w", container, o.key, err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return n, err
		}
		if !bytes.Equal(got, o.data) {
			return n, errors.New("blob " + container + "/" + o.key + " differs from its object")
		}
		n++
	}
	return n, nil
}
