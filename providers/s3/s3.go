// Package s3 is the Amazon S3 (and S3-compatible) source provider, built on
// aws-sdk-go-v2. A *Source lists buckets (with their regions) and pages of
// objects, stats objects and reads their tags, presigns GET URLs that a
// destination such as Azure Blob Storage pulls from server-side, and reads
// byte ranges for the streaming fallback. Objects encrypted with a customer
// key (SSE-C), requester-pays buckets and endpoints the destination cannot
// reach are read with the right headers and refused for presigning with
// providers.ErrCantServerSide, so the pipeline streams them. Every SDK
// failure is classified into a *providers.Error at this boundary; the SDK's
// own retries are switched off because the pipeline owns the single retry
// layer. ParseURL turns the s3:// and AzCopy-style https:// forms a user
// types into a Location. A *Source is also a destination (dest.go,
// multipart.go): it writes objects, multipart uploads and S3 → S3
// server-side copies on the same client.
package s3

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/migrate-tool/migrate/providers"
)

// Compile-time checks of the capabilities a *Source offers.
var (
	_ providers.Source       = (*Source)(nil)
	_ providers.Presigner    = (*Source)(nil)
	_ providers.RangeReader  = (*Source)(nil)
	_ providers.BucketLister = (*Source)(nil)
	_ providers.TagReader    = (*Source)(nil)
)

const (
	// DefaultPresignTTL is the validity of a presigned URL when neither
	// Options.PresignTTL nor PresignGet's ttl says otherwise.
	DefaultPresignTTL = 15 * time.Minute
	// MaxPresignTTL is SigV4's limit on a presigned URL's validity.
	MaxPresignTTL = 7 * 24 * time.Hour
	// presignMargin is kept between a presigned URL's expiry and the expiry
	// of the credentials that signed it: the URL dies with the credentials.
	presignMargin = 2 * time.Minute
	// defaultRegion is used when neither Options nor the environment name one.
	defaultRegion = "us-east-1"
	// maxListKeys is S3's largest ListObjectsV2 page.
	maxListKeys = 1000
	// locationLookups bounds the concurrent GetBucketLocation calls of
	// ListBuckets.
	locationLookups = 8
)

// Options configure a Source. The zero value uses the SDK's default region
// and credential chain against AWS.
type Options struct {
	// Region of the client; "" takes the region from the shared config or
	// environment, and us-east-1 when neither names one.
	Region string
	// Endpoint is the base URL of an S3-compatible server
	// ("http://127.0.0.1:7070"); setting it forces path-style addressing.
	// "" uses AWS's endpoint for Region.
	Endpoint string
	// Profile selects a shared config/credentials profile; "" is the default
	// profile (or AWS_PROFILE).
	Profile string
	// UsePathStyle addresses buckets as https://host/bucket/key instead of
	// https://bucket.host/key.
	UsePathStyle bool
	// PresignTTL is the validity of presigned URLs when PresignGet is given
	// no ttl; 0 means DefaultPresignTTL.
	PresignTTL time.Duration
	// WrapTransport, when set, wraps the HTTP round tripper every request of
	// this Source goes through (tests count requests with it). It does not
	// see requests made with presigned URLs by other services.
	WrapTransport func(http.RoundTripper) http.RoundTripper
	// Credentials signs requests; nil uses the SDK's default chain
	// (environment, shared config and profiles, SSO, web identity, IMDS).
	Credentials aws.CredentialsProvider
	// Anonymous sends unsigned requests, for public buckets: no credential
	// is looked up, and PresignGet gives the object's plain URL (the bucket
	// lets anyone read it, so Azure can fetch it as it is).
	Anonymous bool
	// SSECustomerKey is the customer-provided key (SSE-C) the objects are
	// encrypted with: the standard base64 encoding of the 32-byte AES-256
	// key, as `openssl rand -base64 32` prints it and as S3's
	// x-amz-server-side-encryption-customer-key header carries it (a raw
	// 32-character key must be base64-encoded first; New refuses anything
	// that does not decode to exactly 32 bytes). When set, Stat
	// (HeadObject) and OpenRange (GetObject) send the three SSE-C headers
	// (algorithm AES256, the key, the key's MD5), so every object read
	// must be encrypted with this key, and PresignGet refuses with
	// providers.ErrCantServerSide: the destination's fetch of a presigned
	// URL cannot send those headers, so such objects are streamed.
	SSECustomerKey providers.Secret
	// RequestPayer says the requester pays for requests and transfer of a
	// requester-pays bucket: List, Stat, Tags and OpenRange send
	// x-amz-request-payer: requester. PresignGet then refuses with
	// providers.ErrCantServerSide: requester-pays objects are streamed, so
	// the transfer is billed to these credentials in requests this process
	// makes (issue 5's choice), not through URLs handed to another service.
	RequestPayer bool
	// SourceUnreachable says the destination service cannot reach this
	// endpoint (an S3-compatible server on a private network): PresignGet
	// refuses with providers.ErrCantServerSide, so every object is
	// streamed through this process.
	SourceUnreachable bool

	// The fields below apply when the Source is a destination (dest.go).

	// ACL is the canned ACL every object written gets ("private",
	// "bucket-owner-full-control", ...; see types.ObjectCannedACL), sent
	// as x-amz-acl on PutObject, CreateMultipartUpload and CopyObject; ""
	// sends none (the bucket's default). New refuses a name that is not a
	// canned ACL. A bucket whose Object Ownership is "bucket owner
	// enforced" (AWS's default for new buckets) refuses every ACL but
	// bucket-owner-full-control.
	ACL string
	// StorageClass is the storage class every object written gets
	// (STANDARD, STANDARD_IA, INTELLIGENT_TIERING, GLACIER_IR, ...), sent as
	// x-amz-storage-class on the same requests as ACL; "" sends none
	// (STANDARD, or the server's default). It is not checked against a
	// list: S3-compatible servers define classes of their own.
	StorageClass string
	// CopyObjectThreshold is the largest source one CopyObject, and the
	// largest range one UploadPartCopy, may copy; 0 means S3's 5 GiB. Set it
	// for an S3-compatible server configured lower (versitygw
	// --copy-object-threshold, which limits both). It must be 0..5 GiB.
	CopyObjectThreshold int64
}

