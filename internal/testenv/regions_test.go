package testenv

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/migrate-tool/migrate/providers"
	s3provider "github.com/migrate-tool/migrate/providers/s3"
)

// startRegional starts a RegionalS3 of the test's own with us-east-1 and
// eu-west-1, or skips (fails with CI=true) when versitygw is missing.
func startRegional(t *testing.T) *RegionalS3 {
	t.Helper()
	tools, err := ToolsDir()
	if err != nil {
		t.Fatal(err)
	}
	if err := ToolsInstalled(tools); err != nil {
		unavailable(t, "versitygw", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rs, err := StartRegionalS3(ctx, RegionalOptions{Regions: []string{"us-east-1", "eu-west-1"}, ToolsDir: tools, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := rs.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return rs
}

// responseError returns err's HTTP status, API error code and
// x-amz-bucket-region header.
func responseError(t *testing.T, err error) (status int, code, region string) {
	t.Helper()
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("not an HTTP response error: %v", err)
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		code = api.ErrorCode()
	}
	return re.HTTPStatusCode(), code, re.Response.Header.Get("X-Amz-Bucket-Region")
}

func TestRegionalS3(t *testing.T) {
	rs := startRegional(t)
	ctx := context.Background()
	if got := rs.Regions(); !slices.Equal(got, []string{"us-east-1", "eu-west-1"}) {
		t.Fatalf("Regions() = %v", got)
	}
	us, err := rs.NewClient(ctx, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	eu, err := rs.NewClient(ctx, "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{ // bucket -> region
		"us-a": "us-east-1", "us.b": "us-east-1",
		"eu-a": "eu-west-1", "eu.b": "eu-west-1", "eu--c": "eu-west-1",
	}
	for b, r := range want {
		if err := rs.CreateBucket(ctx, b, r); err != nil {
			t.Fatalf("CreateBucket %s in %s: %v", b, r, err)
		}
	}

	t.Run("CreatedInTheirRegion", func(t *testing.T) {
		for _, region := range rs.Regions() {
			c, err := rs.Server(region).NewClient(ctx)
			if err != nil {
				t.Fatal(err)
			}
			out, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, b := range out.Buckets {
				got = append(got, aws.ToString(b.Name))
				if want[aws.ToString(b.Name)] != region {
					t.Errorf("bucket %s is on %s's server", aws.ToString(b.Name), region)
				}
			}
			t.Logf("%s holds %v", region, got)
		}
		// A us-east-1 LocationConstraint is refused, as by S3; so is a
		// CreateBucket signed for another region than the constraint's.
		c, _ := rs.NewClient(ctx, "us-east-1")
		_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("eu-wrongly-signed"),
			CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: "eu-west-1"}})
		if err == nil {
			t.Error("CreateBucket in eu-west-1 signed for us-east-1 succeeded")
		} else if status, code, region := responseError(t, err); status != 400 || code != "AuthorizationHeaderMalformed" || region != "" {
			t.Errorf("CreateBucket signed for the wrong region: %d %s region %q", status, code, region)
		}
		// An existing name is refused by the holder, not made twice.
		err = rs.CreateBucket(ctx, "eu-a", "eu-west-1")
		if status, code, _ := responseError(t, err); status != 409 {
			t.Errorf("CreateBucket of an existing bucket: %d %s", status, code)
		}
	})

	t.Run("MergedListing", func(t *testing.T) {
		names := make([]string, 0, len(want))
		for b := range want {
			names = append(names, b)
		}
		slices.Sort(names)
		for _, c := range []*s3.Client{us, eu} {
			out, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, b := range out.Buckets {
				got = append(got, aws.ToString(b.Name))
				if r := aws.ToString(b.BucketRegion); r != want[aws.ToString(b.Name)] {
					t.Errorf("%s listed in %q, want %q", aws.ToString(b.Name), r, want[aws.ToString(b.Name)])
				}
				if b.CreationDate == nil || b.CreationDate.IsZero() {
					t.Errorf("%s without CreationDate", aws.ToString(b.Name))
				}
			}
			if !slices.Equal(got, names) {
				t.Errorf("listing %v, want %v", got, names)
			}
			if out.ContinuationToken != nil || out.Owner == nil || aws.ToString(out.Owner.ID) == "" {
				t.Errorf("token %v owner %+v", out.ContinuationToken, out.Owner)
			}
		}

		// Pages of two, as the provider pages (MaxBuckets and
		// ContinuationToken).
		var got []string
		pages := 0
		p := s3.NewListBucketsPaginator(us, &s3.ListBucketsInput{MaxBuckets: aws.Int32(2)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			if len(page.Buckets) > 2 {
				t.Errorf("page of %d buckets", len(page.Buckets))
			}
			for _, b := range page.Buckets {
				got = append(got, aws.ToString(b.Name))
			}
		}
		if !slices.Equal(got, names) || pages != 3 {
			t.Errorf("%d pages %v, want 3 pages %v", pages, got, names)
		}

		// Filters: prefix and bucket-region.
		out, err := us.ListBuckets(ctx, &s3.ListBucketsInput{Prefix: aws.String("eu"), BucketRegion: aws.String("eu-west-1"), MaxBuckets: aws.Int32(10)})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Buckets) != 3 || aws.ToString(out.Prefix) != "eu" {
			t.Errorf("prefix eu in eu-west-1: %d buckets, prefix %q", len(out.Buckets), aws.ToString(out.Prefix))
		}

		// Signed for a region the rig does not serve: refused.
		other, err := rs.NewClient(ctx, "ap-south-1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := other.ListBuckets(ctx, &s3.ListBucketsInput{}); err == nil {
			t.Error("ListBuckets signed for ap-south-1 succeeded")
		}
		// Bad credentials: the server's answer, passed on.
		bad, err := NewS3Client(ctx, rs.Endpoint, "eu-west-1", rs.AccessKey, "wrong-secret")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bad.ListBuckets(ctx, &s3.ListBucketsInput{}); err == nil {
			t.Error("ListBuckets with a wrong secret succeeded")
		} else if status, code, _ := responseError(t, err); status != 403 {
			t.Errorf("wrong secret: %d %s", status, code)
		}
	})

	t.Run("Routing", func(t *testing.T) {
		data := []byte("hello from eu")
		if _, err := eu.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("eu.b"), Key: aws.String("dir/x.txt"), Body: bytes.NewReader(data)}); err != nil {
			t.Fatal(err)
		}
		out, err := eu.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("eu.b"), Key: aws.String("dir/x.txt")})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if !bytes.Equal(got, data) {
			t.Errorf("GetObject: %q", got)
		}
		// The object is on the eu server.
		direct, _ := rs.Server("eu-west-1").NewClient(ctx)
		if _, err := direct.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("eu.b"), Key: aws.String("dir/x.txt")}); err != nil {
			t.Errorf("not on the eu server: %v", err)
		}
		// HeadBucket names the region.
		hb, err := eu.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("eu.b")})
		if err != nil {
			t.Fatal(err)
		}
		if r := aws.ToString(hb.BucketRegion); r != "eu-west-1" {
			t.Errorf("HeadBucket region %q", r)
		}
		// GetBucketLocation is answered by the bucket's server.
		loc, err := eu.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("eu.b")})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("GetBucketLocation(eu.b) = %q", loc.LocationConstraint)
		// A bucket made on a server directly is found.
		if _, err := direct.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("eu-direct"),
			CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: "eu-west-1"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := eu.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("eu-direct")}); err != nil {
			t.Errorf("bucket made on the server directly: %v", err)
		}
		if _, err := eu.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("eu-direct")}); err != nil {
			t.Errorf("DeleteBucket: %v", err)
		}
		// A missing bucket is NoSuchBucket.
		_, err = eu.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("no-such-bucket")})
		if status, code, _ := responseError(t, err); status != 404 || code != "NoSuchBucket" {
			t.Errorf("missing bucket: %d %s", status, code)
		}
	})

	t.Run("WrongRegionFails", func(t *testing.T) {
		rs.ResetRecords()
		if _, err := eu.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("eu-a"), Key: aws.String("k"), Body: strings.NewReader("v")}); err != nil {
			t.Fatal(err)
		}
		// Signed for us-east-1, sent for an eu bucket: refused, with the
		// bucket's region named.
		_, err := us.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("eu-a")})
		if status, code, region := responseError(t, err); status != 400 || code != "AuthorizationHeaderMalformed" || region != "eu-west-1" {
			t.Errorf("ListObjectsV2: %d %s region %q", status, code, region)
		}
		_, err = us.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("eu-a"), Key: aws.String("k")})
		if status, code, region := responseError(t, err); status != 400 || region != "eu-west-1" {
			t.Errorf("HeadObject: %d %s region %q", status, code, region)
		} else {
			t.Logf("HeadObject signed for the wrong region: %d %s region %q", status, code, region)
		}
		_, err = us.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("eu-a")})
		if status, code, region := responseError(t, err); status != 400 || region != "eu-west-1" {
			t.Errorf("HeadBucket: %d %s region %q", status, code, region)
		}
		// And the other way round.
		_, err = eu.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("us-a"), Key: aws.String("k")})
		if status, code, region := responseError(t, err); status != 400 || code != "AuthorizationHeaderMalformed" || region != "us-east-1" {
			t.Errorf("GetObject of a us bucket signed for eu-west-1: %d %s region %q", status, code, region)
		}

		// Presigned URLs: the right region works, the wrong one is refused.
		fetch := func(c *s3.Client) (int, string, string) {
			t.Helper()
			req, err := s3.NewPresignClient(c).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("eu-a"), Key: aws.String("k")})
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.Get(req.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(body), resp.Header.Get("X-Amz-Bucket-Region")
		}
		if status, body, _ := fetch(eu); status != 200 || body != "v" {
			t.Errorf("presigned for eu-west-1: %d %s", status, body)
		}
		if status, body, region := fetch(us); status != 400 || !strings.Contains(body, "AuthorizationQueryParametersError") || region != "eu-west-1" {
			t.Errorf("presigned for us-east-1: %d %s region %q", status, body, region)
		}

		// The records name each request's signing region.
		var presigned []string
		for _, r := range rs.Records() {
			if r.Presigned {
				presigned = append(presigned, r.SigningRegion+":"+r.ServedBy)
			}
		}
		if !slices.Equal(presigned, []string{"eu-west-1:eu-west-1", "us-east-1:eu-west-1"}) {
			t.Errorf("presigned records %v", presigned)
		}
	})
}

