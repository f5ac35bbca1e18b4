package s3

import (
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		in   string
		want Location
	}{
		{"s3://", Location{}},
		{"S3://", Location{}},
		{"s3://bucket", Location{Bucket: "bucket"}},
		{"s3://bucket/", Location{Bucket: "bucket"}},
		{"s3://my.dotted-bucket_1/a/b/", Location{Bucket: "my.dotted-bucket_1", Prefix: "a/b/"}},
		{"s3://bkt/a%20b+c", Location{Bucket: "bkt", Prefix: "a%20b+c"}}, // exact bytes
		{"s3://bkt/a//b", Location{Bucket: "bkt", Prefix: "a//b"}},
		{"s3://bkt//lead", Location{Bucket: "bkt", Prefix: "/lead"}},
		{"s3://bkt/what?x=1#frag", Location{Bucket: "bkt", Prefix: "what?x=1#frag"}},
		{"s3://bkt/ünï", Location{Bucket: "bkt", Prefix: "ünï"}},

		{"https://s3.amazonaws.com", Location{}},
		{"https://s3.amazonaws.com/", Location{}},
		{"https://s3.amazonaws.com/bucket", Location{Bucket: "bucket"}},
		{"https://s3.amazonaws.com/bucket/", Location{Bucket: "bucket"}},
		{"https://s3.amazonaws.com/bucket/dir/a%20b%2Bc+d", Location{Bucket: "bucket", Prefix: "dir/a b+c+d"}},
		{"https://s3.us-west-2.amazonaws.com/bucket/p", Location{Bucket: "bucket", Prefix: "p", Region: "us-west-2"}},
		{"https://s3.us-west-2.amazonaws.com", Location{Region: "us-west-2"}},
		{"https://s3-eu-west-1.amazonaws.com/bucket/p", Location{Bucket: "bucket", Prefix: "p", Region: "eu-west-1"}},
		{"https://s3-eu-west-1.amazonaws.com/", Location{Region: "eu-west-1"}},
		{"https://s3-external-1.amazonaws.com/b12", Location{Bucket: "b12", Region: "us-east-1"}},
		{"https://s3.dualstack.ap-south-1.amazonaws.com/b12/x", Location{Bucket: "b12", Prefix: "x", Region: "ap-south-1"}},
		{"https://bucket.s3.amazonaws.com", Location{Bucket: "bucket"}},
		{"https://bucket.s3.amazonaws.com/", Location{Bucket: "bucket"}},
		{"https://bucket.s3.amazonaws.com/dir/k%C3%BC", Location{Bucket: "bucket", Prefix: "dir/kü"}},
		{"https://my.dotted.bucket.s3.us-gov-west-1.amazonaws.com/x", Location{Bucket: "my.dotted.bucket", Prefix: "x", Region: "us-gov-west-1"}},
		{"https://bucket.s3-us-west-1.amazonaws.com/a//b", Location{Bucket: "bucket", Prefix: "a//b", Region: "us-west-1"}},
		{"https://BUCKET.S3.amazonaws.com/P", Location{Bucket: "bucket", Prefix: "P"}},
		{"https://s3-foo.s3.us-east-2.amazonaws.com/", Location{Bucket: "s3-foo", Region: "us-east-2"}},
		{"https://bucket.s3.cn-north-1.amazonaws.com.cn/p", Location{Bucket: "bucket", Prefix: "p", Region: "cn-north-1"}},
		{"https://bucket.s3-accelerate.amazonaws.com/p", Location{Bucket: "bucket", Prefix: "p"}},

		{"http://127.0.0.1:7070/bkt/pre%2Ffix", Location{Bucket: "bkt", Prefix: "pre/fix", Endpoint: "http://127.0.0.1:7070"}},
		{"http://127.0.0.1:7070", Location{Endpoint: "http://127.0.0.1:7070"}},
		{"https://minio.example:9000/bkt", Location{Bucket: "bkt", Endpoint: "https://minio.example:9000"}},
	}
	for _, tt := range tests {
		got, err := ParseURL(tt.in)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseURL(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestParseURLErrors(t *testing.T) {
	tests := []struct {
		in   string
		want string // fragment of the error text
	}{
		{"", "not a URL"},
		{"bucket/prefix", "not a URL"},
		{"s3:bucket", "not a URL"},
		{"gs://bucket", `scheme "gs"`},
		{"s3:///prefix", "missing bucket name"},
		{"s3://ab", "3 to 255 characters"},
		{"s3://" + strings.Repeat("a", 256), "3 to 255 characters"},
		{"s3://bad*bucket/x", "only letters"},
		{"https://s3.amazonaws.com//x", "missing bucket name"},
		{"https://s3.amazonaws.com/b/x?versionId=3", "query or fragment"},
		{"https://s3.amazonaws.com/b/x#f", "query or fragment"},
		{"https://user:hunter2@s3.amazonaws.com/b/x", "credentials in the URL"},
		{"https://ec2.amazonaws.com/b", "not an S3 endpoint"},
		{"https://bucket.s3-website-us-east-1.amazonaws.com/", "not supported"},
		{"https://s3.notaregion.amazonaws.com/b", "not an AWS region"},
		{"https://a.b.s3.x.y.z.amazonaws.com/b", "cannot read host"},
		{"https:///bucket", "missing host"},
		{"https://s3.amazonaws.com/b/%zz", "invalid URL escape"},
		{"https://s3.amazonaws.com/ab/x", "3 to 255"},
	}
	for _, tt := range tests {
		got, err := ParseURL(tt.in)
		if err == nil {
			t.Errorf("ParseURL(%q) = %+v, want an error containing %q", tt.in, got, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseURL(%q) error %q does not contain %q", tt.in, err, tt.want)
		}
		if !strings.Contains(err.Error(), "valid forms") && !strings.Contains(err.Error(), "credential") {
			t.Errorf("ParseURL(%q) error %q does not show the valid forms", tt.in, err)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("ParseURL(%q) error %q leaks the password", tt.in, err)
		}
	}
}

func TestLocationStringRoundTrip(t *testing.T) {
	for _, l := range []Location{
		{},
		{Bucket: "bkt"},
		{Bucket: "bkt", Prefix: "a b/c%d+e?#ü//"},
		{Bucket: "bkt", Prefix: "x", Endpoint: "http://127.0.0.1:7070"},
		{Bucket: "bkt", Prefix: "a b/c%d+e?#ü//", Endpoint: "http://127.0.0.1:7070"},
	} {
		got, err := ParseURL(l.String())
		if err != nil || got != l {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", l.String(), got, err, l)
		}
	}
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"s3://", "s3://bucket", "s3://bucket/a//b", "s3://b-c.d/%zz?x#y",
		"https://s3.amazonaws.com/bucket/k%20ey", "https://bucket.s3.us-west-2.amazonaws.com/p",
		"https://bucket.s3-eu-west-1.amazonaws.com/", "https://s3-us-west-1.amazonaws.com",
		"http://127.0.0.1:7070/bkt/x", "https://a.s3.dualstack.us-east-1.amazonaws.com.cn/",
		"https://u:p@host/b", "s3:///", "https://s3.amazonaws.com//",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		loc, err := ParseURL(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("ParseURL(%q): empty error text", s)
			}
			return
		}
		if loc.Bucket != "" && (len(loc.Bucket) < 3 || len(loc.Bucket) > 255 || strings.Contains(loc.Bucket, "/")) {
			t.Fatalf("ParseURL(%q) bucket %q is not 0 or 3-255 chars without '/'", s, loc.Bucket)
		}
		if loc.Bucket == "" && loc.Prefix != "" {
			t.Fatalf("ParseURL(%q) gave prefix %q without a bucket", s, loc.Prefix)
		}
		if loc.Region != "" && !isRegion(loc.Region) {
			t.Fatalf("ParseURL(%q) region %q", s, loc.Region)
		}
		// Every successful parse round-trips through String.
		again, err := ParseURL(loc.String())
		if err != nil || again != (Location{Bucket: loc.Bucket, Prefix: loc.Prefix, Endpoint: loc.Endpoint}) {
			t.Fatalf("ParseURL(%q) = %+v; ParseURL(%q) = %+v, %v", s, loc, loc.String(), again, err)
		}
		if scheme, rest, _ := strings.Cut(s, "://"); strings.EqualFold(scheme, "s3") {
			// The s3:// form keeps the prefix's exact bytes.
			if loc.Bucket != "" {
				want := rest[len(loc.Bucket):]
				want = strings.TrimPrefix(want, "/")
				if loc.Prefix != want {
					t.Fatalf("ParseURL(%q) prefix %q, want %q", s, loc.Prefix, want)
				}
				if !strings.HasPrefix(rest, loc.Bucket) {
					t.Fatalf("ParseURL(%q) bucket %q is not the URL's", s, loc.Bucket)
				}
			}
		}
	})
}