// sseCustomerAlgorithm is the only algorithm SSE-C takes.
const sseCustomerAlgorithm = "AES256"

// sseC is the SSE-C headers' values, computed once in New.
type sseC struct {
	key    providers.Secret // base64 of the 32-byte key
	keyMD5 string           // base64 of the key's MD5
}

// newSSEC checks a base64 key and derives the headers' values; nil for no
// key. Its errors never contain the key.
func newSSEC(key providers.Secret) (*sseC, error) {
	if key == "" {
		return nil, nil
	}
	text := strings.TrimSpace(key.Reveal())
	raw, err := base64.StdEncoding.DecodeString(text)
	if len(text) == 32 && (err != nil || len(raw) != 32) {
		return nil, &providers.Error{Kind: providers.KindInvalid, Op: "New",
			Msg: "SSECustomerKey has 32 characters: a raw key? give the base64 encoding of the 32-byte key (44 characters, e.g. from `openssl rand -base64 32`)"}
	}
	if err != nil {
		return nil, &providers.Error{Kind: providers.KindInvalid, Op: "New",
			Msg: "SSECustomerKey is not standard base64; give the base64 encoding of the 32-byte key (e.g. from `openssl rand -base64 32`)"}
	}
	if len(raw) != 32 {
		return nil, &providers.Error{Kind: providers.KindInvalid, Op: "New",
			Msg: fmt.Sprintf("SSECustomerKey decodes to %d bytes; SSE-C takes a 32-byte AES-256 key, base64-encoded", len(raw))}
	}
	sum := md5.Sum(raw)
	return &sseC{
		key:    providers.Secret(base64.StdEncoding.EncodeToString(raw)),
		keyMD5: base64.StdEncoding.EncodeToString(sum[:]),
	}, nil
}

// headers returns the SSE-C request fields: algorithm, key and key MD5.
func (k *sseC) headers() (alg, key, keyMD5 *string) {
	return aws.String(sseCustomerAlgorithm), aws.String(k.key.Reveal()), aws.String(k.keyMD5)
}

