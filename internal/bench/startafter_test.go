package bench

import (
	"context"
	"net/url"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/migrate-tool/migrate/pipeline"
	"github.com/migrate-tool/migrate/providers"
	"github.com/migrate-tool/migrate/providers/s3"
)

// startAfterSource is the real S3 provider plus the ListAfter that
// pipeline.ListPartitioned needs and providers/s3 does not have yet: the
// provider's own ListObjectsV2 with StartAfter set, made here with the
// same SDK client settings (path style, no retries) until it moves into
// providers/s3.
type startAfterSource struct {
	*s3.Source
	client *s3sdk.Client
}

var _ pipeline.StartAfterLister = startAfterSource{}

func withStartAfter(tb testing.TB, src *s3.Source, endpoint string) startAfterSource {
	tb.Helper()
	client := s3sdk.New(s3sdk.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDSCALEFAKE", "scale-fake-secret", ""),
		Retryer:      aws.NopRetryer{},
	})
	return startAfterSource{Source: src, client: client}
}

func (s startAfterSource) ListAfter(ctx context.Context, bucket string, opts providers.ListOptions, startAfter string) (providers.Page, error) {
	n := opts.MaxResults
	if n <= 0 || n > 1000 {
		n = 1000
	}
	in := &s3sdk.ListObjectsV2Input{Bucket: aws.String(bucket), MaxKeys: aws.Int32(int32(n)), EncodingType: types.EncodingTypeUrl,
		StartAfter: aws.String(startAfter)}
	if opts.Prefix != "" {
		in.Prefix = aws.String(opts.Prefix)
	}
	out, err := s.client.ListObjectsV2(ctx, in)
	if err != nil {
		return providers.Page{}, err
	}
	var p providers.Page
	for _, c := range out.Contents {
		key := aws.ToString(c.Key)
		if out.EncodingType == types.EncodingTypeUrl {
			if key, err = url.QueryUnescape(key); err != nil {
				return providers.Page{}, err
			}
		}
		p.Objects = append(p.Objects, providers.Object{Key: key, Size: aws.ToInt64(c.Size), ETag: aws.ToString(c.ETag), LastModified: aws.ToTime(c.LastModified)})
	}
	if aws.ToBool(out.IsTruncated) {
		p.Next = aws.ToString(out.NextContinuationToken)
	}
	return p, nil
}
