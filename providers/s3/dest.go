package s3

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/migrate-tool/migrate/providers"
)

// A *Source is also a destination, on the same client and with the same
// region routing (region.go): a bucket is a container and a key a blob name.
// It creates buckets, writes objects from this process (PutObject, or a
// multipart upload whose parts are the pipeline's blocks: multipart.go),
// copies objects server-side from a Source of the same service (CopyObject,
// UploadPartCopy), and deletes objects. What it writes gets the Options' ACL
// and storage class. It never sends SSE-C or requester-pays headers on
// writes: what it writes is not encrypted with a customer key and the
// destination bucket is the user's own. Like every other method, these
// make exactly one attempt per request: the pipeline retries.

// Compile-time checks of the destination capabilities a *Source offers.
var (
	_ providers.Destination    = (*Source)(nil)
	_ providers.Deleter        = (*Source)(nil)
	_ providers.SourceDeleter  = (*Source)(nil)
	_ providers.BlobPutter     = (*Source)(nil)
	_ providers.BlockStager    = (*Source)(nil)
	_ providers.BlockUploader  = (*Source)(nil)
	_ providers.BlockCommitter = (*Source)(nil)
	_ providers.ObjectCopier   = (*Source)(nil)
	_ providers.Limiter        = (*Source)(nil)
)

// S3's size rules for writes.
const (
	// MaxPutObject is the largest object one PutObject writes.
	MaxPutObject = 5 << 30
	// MaxCopyObject is the largest source of one CopyObject and the largest
	// range of one UploadPartCopy; Options.CopyObjectThreshold lowers it.
	MaxCopyObject = 5 << 30
	// MaxPartSize is the largest part of a multipart upload.
	MaxPartSize = 5 << 30
	// MinPartSize is the smallest part of a multipart upload but the last.
	MinPartSize = 5 << 20
	// MaxParts is the most parts of one multipart upload.
	MaxParts = 10000
)

// destOptions are the Options that apply to writes, checked by New.
type destOptions struct {
	acl          types.ObjectCannedACL // "" sends none
	storageClass types.StorageClass    // "" sends none
	copyLimit    int64                 // largest CopyObject source / UploadPartCopy range
}

func newDestOptions(o Options) (destOptions, error) {
	d := destOptions{
		acl:          types.ObjectCannedACL(strings.ToLower(strings.TrimSpace(o.ACL))),
		storageClass: types.StorageClass(strings.TrimSpace(o.StorageClass)),
		copyLimit:    o.CopyObjectThreshold,
	}
	if d.acl != "" && !slices.Contains(d.acl.Values(), d.acl) {
		names := make([]string, 0, len(d.acl.Values()))
		for _, v := range d.acl.Values() {
			names = append(names, string(v))
		}
		return destOptions{}, &providers.Error{Kind: providers.KindInvalid, Op: "New",
			Msg: fmt.Sprintf("ACL %q is not a canned ACL; use one of %s", o.ACL, strings.Join(names, ", "))}
	}
	if d.copyLimit < 0 || d.copyLimit > MaxCopyObject {
		return destOptions{}, &providers.Error{Kind: providers.KindInvalid, Op: "New",
			Msg: fmt.Sprintf("CopyObjectThreshold %d is outside 0..%d (5 GiB, S3's limit; 0 means that)", d.copyLimit, int64(MaxCopyObject))}
	}
	if d.copyLimit == 0 {
		d.copyLimit = MaxCopyObject
	}
	return d, nil
}

// Limits returns S3's limits: a CopyObject source of at most
// Options.CopyObjectThreshold (5 GiB by default); parts of 5 MiB (but the
// last) up to 5 GiB, and no larger than that threshold either, since the
// pipeline cuts copies and uploads alike into blocks of one size and
// UploadPartCopy obeys the threshold (S3's own is 5 GiB too; versitygw
// applies its --copy-object-threshold to each copied range); 10,000 parts;
// metadata names need only be valid header names.
func (s *Source) Limits() providers.Limits {
	return providers.Limits{
		MaxPutBlobFromURL: s.dest.copyLimit,
		MaxBlockSize:      min(MaxPartSize, s.dest.copyLimit),
		MaxBlocks:         MaxParts,
		MinBlockSize:      MinPartSize,
		AnyMetadataName:   true,
		AnyBlobName:       true,
	}
}