// Source reads objects from S3. It is safe for concurrent use. One Source
// serves buckets of every region: it learns each bucket's region (from
// ListBuckets, or from S3's wrong-region answer, followed once) and
// addresses and signs for it; see region.go.
type Source struct {
	client  *s3sdk.Client
	presign *s3sdk.PresignClient
	creds   aws.CredentialsProvider
	region  string
	ttl     time.Duration
	now     func() time.Time
	regions sync.Map // bucket name -> region, see region.go

	ssec        *sseC              // nil without Options.SSECustomerKey
	payer       types.RequestPayer // "requester" with Options.RequestPayer, else ""
	unreachable bool               // Options.SourceUnreachable
	anonymous   bool               // Options.Anonymous

	endpoint string      // Options.Endpoint without a trailing '/'; "" is AWS
	dest     destOptions // the destination's Options (dest.go)
	uploads  uploadTable // multipart uploads begun, not yet ended (multipart.go)
}

// New builds a Source from o. It loads the shared AWS configuration (region,
// profile, credentials chain, AWS_CA_BUNDLE) but makes no request: missing or
// wrong credentials surface on the first call. The SDK's retries are off.
func New(ctx context.Context, o Options) (*Source, error) {
	if o.PresignTTL < 0 {
		return nil, &providers.Error{Kind: providers.KindInvalid, Op: "New", Msg: fmt.Sprintf("negative PresignTTL %v", o.PresignTTL)}
	}
	ssec, err := newSSEC(o.SSECustomerKey)
	if err != nil {
		return nil, err
	}
	dest, err := newDestOptions(o)
	if err != nil {
		return nil, err
	}
	// The config loader must be given an *awshttp.BuildableClient (or none):
	// with AWS_CA_BUNDLE set it adds the bundle through WithTransportOptions
	// and refuses any other client type. WrapTransport is applied later, on
	// the finished client.
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns = 1024
		t.MaxIdleConnsPerHost = 512
		t.MaxConnsPerHost = 0
		t.IdleConnTimeout = 90 * time.Second
		t.ResponseHeaderTimeout = 2 * time.Minute
		t.ExpectContinueTimeout = time.Second
	})
	loadOpts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(httpClient),
		config.WithRetryer(func() aws.Retryer { return aws.NopRetryer{} }),
	}
	if o.Region != "" {
		loadOpts = append(loadOpts, config.WithRegion(o.Region))
	}
	if o.Profile != "" {
		loadOpts = append(loadOpts, config.WithSharedConfigProfile(o.Profile))
	}
	if o.Anonymous {
		o.Credentials = aws.AnonymousCredentials{}
	}
	if o.Credentials != nil {
		loadOpts = append(loadOpts, config.WithCredentialsProvider(o.Credentials))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		// Config errors name files and profiles, not secrets; still redact.
		return nil, &providers.Error{Kind: providers.KindInvalid, Op: "LoadConfig", Msg: "loading AWS configuration: " + err.Error(), Err: err}
	}
	if cfg.Region == "" {
		cfg.Region = defaultRegion
	}
	inner := cfg.HTTPClient
	client := s3sdk.NewFromConfig(cfg, func(so *s3sdk.Options) {
		so.Retryer = aws.NopRetryer{}
		so.RetryMaxAttempts = 1
		// Validating response checksums would add x-amz-checksum-mode to
		// GETs (and to presigned URLs); the pipeline verifies on its own.
		so.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		so.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(strings.TrimRight(o.Endpoint, "/"))
			so.UsePathStyle = true
		}
		if o.UsePathStyle {
			so.UsePathStyle = true
		}
		if o.WrapTransport != nil {
			so.HTTPClient = doerClient{o.WrapTransport(doerTransport{inner})}
		}
	})
	ttl := o.PresignTTL
	if ttl == 0 {
		ttl = DefaultPresignTTL
	}
	src := &Source{
		client:      client,
		presign:     s3sdk.NewPresignClient(client),
		creds:       cfg.Credentials,
		region:      cfg.Region,
		ttl:         ttl,
		now:         time.Now,
		ssec:        ssec,
		unreachable: o.SourceUnreachable,
		anonymous:   o.Anonymous,
		endpoint:    strings.TrimRight(o.Endpoint, "/"),
		dest:        dest,
	}
	if o.RequestPayer {
		src.payer = types.RequestPayerRequester
	}
	return src, nil
}

// Region is the region the Source's client signs for.
func (s *Source) Region() string { return s.region }

