package main

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/migrate-tool/migrate/internal/testenv"
	"github.com/migrate-tool/migrate/providers/providertest"
)

// newRegionalWorld starts servers of the test's own: a RegionalS3 of
// us-east-1 and eu-west-1 (the world's S3 is its router, with us-east-1 as
// the tool's default region) and an Azurite.
func newRegionalWorld(t *testing.T) (*world, *testenv.RegionalS3) {
	t.Helper()
	testenv.S3(t) // skips, or fails in CI, when the rig is missing
	ctx := context.Background()
	rs, err := testenv.StartRegionalS3(ctx, testenv.RegionalOptions{Regions: []string{"us-east-1", "eu-west-1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rs.Stop() })
	az, err := testenv.StartAzure(ctx, testenv.AzureOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { az.Stop() })
	front := &testenv.S3Server{Endpoint: rs.Endpoint, Region: "us-east-1", AccessKey: rs.AccessKey, SecretKey: rs.SecretKey}
	return newWorldOn(t, front, az), rs
}

// seedIn creates bucket in region, through the router, and puts objs in it.
func seedIn(t *testing.T, rs *testenv.RegionalS3, region, bucket string, objs []seed) {
	t.Helper()
	ctx := context.Background()
	if err := rs.CreateBucket(ctx, bucket, region); err != nil {
		t.Fatalf("create bucket %s in %s: %v", bucket, region, err)
	}
	c, err := rs.NewClient(ctx, region)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(o.key), Body: bytes.NewReader(o.data)}); err != nil {
			t.Fatalf("put %s/%s: %v", bucket, o.key, err)
		}
	}
}

// TestRegionFilteredThenAccountWideCopy: buckets in two regions, names
// needing mapping among them. A run with --region eu-west-1 copies only
// the eu buckets, each into its mapped container; an account-wide run then
// copies them all. Azure fetches every object through a presigned URL
// signed for its bucket's region (a URL signed for another region is
// refused by the bucket's server, so the copy would fail).
func TestRegionFilteredThenAccountWideCopy(t *testing.T) {
	w, rs := newRegionalWorld(t)
	type bucket struct {
		region, container string
		objs              []seed
	}
	objs := func(name string, seedN uint32) []seed {
		return []seed{
			{key: "in-" + name + ".txt", data: []byte(name)},
			{key: "dir/data.bin", data: providertest.Data(70_000, seedN)},
			// Larger than --put-blob-max-size: copied block by block,
			// each block a ranged fetch of the presigned URL.
			{key: "large/big.bin", data: providertest.Data(1<<20+4321, seedN+1)},
			{key: "empty", data: nil},
		}
	}
	buckets := map[string]bucket{
		"eu.logs":   {"eu-west-1", "eu-logs", objs("eu.logs", 1)},
		"eu--data":  {"eu-west-1", "eu-2-data", objs("eu--data", 3)},
		"us.photos": {"us-east-1", "us-photos", objs("us.photos", 5)},
		"us-plain":  {"us-east-1", "us-plain", objs("us-plain", 7)},
	}
	for name, b := range buckets {
		seedIn(t, rs, b.region, name, b.objs)
	}
	account := "https://" + w.az.Account + ".blob.core.windows.net/"
	args := []string{"copy", "s3://", account, "--s3-endpoint", w.proxy.URL, "--azure-endpoint", w.az.Endpoint,
		"--put-blob-max-size", "1MiB", "--block-size", "512KiB"}

	// check says that exactly the buckets of regions were copied, each to
	// its container, byte for byte, and that every request the router saw
	// since the last check was signed for the region of its bucket.
	check := func(t *testing.T, regions ...string) {
		t.Helper()
		var want []string
		for name, b := range buckets {
			if !slices.Contains(regions, b.region) {
				continue
			}
			want = append(want, b.container)
			blobs := w.listBlobs(t, b.container)
			if len(blobs) != len(b.objs) {
				t.Errorf("container %s (bucket %s) holds %v, want %d blobs", b.container, name, slices.Sorted(maps.Keys(blobs)), len(b.objs))
			}
			for _, o := range b.objs {
				if got := w.download(t, b.container, o.key); !bytes.Equal(got, o.data) {
					t.Errorf("%s/%s: %d bytes differ from %s/%s's %d", b.container, o.key, len(got), name, o.key, len(o.data))
				}
			}
		}
		slices.Sort(want)
		got := w.containers(t)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("containers %v, want %v", got, want)
		}

		presigned := map[[2]string]int{} // bucket, key -> presigned fetches
		for _, r := range rs.Records() {
			if r.Bucket == "" {
				continue
			}
			b, ok := buckets[r.Bucket]
			switch {
			case !ok:
				t.Errorf("request for unknown bucket %s", r.Bucket)
			case r.SigningRegion != b.region:
				t.Errorf("%s %s/%s (presigned %v) signed for %q, the bucket is in %s (status %d)",
					r.Method, r.Bucket, r.Key, r.Presigned, r.SigningRegion, b.region, r.Status)
			case r.Status >= 300:
				t.Errorf("%s %s/%s (presigned %v) answered %d", r.Method, r.Bucket, r.Key, r.Presigned, r.Status)
			}
			if r.Presigned {
				presigned[[2]string{r.Bucket, r.Key}]++
			}
		}
		// Azure fetched every object with bytes through a presigned URL
		// (an empty blob is made without a fetch), and nothing of the
		// buckets left out.
		for name, b := range buckets {
			copied := slices.Contains(regions, b.region)
			for _, o := range b.objs {
				n := presigned[[2]string{name, o.key}]
				switch {
				case copied && len(o.data) > 0 && n == 0:
					t.Errorf("%s/%s: no presigned fetch", name, o.key)
				case !copied && n != 0:
					t.Errorf("%s/%s, not to be copied, saw %d presigned fetches", name, o.key, n)
				}
			}
		}
		rs.ResetRecords()
	}
	rs.ResetRecords() // seeding

	// 1. Only eu-west-1's buckets.
	code, stdout, stderr := w.run(t, append(args, "--region", "eu-west-1")...)
	if code != 0 {
		t.Fatalf("region run: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for name := range buckets {
		if strings.HasPrefix(name, "us") && strings.Contains(stdout, name) {
			t.Errorf("the eu-west-1 run names bucket %s:\n%s", name, stdout)
		}
	}
	if !strings.Contains(stdout, fmt.Sprintf("copied:          %d", 8)) {
		t.Errorf("region run summary:\n%s", stdout)
	}
	check(t, "eu-west-1")

	// 2. The whole account. The eu containers exist now (made by run 1):
	// merging into them is intended.
	code, stdout, stderr = w.run(t, append(args, "--allow-existing-containers")...)
	if code != 0 {
		t.Fatalf("account-wide run: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for name, b := range buckets {
		if !strings.Contains(stdout, name) || !strings.Contains(stdout, b.container) {
			t.Errorf("account-wide output lacks %s -> %s:\n%s", name, b.container, stdout)
		}
	}
	check(t, "eu-west-1", "us-east-1")
}