func TestSigningRegion(t *testing.T) {
	for _, tc := range []struct {
		auth, query, want string
	}{
		{"AWS4-HMAC-SHA256 Credential=AKID/20240101/eu-west-1/s3/aws4_request, SignedHeaders=host, Signature=abc", "", "eu-west-1"},
		{"AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/s3/aws4_request,SignedHeaders=host,Signature=abc", "", "us-east-1"},
		{"", "X-Amz-Credential=AKID%2F20240101%2Fap-south-1%2Fs3%2Faws4_request&X-Amz-Signature=x", "ap-south-1"},
		{"", "", ""},
		{"AWS AKID:sig", "", ""},
		{"AWS4-HMAC-SHA256 Credential=broken, Signature=abc", "", ""},
	} {
		r, _ := http.NewRequest(http.MethodGet, "http://h/b/k?"+tc.query, nil)
		if tc.auth != "" {
			r.Header.Set("Authorization", tc.auth)
		}
		if got := signingRegion(r); got != tc.want {
			t.Errorf("signingRegion(%q, %q) = %q, want %q", tc.auth, tc.query, got, tc.want)
		}
	}
}

// TestProviderAcrossRegions runs the S3 provider against the regional rig:
// it learns the regions from the listing, or from the wrong-region answer
// of its first request for a bucket, and presigns for the bucket's region.
func TestProviderAcrossRegions(t *testing.T) {
	rs := startRegional(t)
	ctx := context.Background()
	for b, r := range map[string]string{"us-bucket": "us-east-1", "eu.bucket": "eu-west-1"} {
		if err := rs.CreateBucket(ctx, b, r); err != nil {
			t.Fatal(err)
		}
		c, _ := rs.NewClient(ctx, r)
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("k"), Body: strings.NewReader(b)}); err != nil {
			t.Fatal(err)
		}
	}
	newSource := func(t *testing.T, region string) *s3provider.Source {
		t.Helper()
		src, err := s3provider.New(ctx, s3provider.Options{Region: region, Endpoint: rs.Endpoint,
			Credentials: credentials.NewStaticCredentialsProvider(rs.AccessKey, rs.SecretKey, "")})
		if err != nil {
			t.Fatal(err)
		}
		return src
	}
	presignedFetch := func(t *testing.T, src *s3provider.Source, bucket string) {
		t.Helper()
		u, err := src.PresignGet(ctx, bucket, providers.Object{Key: "k"}, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(u.URL.Reveal())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(body) != bucket {
			t.Errorf("presigned GET of %s: %d %s", bucket, resp.StatusCode, body)
		}
	}
	for _, home := range rs.Regions() {
		t.Run("From"+home, func(t *testing.T) {
			src := newSource(t, home)
			buckets, err := src.ListBuckets(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(buckets) != 2 || buckets[0] != (providers.BucketInfo{Name: "eu.bucket", Region: "eu-west-1"}) ||
				buckets[1] != (providers.BucketInfo{Name: "us-bucket", Region: "us-east-1"}) {
				t.Errorf("ListBuckets = %+v", buckets)
			}
			for _, b := range []string{"us-bucket", "eu.bucket"} {
				if _, err := src.List(ctx, b, providers.ListOptions{}); err != nil {
					t.Errorf("List %s: %v", b, err)
				}
				presignedFetch(t, src, b)
			}
		})
	}
	// Without the listing, the first request for a foreign bucket learns
	// its region from the refusal.
	t.Run("ListFirst", func(t *testing.T) {
		src := newSource(t, "us-east-1")
		if _, err := src.List(ctx, "eu.bucket", providers.ListOptions{}); err != nil {
			t.Fatalf("List: %v", err)
		}
		presignedFetch(t, src, "eu.bucket")
	})
	t.Run("PresignFirst", func(t *testing.T) {
		presignedFetch(t, newSource(t, "us-east-1"), "eu.bucket")
	})
	t.Run("StatFirst", func(t *testing.T) {
		src := newSource(t, "us-east-1")
		if _, err := src.Stat(ctx, "eu.bucket", "k"); err != nil {
			t.Fatalf("Stat: %v", err)
		}
	})
}