// doerTransport turns the SDK's HTTP client into a RoundTripper, so a
// WrapTransport sees requests after all of the client's own settings
// (CA bundle, timeouts) apply.
type doerTransport struct{ c aws.HTTPClient }

func (d doerTransport) RoundTrip(r *http.Request) (*http.Response, error) { return d.c.Do(r) }

// doerClient is the SDK HTTP client made of a (wrapped) RoundTripper.
type doerClient struct{ rt http.RoundTripper }

func (d doerClient) Do(r *http.Request) (*http.Response, error) { return d.rt.RoundTrip(r) }

// List returns one ListObjectsV2 page of bucket under opts.Prefix, in
// ascending UTF-8 byte order of key (with x-amz-request-payer when
// Options.RequestPayer is set). opts.Token is the continuation token of
// the previous page's Next; Next is "" on the last page. MaxResults above
// 1000 is capped at 1000 (S3's page limit); 0 means 1000. ETags are returned
// without quotes; VersionID is always "" (ListObjectsV2 reports current
// versions only). A missing bucket is NotFound.
func (s *Source) List(ctx context.Context, bucket string, opts providers.ListOptions) (providers.Page, error) {
	return s.list(ctx, bucket, opts, "")
}

// list is List, and ListAfter when startAfter is set (StartAfter instead
// of a continuation token).
func (s *Source) list(ctx context.Context, bucket string, opts providers.ListOptions, startAfter string) (providers.Page, error) {
	const op = "ListObjectsV2"
	if bucket == "" {
		return providers.Page{}, invalid(op, bucket, "empty bucket name")
	}
	if opts.MaxResults < 0 {
		return providers.Page{}, invalid(op, bucket, fmt.Sprintf("negative MaxResults %d", opts.MaxResults))
	}
	n := opts.MaxResults
	if n == 0 || n > maxListKeys {
		n = maxListKeys
	}
	in := &s3sdk.ListObjectsV2Input{
		Bucket:       aws.String(bucket),
		MaxKeys:      aws.Int32(int32(n)),
		EncodingType: types.EncodingTypeUrl,
		RequestPayer: s.payer,
	}
	if opts.Prefix != "" {
		in.Prefix = aws.String(opts.Prefix)
	}
	if startAfter != "" {
		in.StartAfter = aws.String(startAfter)
	} else if opts.Token != "" {
		in.ContinuationToken = aws.String(opts.Token)
	}
	out, err := routed(s, bucket, func(o ...func(*s3sdk.Options)) (*s3sdk.ListObjectsV2Output, error) {
		return s.client.ListObjectsV2(ctx, in, o...)
	})
	if err != nil {
		return providers.Page{}, classify(ctx, op, bucket, err)
	}
	urlEncoded := out.EncodingType == types.EncodingTypeUrl
	page := providers.Page{Objects: make([]providers.Object, 0, len(out.Contents))}
	for _, c := range out.Contents {
		key := aws.ToString(c.Key)
		if urlEncoded {
			k, err := decodeListKey(key)
			if err != nil {
				return providers.Page{}, &providers.Error{Kind: providers.KindInvalid, Op: op, Where: bucket,
					Msg: fmt.Sprintf("server bug: undecodable url-encoded key %q", key), Err: err}
			}
			key = k
		}
		page.Objects = append(page.Objects, providers.Object{
			Key:          key,
			Size:         aws.ToInt64(c.Size),
			ETag:         unquote(aws.ToString(c.ETag)),
			LastModified: aws.ToTime(c.LastModified),
			StorageClass: string(c.StorageClass),
		})
	}
	if aws.ToBool(out.IsTruncated) {
		page.Next = aws.ToString(out.NextContinuationToken)
		if page.Next == "" {
			return providers.Page{}, &providers.Error{Kind: providers.KindInvalid, Op: op, Where: bucket,
				Msg: "server bug: truncated listing without a continuation token"}
		}
		if page.Next == opts.Token {
			return providers.Page{}, &providers.Error{Kind: providers.KindInvalid, Op: op, Where: bucket,
				Msg: "server bug: it returned the continuation token it was given"}
		}
	}
	return page, nil
}