// EnsureContainer creates bucket container when HeadBucket finds it missing
// (CreateBucket in the client's region, with a LocationConstraint unless
// that is us-east-1, where S3 takes none). created is true only when this
// call created it; a bucket that exists, or that a concurrent caller just
// created (BucketAlreadyOwnedByYou), is not an error. A name another
// account owns (BucketAlreadyExists) is Invalid; a bucket these credentials
// may not see is Permission.
func (s *Source) EnsureContainer(ctx context.Context, container string) (bool, error) {
	if container == "" {
		return false, invalid("HeadBucket", container, "empty bucket name")
	}
	if err := ctx.Err(); err != nil {
		return false, classify(ctx, "HeadBucket", container, err)
	}
	_, err := routed(s, container, func(o ...func(*s3sdk.Options)) (*s3sdk.HeadBucketOutput, error) {
		return s.client.HeadBucket(ctx, &s3sdk.HeadBucketInput{Bucket: aws.String(container)}, o...)
	})
	if err == nil {
		return false, nil
	}
	if err := classify(ctx, "HeadBucket", container, err); providers.KindOf(err) != providers.KindNotFound {
		return false, err
	}
	const op = "CreateBucket"
	in := &s3sdk.CreateBucketInput{Bucket: aws.String(container)}
	if s.region != "us-east-1" {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraint(s.region)}
	}
	_, err = s.client.CreateBucket(ctx, in)
	if err != nil {
		switch apiCode(err) {
		case "BucketAlreadyOwnedByYou":
			return false, nil
		case "BucketAlreadyExists":
			e := classify(ctx, op, container, err)
			var pe *providers.Error
			if errors.As(e, &pe) && pe.Kind != providers.KindCanceled {
				pe.Kind = providers.KindInvalid
				pe.Msg = "the bucket name is taken by another AWS account (bucket names are global); choose another"
			}
			return false, e
		}
		return false, classify(ctx, op, container, err)
	}
	s.regions.Store(container, s.region)
	return true, nil
}

// StatBlob returns, from one HeadObject, what Stat returns for key name of
// bucket container (see headInfo): size, ETag, last-modified time, the five
// content headers, metadata, the tag count (Tags stay nil: Tags reads them),
// the storage class and the encryption; ContentMD5 when the ETag is a plain
// MD5 of an object that is not encrypted with KMS or a customer key. It
// sends no SSE-C or requester-pays headers. A missing bucket or object is
// NotFound.
func (s *Source) StatBlob(ctx context.Context, container, name string) (providers.ObjectInfo, error) {
	const op = "HeadObject"
	where := container + "/" + name
	if container == "" || name == "" {
		return providers.ObjectInfo{}, invalid(op, where, "empty bucket or key")
	}
	out, err := routed(s, container, func(o ...func(*s3sdk.Options)) (*s3sdk.HeadObjectOutput, error) {
		return s.client.HeadObject(ctx, &s3sdk.HeadObjectInput{Bucket: aws.String(container), Key: aws.String(name)}, o...)
	})
	if err != nil {
		return providers.ObjectInfo{}, classify(ctx, op, where, err)
	}
	return headInfo(name, out), nil
}

// ListBlobs is List of bucket container.
func (s *Source) ListBlobs(ctx context.Context, container string, opts providers.ListOptions) (providers.Page, error) {
	return s.List(ctx, container, opts)
}

// DeleteBlob deletes key name of bucket container. S3's DeleteObject
// succeeds on a missing key, so one HeadObject comes first: a missing
// object (or bucket) is NotFound and nothing is sent to delete it.
func (s *Source) DeleteBlob(ctx context.Context, container, name string) error {
	return s.deleteObject(ctx, container, providers.Object{Key: name}, false)
}

// DeleteObject deletes obj from bucket: the version obj.VersionID when set
// (removed for good), else the current object (in a versioned bucket S3
// then adds a delete marker). One HeadObject comes first, with the SSE-C
// and requester-pays headers the Options ask for, conditional on obj.ETag
// when set: a missing object or version is NotFound, and an object replaced
// since it was listed (and copied) is Precondition and is kept, since it
// is not what was copied. The check and the delete are two requests; a
// replacement in between is deleted.
func (s *Source) DeleteObject(ctx context.Context, bucket string, obj providers.Object) error {
	return s.deleteObject(ctx, bucket, obj, true)
}

