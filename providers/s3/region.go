package s3

import (
	"context"
	"errors"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// A Source serves buckets of every region, not only its own: S3 refuses a
// request signed for the wrong region (301 PermanentRedirect, or 400
// AuthorizationHeaderMalformed, which a HEAD gets as a bare 400 without a
// body) and names the bucket's region in the
// x-amz-bucket-region header. The Source remembers each bucket's region
// (from ListBuckets, from a redirect, or from a successful call) and sends
// later requests, and signs presigned URLs, for that region. Following a
// redirect is routing, not retrying: the request is sent again once, only
// when the server named a different region.

// regionOpts returns the per-operation options that address bucket's region.
func (s *Source) regionOpts(bucket string) (region string, opts []func(*s3sdk.Options)) {
	region = s.region
	if r, ok := s.regions.Load(bucket); ok {
		region = r.(string)
	}
	if region == s.region {
		return region, nil
	}
	return region, []func(*s3sdk.Options){func(o *s3sdk.Options) { o.Region = region }}
}

// routed calls f with options for bucket's region; when S3 answers that the
// bucket lives in another region, it records that region and calls f once
// more. A successful call records the region it used.
func routed[T any](s *Source, bucket string, f func(...func(*s3sdk.Options)) (T, error)) (T, error) {
	region, opts := s.regionOpts(bucket)
	out, err := f(opts...)
	if err != nil {
		if r := redirectRegion(err); r != "" && r != region && bucket != "" {
			s.regions.Store(bucket, r)
			_, opts = s.regionOpts(bucket)
			return f(opts...)
		}
		return out, err
	}
	if bucket != "" {
		s.regions.LoadOrStore(bucket, region)
	}
	return out, nil
}

// redirectRegion returns the region an error response says the bucket is
// in, "" when it is not a wrong-region answer.
func redirectRegion(err error) string {
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.Response == nil {
		return ""
	}
	region := re.Response.Header.Get("X-Amz-Bucket-Region")
	if region == "" {
		return ""
	}
	code := ""
	var api smithy.APIError
	if errors.As(err, &api) {
		code = api.ErrorCode()
	}
	switch {
	case re.HTTPStatusCode() == http.StatusMovedPermanently,
		code == "PermanentRedirect", code == "AuthorizationHeaderMalformed",
		code == "IllegalLocationConstraintException":
		return region
	case re.HTTPStatusCode() == http.StatusBadRequest && code == "BadRequest":
		// The answer to a HEAD (HeadObject, HeadBucket) signed for the
		// wrong region: S3 refuses it with 400 and, HEAD answers having no
		// body, no code but the one the SDK derives from the status. The
		// header is the only sign; boto3's region redirector treats it so.
		return region
	}
	return ""
}

// presignRegion returns the region to sign a URL of bucket for, asking S3
// with one HeadBucket the first time a bucket is seen. S3 names the region
// in HeadBucket's answer even when it refuses (403) or redirects (301); any
// other failure leaves the Source's own region, and whoever fetches the URL
// meets the real error.
func (s *Source) presignRegion(ctx context.Context, bucket string) (string, error) {
	if r, ok := s.regions.Load(bucket); ok {
		return r.(string), nil
	}
	out, err := s.client.HeadBucket(ctx, &s3sdk.HeadBucketInput{Bucket: aws.String(bucket)})
	switch {
	case err == nil && aws.ToString(out.BucketRegion) != "":
		s.regions.Store(bucket, aws.ToString(out.BucketRegion))
	case err == nil:
		s.regions.Store(bucket, s.region)
	default:
		if ctx.Err() != nil {
			return "", err
		}
		var re *awshttp.ResponseError
		if errors.As(err, &re) && re.Response != nil {
			if r := re.Response.Header.Get("X-Amz-Bucket-Region"); r != "" {
				s.regions.Store(bucket, r)
				return r, nil
			}
		}
		return s.region, nil
	}
	r, _ := s.regions.Load(bucket)
	return r.(string), nil
}