// Stat returns, from one HeadObject (with the SSE-C headers and
// x-amz-request-payer when the Options ask for them), the listing fields, the five content
// headers, the user metadata (keys as S3 reports them, lowercase), ContentMD5
// when the ETag is the object's MD5, and what S3 knows that Azure has no
// place for: the tag count, Expires, the website redirect, the encryption
// and the restore status (see headInfo). Tags stay nil: they cost a request
// of their own (Tags). A missing bucket or object is NotFound.
func (s *Source) Stat(ctx context.Context, bucket, key string) (providers.ObjectInfo, error) {
	const op = "HeadObject"
	where := bucket + "/" + key
	if bucket == "" || key == "" {
		return providers.ObjectInfo{}, invalid(op, where, "empty bucket or key")
	}
	in := &s3sdk.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), RequestPayer: s.payer}
	if s.ssec != nil {
		in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = s.ssec.headers()
	}
	out, err := routed(s, bucket, func(o ...func(*s3sdk.Options)) (*s3sdk.HeadObjectOutput, error) {
		return s.client.HeadObject(ctx, in, o...)
	})
	if err != nil {
		return providers.ObjectInfo{}, classify(ctx, op, where, err)
	}
	return headInfo(key, out), nil
}

// headInfo turns the HeadObject answer for key into an ObjectInfo.
//   - StorageClass is the x-amz-storage-class header, which S3 sends only
//     for classes other than STANDARD: "" stands for STANDARD (metadata.TierFor
//     reads it so), while listings name STANDARD explicitly.
//   - TagCount is x-amz-tagging-count, which S3 sends only when the object
//     has tags: its absence is a known 0, not unknown (-1).
//   - Encryption is "SSE-C" when the object is encrypted with a customer
//     key (x-amz-server-side-encryption-customer-algorithm), else the
//     x-amz-server-side-encryption header as is ("", "AES256", "aws:kms",
//     "aws:kms:dsse").
//   - Expires, WebsiteRedirect and Restore are the raw headers. Expires is
//     kept unparsed: S3 stores whatever the uploader sent, dates or not.
//   - ContentMD5 is set only when the ETag is 32 hex digits and the object
//     is stored unencrypted or with SSE-S3 (AES256): then, for a
//     single-part upload, the ETag is the MD5 of the content. KMS and SSE-C
//     ETags are not.
func headInfo(key string, out *s3sdk.HeadObjectOutput) providers.ObjectInfo {
	etag := unquote(aws.ToString(out.ETag))
	info := providers.ObjectInfo{
		Object: providers.Object{
			Key:          key,
			Size:         aws.ToInt64(out.ContentLength),
			ETag:         etag,
			LastModified: aws.ToTime(out.LastModified),
			StorageClass: string(out.StorageClass),
			VersionID:    versionID(out.VersionId),
		},
		Properties: providers.Properties{
			ContentType:        aws.ToString(out.ContentType),
			ContentEncoding:    aws.ToString(out.ContentEncoding),
			ContentDisposition: aws.ToString(out.ContentDisposition),
			ContentLanguage:    aws.ToString(out.ContentLanguage),
			CacheControl:       aws.ToString(out.CacheControl),
			Metadata:           out.Metadata,
		},
		TagCount:        int(aws.ToInt32(out.TagCount)),
		Expires:         aws.ToString(out.ExpiresString),
		WebsiteRedirect: aws.ToString(out.WebsiteRedirectLocation),
		Encryption:      string(out.ServerSideEncryption),
		Restore:         aws.ToString(out.Restore),
	}
	if info.Expires == "" && out.Expires != nil {
		// Only the parsed field is set (an output built by hand).
		info.Expires = out.Expires.UTC().Format(http.TimeFormat)
	}
	if out.SSECustomerAlgorithm != nil {
		info.Encryption = encryptionSSEC
	}
	if info.Encryption == "" || info.Encryption == string(types.ServerSideEncryptionAes256) {
		info.ContentMD5 = md5FromETag(etag)
	}
	return info
}

// encryptionSSEC is ObjectInfo.Encryption of an object encrypted with a
// customer-provided key.
const encryptionSSEC = "SSE-C"