func (s *Source) deleteObject(ctx context.Context, bucket string, obj providers.Object, asSource bool) error {
	where := bucket + "/" + obj.Key
	if bucket == "" || obj.Key == "" {
		return invalid("DeleteObject", where, "empty bucket or key")
	}
	if err := ctx.Err(); err != nil {
		return classify(ctx, "DeleteObject", where, err)
	}
	head := &s3sdk.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(obj.Key)}
	del := &s3sdk.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(obj.Key)}
	if obj.VersionID != "" {
		head.VersionId, del.VersionId = aws.String(obj.VersionID), aws.String(obj.VersionID)
	}
	if asSource {
		head.RequestPayer, del.RequestPayer = s.payer, s.payer
		if s.ssec != nil {
			head.SSECustomerAlgorithm, head.SSECustomerKey, head.SSECustomerKeyMD5 = s.ssec.headers()
		}
		if obj.ETag != "" {
			head.IfMatch = aws.String(`"` + obj.ETag + `"`)
		}
	}
	_, err := routed(s, bucket, func(o ...func(*s3sdk.Options)) (*s3sdk.HeadObjectOutput, error) {
		return s.client.HeadObject(ctx, head, o...)
	})
	if err != nil {
		e := classify(ctx, "HeadObject", where, err)
		var pe *providers.Error
		if errors.As(e, &pe) && pe.Kind == providers.KindPrecondition {
			pe.Msg = fmt.Sprintf("the object changed since it was listed (ETag %s): not deleted", obj.ETag)
		}
		return e
	}
	_, err = routed(s, bucket, func(o ...func(*s3sdk.Options)) (*s3sdk.DeleteObjectOutput, error) {
		return s.client.DeleteObject(ctx, del, o...)
	})
	return classify(ctx, "DeleteObject", where, err)
}

// PutBlob writes size bytes of body, from its current position, as key
// name of bucket container with one PutObject: props' five content headers
// (each sent only when set), its metadata as x-amz-meta-*, its tags as
// x-amz-tagging, and the Options' ACL and storage class. body is read twice:
// once for the Content-MD5 that S3 checks the upload against (a corrupted
// transfer is refused: BadDigest, Invalid), then, after seeking back, to
// send. props.ContentMD5 is not sent: S3 has no such stored property, and
// the ETag of the object written is the MD5 of its bytes (StatBlob reports
// it as ContentMD5). props.Tier has no S3 meaning (Options.StorageClass is
// the class). size must be 0..5 GiB; a body shorter than size is Invalid.
func (s *Source) PutBlob(ctx context.Context, container, name string, body io.ReadSeeker, size int64, props providers.Properties) error {
	const op = "PutObject"
	where := container + "/" + name
	if container == "" || name == "" {
		return invalid(op, where, "empty bucket or key")
	}
	if size < 0 || size > MaxPutObject {
		return invalid(op, where, fmt.Sprintf("%d bytes: one PutObject writes 0..%d (5 GiB); upload it in parts", size, int64(MaxPutObject)))
	}
	if err := ctx.Err(); err != nil {
		return classify(ctx, op, where, err)
	}
	w, sum, err := hashBody(ctx, op, where, body, size)
	if err != nil {
		return err
	}
	return s.putObject(ctx, container, name, w, size, sum, props)
}

// putObject sends one PutObject of body (size bytes whose MD5 is sum, in
// base64) with props.
func (s *Source) putObject(ctx context.Context, container, name string, body io.ReadSeeker, size int64, sum string, props providers.Properties) error {
	const op = "PutObject"
	where := container + "/" + name
	in := &s3sdk.PutObjectInput{
		Bucket:        aws.String(container),
		Key:           aws.String(name),
		Body:          body,
		ContentLength: aws.Int64(size),
		ContentMD5:    aws.String(sum),
	}
	s.setProps(writeFields{&in.ContentType, &in.ContentEncoding, &in.ContentDisposition, &in.ContentLanguage, &in.CacheControl,
		&in.Metadata, &in.Tagging, &in.ACL, &in.StorageClass}, props)
	_, err := routed(s, container, func(o ...func(*s3sdk.Options)) (*s3sdk.PutObjectOutput, error) {
		return s.client.PutObject(ctx, in, o...)
	})
	return classify(ctx, op, where, err)
}