// Tags returns the tags of obj with one GetObjectTagging, pinned to
// obj.VersionID when set; an object without tags gives an empty map. It
// sends x-amz-request-payer with Options.RequestPayer; S3's
// GetObjectTagging takes no SSE-C headers (tags are not encrypted with the
// object), so none are sent. A
// missing bucket or object is NotFound; a missing version is NotFound
// (NoSuchVersion) or, for an id S3 cannot parse, Invalid.
func (s *Source) Tags(ctx context.Context, bucket string, obj providers.Object) (map[string]string, error) {
	const op = "GetObjectTagging"
	where := bucket + "/" + obj.Key
	if bucket == "" || obj.Key == "" {
		return nil, invalid(op, where, "empty bucket or key")
	}
	in := &s3sdk.GetObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String(obj.Key), RequestPayer: s.payer}
	if obj.VersionID != "" {
		in.VersionId = aws.String(obj.VersionID)
	}
	out, err := routed(s, bucket, func(o ...func(*s3sdk.Options)) (*s3sdk.GetObjectTaggingOutput, error) {
		return s.client.GetObjectTagging(ctx, in, o...)
	})
	if err != nil {
		return nil, classify(ctx, op, where, err)
	}
	tags := make(map[string]string, len(out.TagSet))
	for _, tag := range out.TagSet {
		tags[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
	}
	return tags, nil
}

// PresignGet returns a URL through which anyone holding it can GET obj
// (pinned to obj.VersionID when set; a destination may add a Range header),
// signed for the bucket's region.
// The URL is valid for ttl (the Source's PresignTTL when ttl <= 0), never
// more than 7 days and never past the signing credentials' expiry minus a
// safety margin; Expires says when it stops working. Presigning sends no
// request except, the first time a bucket is seen by this Source, one
// HeadBucket to learn its region; a missing object is only found by whoever
// fetches the URL.
// If the credentials are about to expire, they are refreshed once; if they
// still leave no validity, the error is Permission. IfMatch is obj.ETag, so a
// destination can make its fetch conditional on the object not having
// changed since it was listed.
// With Options.SSECustomerKey, RequestPayer or SourceUnreachable set it
// sends nothing and fails with an Invalid error wrapping
// providers.ErrCantServerSide: the pipeline streams such objects instead.
func (s *Source) PresignGet(ctx context.Context, bucket string, obj providers.Object, ttl time.Duration) (providers.SourceURL, error) {
	const op = "PresignGetObject"
	where := bucket + "/" + obj.Key
	if bucket == "" || obj.Key == "" {
		return providers.SourceURL{}, invalid(op, where, "empty bucket or key")
	}
	if err := ctx.Err(); err != nil {
		return providers.SourceURL{}, classify(ctx, op, where, err)
	}
	if why := s.cantPresign(); why != "" {
		return providers.SourceURL{}, &providers.Error{Kind: providers.KindInvalid, Op: op, Where: where, Msg: why, Err: providers.ErrCantServerSide}
	}
	if ttl <= 0 {
		ttl = s.ttl
	}
	ttl = min(ttl, MaxPresignTTL)
	region, err := s.presignRegion(ctx, bucket)
	if err != nil {
		return providers.SourceURL{}, classify(ctx, op, where, err)
	}
	now := s.now()
	if s.anonymous {
		return s.plainURL(ctx, op, where, bucket, obj, region, now, ttl)
	}
	validity, err := s.validity(ctx, now, ttl)
	if err != nil {
		return providers.SourceURL{}, classify(ctx, op, where, err)
	}
	if validity < time.Second {
		return providers.SourceURL{}, &providers.Error{Kind: providers.KindPermission, Op: op, Where: where,
			Msg: "credentials expire too soon to presign a URL; refresh them"}
	}
	in := &s3sdk.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(obj.Key)}
	if obj.VersionID != "" {
		in.VersionId = aws.String(obj.VersionID)
	}
	req, err := s.presign.PresignGetObject(ctx, in, func(po *s3sdk.PresignOptions) {
		po.Expires = validity
		if region != s.region {
			po.ClientOptions = append(po.ClientOptions, func(o *s3sdk.Options) { o.Region = region })
		}
	})
	if err != nil {
		return providers.SourceURL{}, classify(ctx, op, where, err)
	}
	return providers.SourceURL{URL: providers.Secret(req.URL), Expires: now.Add(validity), IfMatch: obj.ETag}, nil
}

// plainURL is PresignGet for a public bucket: the object's URL as the SDK
// resolves it (path or virtual-hosted style, the bucket's region), without
// any signature. It is built by signing with a throwaway credential and
// removing the X-Amz-* parameters, so endpoint resolution stays the SDK's.
func (s *Source) plainURL(ctx context.Context, op, where, bucket string, obj providers.Object, region string, now time.Time, ttl time.Duration) (providers.SourceURL, error) {
	in := &s3sdk.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(obj.Key)}
	if obj.VersionID != "" {
		in.VersionId = aws.String(obj.VersionID)
	}
	req, err := s.presign.PresignGetObject(ctx, in, func(po *s3sdk.PresignOptions) {
		po.ClientOptions = append(po.ClientOptions, func(o *s3sdk.Options) {
			o.Region = region
			o.Credentials = credentials.NewStaticCredentialsProvider("anonymous", "anonymous", "")
		})
	})
	if err != nil {
		return providers.SourceURL{}, classify(ctx, op, where, err)
	}
	u, err := url.Parse(req.URL)
	if err != nil {
		return providers.SourceURL{}, classify(ctx, op, where, err)
	}
	q := u.Query()
	for k := range q {
		if strings.HasPrefix(strings.ToLower(k), "x-amz-") {
			q.Del(k)
		}
	}
	u.RawQuery = q.Encode()
	return providers.SourceURL{URL: providers.Secret(u.String()), Expires: now.Add(ttl), IfMatch: obj.ETag}, nil
}

// cantPresign says why no object of this Source can be fetched by another
// service through a presigned URL, "" when they can.
func (s *Source) cantPresign() string {
	switch {
	case s.unreachable:
		return "the destination cannot reach this S3 endpoint (Options.SourceUnreachable)"
	case s.ssec != nil:
		return "objects encrypted with a customer key cannot be fetched by Azure: a presigned URL cannot carry the SSE-C key headers"
	case s.payer != "":
		return "requester-pays objects are streamed, not fetched by Azure through presigned URLs"
	}
	return ""
}

// validity is how long a URL presigned now may live: ttl, cut to whole
// seconds and to the credentials' expiry minus presignMargin.
func (s *Source) validity(ctx context.Context, now time.Time, ttl time.Duration) (time.Duration, error) {
	creds, err := s.creds.Retrieve(ctx)
	if err != nil {
		return 0, err
	}
	if creds.CanExpire && creds.Expires.Sub(now)-presignMargin < ttl && creds.Expires.Sub(now)-presignMargin < time.Minute {
		// Nearly expired: ask the cache for fresh credentials once.
		if c, ok := s.creds.(*aws.CredentialsCache); ok {
			c.Invalidate()
			if creds, err = s.creds.Retrieve(ctx); err != nil {
				return 0, err
			}
		}
	}
	v := ttl
	if creds.CanExpire {
		v = min(v, creds.Expires.Sub(now)-presignMargin)
	}
	return v.Truncate(time.Second), nil
}

// OpenRange returns a reader of r's bytes of obj (the whole object for a zero
// Range), pinned to obj.VersionID when set and, when obj.ETag is set, to that
// ETag: an object replaced since it was listed gives a Precondition error
// instead of mixed bytes. A range past the end is Invalid. Read errors of the
// returned body are classified too. The caller closes it. The SSE-C headers
// and x-amz-request-payer are sent when the Options ask for them.
func (s *Source) OpenRange(ctx context.Context, bucket string, obj providers.Object, r providers.Range) (io.ReadCloser, error) {
	const op = "GetObject"
	where := bucket + "/" + obj.Key
	if bucket == "" || obj.Key == "" {
		return nil, invalid(op, where, "empty bucket or key")
	}
	if r.Offset < 0 || r.Count < 0 {
		return nil, invalid(op, where, fmt.Sprintf("negative range offset %d count %d", r.Offset, r.Count))
	}
	in := &s3sdk.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(obj.Key), RequestPayer: s.payer}
	if s.ssec != nil {
		in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = s.ssec.headers()
	}
	if obj.VersionID != "" {
		in.VersionId = aws.String(obj.VersionID)
	}
	if obj.ETag != "" {
		in.IfMatch = aws.String(`"` + obj.ETag + `"`)
	}
	switch {
	case r.Count > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", r.Offset, r.Offset+r.Count-1))
	case r.Offset > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", r.Offset))
	}
	out, err := routed(s, bucket, func(o ...func(*s3sdk.Options)) (*s3sdk.GetObjectOutput, error) {
		return s.client.GetObject(ctx, in, o...)
	})
	if err != nil {
		return nil, classify(ctx, op, where, err)
	}
	return providers.ClassifyReads(out.Body, func(err error) error { return classify(ctx, "GetObject (read)", where, err) }), nil
}