// emptyMD5 is the base64 MD5 of no bytes.
var emptyMD5 = func() string { sum := md5.Sum(nil); return base64.StdEncoding.EncodeToString(sum[:]) }()

// CopiesFrom reports whether this destination can copy src's objects
// server-side (CopyObject, UploadPartCopy): src is a *Source of the same
// service, that is the same Endpoint (both "" meaning AWS, where copies
// cross regions but not partitions: aws, aws-cn, aws-us-gov...), and:
//   - neither is Anonymous: an anonymous destination cannot write, and an
//     anonymous source means no identity of the user is known to read the
//     bucket, while a copy is authorized as the destination's identity;
//   - neither has an SSECustomerKey: copying an SSE-C object needs the
//     x-amz-copy-source-server-side-encryption-customer-* headers, which
//     this provider does not send, and the copy would not be encrypted
//     with the key;
//   - neither has RequestPayer: a copy is billed to, and signed by, the
//     destination's identity, not the source's that the user chose to pay
//     with; requester-pays objects are streamed through this process
//     instead, billed to the source's credentials as that option says.
//
// The destination's identity must be allowed to read the source
// (s3:GetObject, s3:GetObjectTagging to copy tags); when it is not, each
// copy fails with Permission, and streaming (--transfer-mode stream) is
// the way. src's SourceUnreachable does not matter: that is about another
// service reaching the endpoint, and here the server copies within itself.
func (s *Source) CopiesFrom(src providers.Source) bool {
	o, ok := src.(*Source)
	if !ok || o == nil {
		return false
	}
	if o.endpoint != s.endpoint || (s.endpoint == "" && partition(o.region) != partition(s.region)) {
		return false
	}
	return !s.anonymous && !o.anonymous && s.ssec == nil && o.ssec == nil && s.payer == "" && o.payer == ""
}

// partition is the AWS partition of a region: copies do not cross them.
func partition(region string) string {
	for _, p := range []struct{ prefix, name string }{
		{"cn-", "aws-cn"}, {"us-gov-", "aws-us-gov"}, {"us-isob-", "aws-iso-b"}, {"us-isof-", "aws-iso-f"},
		{"us-iso-", "aws-iso"}, {"eu-isoe-", "aws-iso-e"}, {"eusc-", "aws-eusc"},
	} {
		if strings.HasPrefix(region, p.prefix) {
			return p.name
		}
	}
	return "aws"
}

// CopyObject copies the whole of src into key name of bucket container with
// one CopyObject, conditional on src.Object.ETag when set
// (x-amz-copy-source-if-match: a source changed since it was listed gives
// Precondition and nothing is written) and pinned to src.Object.VersionID
// when set. With props nil the source's metadata, content headers and tags
// are kept (metadata and tagging directives COPY); otherwise they are
// replaced by props' five headers, metadata and tags (REPLACE; no tags when
// props.Tags is empty). The Options' ACL and storage class are sent either
// way. A source larger than Limits().MaxPutBlobFromURL is refused with
// Invalid before anything is sent.
func (s *Source) CopyObject(ctx context.Context, container, name string, src providers.CopySource, props *providers.Properties) error {
	const op = "CopyObject"
	where := container + "/" + name
	if container == "" || name == "" || src.Bucket == "" || src.Object.Key == "" {
		return invalid(op, where, "empty bucket or key")
	}
	if src.Object.Size < 0 || src.Object.Size > s.dest.copyLimit {
		return invalid(op, where, fmt.Sprintf("source %s/%s is %d bytes; one CopyObject copies at most %d: copy it in parts (UploadPartCopy)",
			src.Bucket, src.Object.Key, src.Object.Size, s.dest.copyLimit))
	}
	if err := ctx.Err(); err != nil {
		return classify(ctx, op, where, err)
	}
	in := &s3sdk.CopyObjectInput{
		Bucket:            aws.String(container),
		Key:               aws.String(name),
		CopySource:        aws.String(copySource(src)),
		MetadataDirective: types.MetadataDirectiveCopy,
		TaggingDirective:  types.TaggingDirectiveCopy,
	}
	if src.Object.ETag != "" {
		in.CopySourceIfMatch = aws.String(`"` + src.Object.ETag + `"`)
	}
	var p providers.Properties
	if props != nil {
		p = *props
		in.MetadataDirective, in.TaggingDirective = types.MetadataDirectiveReplace, types.TaggingDirectiveReplace
	}
	s.setProps(writeFields{&in.ContentType, &in.ContentEncoding, &in.ContentDisposition, &in.ContentLanguage, &in.CacheControl,
		&in.Metadata, &in.Tagging, &in.ACL, &in.StorageClass}, p)
	_, err := routed(s, container, func(o ...func(*s3sdk.Options)) (*s3sdk.CopyObjectOutput, error) {
		return s.client.CopyObject(ctx, in, o...)
	})
	return copyError(ctx, op, where, src, err)
}