// ListBuckets returns every bucket the credentials can list, in the order S3
// lists them, each with its region: the listing's BucketRegion when the
// server reports it, else GetBucketLocation's answer (an empty location is
// us-east-1, "EU" is eu-west-1). A bucket whose location the credentials may
// not read keeps Region "".
func (s *Source) ListBuckets(ctx context.Context) ([]providers.BucketInfo, error) {
	const op = "ListBuckets"
	var (
		buckets []providers.BucketInfo
		token   string
		seen    = map[string]bool{}
	)
	for {
		in := &s3sdk.ListBucketsInput{MaxBuckets: aws.Int32(1000)}
		if token != "" {
			in.ContinuationToken = aws.String(token)
		}
		out, err := s.client.ListBuckets(ctx, in)
		if err != nil {
			return nil, classify(ctx, op, "", err)
		}
		for _, b := range out.Buckets {
			buckets = append(buckets, providers.BucketInfo{Name: aws.ToString(b.Name), Region: aws.ToString(b.BucketRegion)})
		}
		token = aws.ToString(out.ContinuationToken)
		if token == "" {
			break
		}
		if seen[token] {
			return nil, &providers.Error{Kind: providers.KindInvalid, Op: op, Msg: "server bug: it repeated a continuation token"}
		}
		seen[token] = true
	}
	if err := s.fillRegions(ctx, buckets); err != nil {
		return nil, err
	}
	for _, b := range buckets {
		if b.Region != "" {
			s.regions.Store(b.Name, b.Region)
		}
	}
	return buckets, nil
}

// fillRegions asks GetBucketLocation, a few at a time, for every bucket the
// listing gave no region.
func (s *Source) fillRegions(ctx context.Context, buckets []providers.BucketInfo) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		sem      = make(chan struct{}, locationLookups)
	)
	for i := range buckets {
		if buckets[i].Region != "" {
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func(b *providers.BucketInfo) {
			defer func() { <-sem; wg.Done() }()
			region, err := s.bucketRegion(ctx, b.Name)
			if err != nil && providers.KindOf(err) != providers.KindPermission {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
					cancel()
				}
				mu.Unlock()
				return
			}
			b.Region = region
		}(&buckets[i])
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if ctx.Err() != nil {
		return classify(ctx, "GetBucketLocation", "", ctx.Err())
	}
	return nil
}

func (s *Source) bucketRegion(ctx context.Context, bucket string) (string, error) {
	// GetBucketLocation answers from any region.
	out, err := s.client.GetBucketLocation(ctx, &s3sdk.GetBucketLocationInput{Bucket: aws.String(bucket)})
	if err != nil {
		return "", classify(ctx, "GetBucketLocation", bucket, err)
	}
	switch loc := string(out.LocationConstraint); loc {
	case "":
		return "us-east-1", nil
	case "EU":
		return "eu-west-1", nil
	default:
		return loc, nil
	}
}

func invalid(op, where, msg string) error {
	return &providers.Error{Kind: providers.KindInvalid, Op: op, Where: where, Msg: msg}
}

func unquote(etag string) string {
	etag = strings.TrimPrefix(etag, "W/")
	if len(etag) >= 2 && etag[0] == '"' && etag[len(etag)-1] == '"' {
		return etag[1 : len(etag)-1]
	}
	return etag
}

func versionID(v *string) string {
	id := aws.ToString(v)
	if id == "null" { // S3's name for the version of an unversioned object
		return ""
	}
	return id
}

// md5FromETag returns the 16 bytes an ETag of 32 hex digits stands for, nil
// for any other ETag (multipart "<hex>-N", or a server's own format).
func md5FromETag(etag string) []byte {
	if len(etag) != 32 {
		return nil
	}
	b, err := hex.DecodeString(etag)
	if err != nil {
		return nil
	}
	return b
}

// decodeListKey undoes encoding-type=url in a listing: S3 encodes keys like
// a form value (space as '+', '+' as %2B).
func decodeListKey(k string) (string, error) {
	return url.QueryUnescape(k)
}