// copySource is the x-amz-copy-source of src: "bucket/key", the key
// percent-encoded but for '/' and RFC 3986's unreserved characters (S3
// URL-decodes the header; '+' must be encoded or a server decoding it as a
// form value reads a space), with "?versionId=" when src is pinned.
func copySource(src providers.CopySource) string {
	v := escapeKey(src.Bucket) + "/" + escapeKey(src.Object.Key)
	if src.Object.VersionID != "" {
		v += "?versionId=" + url.QueryEscape(src.Object.VersionID)
	}
	return v
}

func escapeKey(k string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(k); i++ {
		c := k[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~/", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// copyError classifies a failed copy of src and says which source it read,
// since a missing or refused object may be either side's.
func copyError(ctx context.Context, op, where string, src providers.CopySource, err error) error {
	if err == nil {
		return nil
	}
	e := classify(ctx, op, where, err)
	var pe *providers.Error
	if !errors.As(e, &pe) || pe.Kind == providers.KindCanceled {
		return e
	}
	from := "copying from " + src.Bucket + "/" + src.Object.Key
	if src.Object.VersionID != "" {
		from += " version " + src.Object.VersionID
	}
	switch {
	case pe.Kind == providers.KindPrecondition:
		pe.Msg = fmt.Sprintf("the source changed since it was listed (ETag %s no longer matches; %s)", src.Object.ETag, from)
	case pe.Msg == "":
		pe.Msg = from
	default:
		pe.Msg += " (" + from + ")"
	}
	return e
}

// writeFields points at the fields of one SDK write request (PutObject,
// CreateMultipartUpload, CopyObject) that setProps fills.
type writeFields struct {
	contentType        **string
	contentEncoding    **string
	contentDisposition **string
	contentLanguage    **string
	cacheControl       **string
	metadata           *map[string]string
	tagging            **string
	acl                *types.ObjectCannedACL
	storageClass       *types.StorageClass
}

// setProps fills f from props (each header only when set, metadata, tags
// as x-amz-tagging) and from the Options (ACL, storage class).
func (s *Source) setProps(f writeFields, props providers.Properties) {
	for _, h := range []struct {
		dst **string
		v   string
	}{
		{f.contentType, props.ContentType},
		{f.contentEncoding, props.ContentEncoding},
		{f.contentDisposition, props.ContentDisposition},
		{f.contentLanguage, props.ContentLanguage},
		{f.cacheControl, props.CacheControl},
	} {
		if h.v != "" {
			*h.dst = aws.String(h.v)
		}
	}
	if len(props.Metadata) > 0 {
		*f.metadata = props.Metadata
	}
	if len(props.Tags) > 0 {
		*f.tagging = aws.String(encodeTags(props.Tags))
	}
	*f.acl = s.dest.acl
	*f.storageClass = s.dest.storageClass
}

// encodeTags writes tags in the URL query form x-amz-tagging takes: keys
// sorted, each key and value percent-encoded, a space as %20 (a '+' would
// read back as a plus; a literal '+' is already %2B).
func encodeTags(tags map[string]string) string {
	v := url.Values{}
	for k, x := range tags {
		v.Set(k, x)
	}
	return strings.ReplaceAll(v.Encode(), "+", "%20")
}

// apiCode is the service error code of err, "" when it has none.
func apiCode(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}

// hashBody is providers.HashBody with the MD5 in base64, as Content-MD5
// carries it.
func hashBody(ctx context.Context, op, where string, body io.ReadSeeker, size int64) (io.ReadSeeker, string, error) {
	w, sum, err := providers.HashBody(ctx, op, where, body, size)
	return w, base64.StdEncoding.EncodeToString(sum), err
}
