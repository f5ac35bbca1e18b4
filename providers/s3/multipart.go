package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/migrate-tool/migrate/providers"
)

// The pipeline's blocks of a blob are the parts of one S3 multipart upload:
// BeginBlocks creates the upload with the blob's properties and the ordered
// list of its block IDs (block ids[i] is part i+1), StageBlock uploads a
// part (UploadPart), StageBlockFromCopy copies one server-side
// (UploadPartCopy), CommitBlocks completes the upload and AbortBlocks
// discards it. The upload's id, the part numbers and the ETags of the parts
// staged so far live in the Source (an S3 upload cannot be asked which
// block ID a part was), so the blocks of one blob are staged and committed
// through the Source that began it; a new process begins afresh, and
// BeginBlocks aborts whatever an earlier, killed run left of the same key.

// uploadTable holds the multipart uploads this Source began and has not
// yet completed or aborted, by uploadKey.
type uploadTable struct {
	mu sync.Mutex
	m  map[string]*upload
}

// upload is one multipart upload begun by BeginBlocks.
type upload struct {
	id    string
	parts map[providers.BlockID]int32 // block → part number; set once
	etags map[int32]string            // part number → ETag of the part staged; under uploadTable.mu
	// cutShort says a part request ended without the server's answer
	// (canceled, connection lost): the server may still be storing that
	// part, and can do so after an abort. Under uploadTable.mu.
	cutShort bool
}

func uploadKey(container, name string) string { return container + "\x00" + name }

func (t *uploadTable) get(container, name string) *upload {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.m[uploadKey(container, name)]
}

func (t *uploadTable) put(container, name string, u *upload) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[string]*upload{}
	}
	t.m[uploadKey(container, name)] = u
}

// remove forgets u, unless another upload of the same blob replaced it.
func (t *uploadTable) remove(container, name string, u *upload) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if k := uploadKey(container, name); t.m[k] == u {
		delete(t.m, k)
	}
}

func (t *uploadTable) setETag(u *upload, part int32, etag string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	u.etags[part] = etag
}

// failed records a part request of u that failed with err: one that got
// no answer leaves u cut short.
func (t *uploadTable) failed(u *upload, err error) {
	// The SDK wraps a request that got no answer in a ResponseError too,
	// with an empty response (status 0).
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.Response != nil && re.Response.Response != nil && re.HTTPStatusCode() != 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	u.cutShort = true
}

func (t *uploadTable) isCutShort(u *upload) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return u.cutShort
}

// BeginBlocks starts the multipart upload of key name of bucket container
// whose parts are ids, in order (part numbers 1..len(ids)). It first lists
// the incomplete uploads of exactly that key (ListMultipartUploads with the
// key as prefix, see abortStale) and aborts each: what an earlier, killed
// run left behind, which S3 would otherwise keep (and bill) until a
// lifecycle rule removes it. An upload of the same key that another process
// is running at the same time is aborted too. It then sends
// CreateMultipartUpload with props' five content headers, metadata and tags
// and the Options' ACL and storage class: the object gets them when
// CommitBlocks completes it. ids must be 1..10,000 distinct, non-empty IDs.
func (s *Source) BeginBlocks(ctx context.Context, container, name string, ids []providers.BlockID, props providers.Properties) error {
	const op = "CreateMultipartUpload"
	where := container + "/" + name
	if container == "" || name == "" {
		return invalid(op, where, "empty bucket or key")
	}
	if len(ids) == 0 || len(ids) > MaxParts {
		return invalid(op, where, fmt.Sprintf("%d blocks: a multipart upload has 1..%d parts", len(ids), MaxParts))
	}
	parts := make(map[providers.BlockID]int32, len(ids))
	for i, id := range ids {
		if id == "" {
			return invalid(op, where, fmt.Sprintf("block %d has an empty ID", i))
		}
		if _, dup := parts[id]; dup {
			return invalid(op, where, fmt.Sprintf("block ID %q is named twice", id))
		}
		parts[id] = int32(i + 1)
	}
	if err := ctx.Err(); err != nil {
		return classify(ctx, op, where, err)
	}
	if err := s.abortStale(ctx, container, name); err != nil {
		return err
	}
	in := &s3sdk.CreateMultipartUploadInput{Bucket: aws.String(container), Key: aws.String(name)}
	s.setProps(writeFields{&in.ContentType, &in.ContentEncoding, &in.ContentDisposition, &in.ContentLanguage, &in.CacheControl,
		&in.Metadata, &in.Tagging, &in.ACL, &in.StorageClass}, props)
	out, err := routed(s, container, func(o ...func(*s3sdk.Options)) (*s3sdk.CreateMultipartUploadOutput, error) {
		return s.client.CreateMultipartUpload(ctx, in, o...)
	})
	if err != nil {
		return classify(ctx, op, where, err)
	}
	id := aws.ToString(out.UploadId)
	if id == "" {
		return invalid(op, where, "server bug: no upload id in the answer")
	}
	s.uploads.put(container, name, &upload{id: id, parts: parts, etags: make(map[int32]string, len(ids))})
	return nil
}

// maxUploadPages bounds the listing of incomplete uploads of one key.
const maxUploadPages = 1000

// uploadsPageSize is the max-uploads of that listing; 0 sends none (S3's
// default, 1000). Tests lower it to make the listing page.
var uploadsPageSize int32

// abortStale aborts every incomplete multipart upload of exactly key name.
// With the key as prefix, its uploads come first in the listing (keys that
// merely start with it sort after it), so the first page is listed again
// after aborting what it showed, until a page shows no upload of the key
// or the listing ends: no marker is passed back. (S3 compares
// upload-id-marker lexicographically, but versitygw looks the marker's
// upload up and refuses a page after it, "Invalid uploadId marker", which
// an upload just aborted or its key-marker filter makes it miss.)
func (s *Source) abortStale(ctx context.Context, container, name string) error {
	const op = "ListMultipartUploads"
	where := container + "/" + name
	in := &s3sdk.ListMultipartUploadsInput{
		Bucket:       aws.String(container),
		Prefix:       aws.String(name),
		EncodingType: types.EncodingTypeUrl,
	}
	if uploadsPageSize > 0 {
		in.MaxUploads = aws.Int32(uploadsPageSize)
	}
	aborted := map[string]bool{}
	for range maxUploadPages {
		out, err := routed(s, container, func(o ...func(*s3sdk.Options)) (*s3sdk.ListMultipartUploadsOutput, error) {
			return s.client.ListMultipartUploads(ctx, in, o...)
		})
		if err != nil {
			return classify(ctx, op, where, err)
		}
		others := false // the page shows another key's upload: none of name's follow
		for _, u := range out.Uploads {
			key := aws.ToString(u.Key)
			if out.EncodingType == types.EncodingTypeUrl {
				if key, err = decodeListKey(key); err != nil {
					return &providers.Error{Kind: providers.KindInvalid, Op: op, Where: where,
						Msg: fmt.Sprintf("server bug: undecodable url-encoded key %q", aws.ToString(u.Key)), Err: err}
				}
			}
			if key != name {
				others = true
				continue
			}
			id := aws.ToString(u.UploadId)
			if aborted[id] {
				return &providers.Error{Kind: providers.KindInvalid, Op: op, Where: where,
					Msg: fmt.Sprintf("server bug: upload %s is still listed after it was aborted", id)}
			}
			err = s.abortUpload(ctx, container, name, id)
			if err != nil && providers.KindOf(err) != providers.KindNotFound { // NotFound: aborted meanwhile
				return err
			}
			aborted[id] = true
		}
		if !aws.ToBool(out.IsTruncated) || others || len(out.Uploads) == 0 {
			return nil
		}
	}
	return &providers.Error{Kind: providers.KindInvalid, Op: op, Where: where,
		Msg: fmt.Sprintf("more than %d pages of incomplete uploads of one key", maxUploadPages)}
}

// abortUpload sends one AbortMultipartUpload; NoSuchUpload is NotFound.
func (s *Source) abortUpload(ctx context.Context, container, name, id string) error {
	const op = "AbortMultipartUpload"
	if id == "" {
		return invalid(op, container+"/"+name, "server bug: an incomplete upload without an id")
	}
	_, err := routed(s, container, func(o ...func(*s3sdk.Options)) (*s3sdk.AbortMultipartUploadOutput, error) {
		return s.client.AbortMultipartUpload(ctx, &s3sdk.AbortMultipartUploadInput{
			Bucket: aws.String(container), Key: aws.String(name), UploadId: aws.String(id)}, o...)
	})
	return classify(ctx, op, container+"/"+name, err)
}

// part returns the upload begun for blob name and the part number of its
// block id; a blob never begun, or an id BeginBlocks did not name, is
// Invalid.
func (s *Source) part(op, container, name string, id providers.BlockID) (*upload, int32, error) {
	where := container + "/" + name
	u := s.uploads.get(container, name)
	if u == nil {
		return nil, 0, invalid(op, where, fmt.Sprintf("no multipart upload of %s was begun: BeginBlocks comes before its blocks", where))
	}
	pn, ok := u.parts[id]
	if !ok {
		return nil, 0, invalid(op, where, fmt.Sprintf("block %q is not one of the blocks BeginBlocks named for %s", id, where))
	}
	return u, pn, nil
}

// uploadError classifies a failed request of upload u of blob name. When
// S3 no longer knows the upload (NoSuchUpload: another run of the same key
// or a lifecycle rule aborted it), the Source forgets it too, and the error
// says so: the blob must be copied again from BeginBlocks.
func (s *Source) uploadError(ctx context.Context, op, container, name string, u *upload, err error) error {
	e := classify(ctx, op, container+"/"+name, err)
	if apiCode(err) == "NoSuchUpload" && ctx.Err() == nil {
		s.uploads.remove(container, name, u)
		var pe *providers.Error
		if errors.As(e, &pe) {
			pe.Msg = "the multipart upload is gone (aborted by another run copying the same key, or by a lifecycle rule): copy the object again"
		}
	}
	return e
}

// StageBlock uploads size bytes of body, from its current position, as the
// part of block id (UploadPart) of the upload BeginBlocks began for blob
// name, with a Content-MD5 that S3 checks (a corrupted transfer is refused:
// BadDigest, Invalid). body is read twice, to hash and to send, seeking back
// in between. size must be 1 byte..5 GiB; every part but the last must be
// at least 5 MiB, which S3 checks only when CommitBlocks completes the
// upload (EntityTooSmall, Invalid). Staging a block of a blob not begun is
// Invalid. Staging a block again replaces its part.
func (s *Source) StageBlock(ctx context.Context, container, name string, id providers.BlockID, body io.ReadSeeker, size int64) error {
	const op = "UploadPart"
	where := container + "/" + name
	if err := ctx.Err(); err != nil {
		return classify(ctx, op, where, err)
	}
	u, pn, err := s.part(op, container, name, id)
	if err != nil {
		return err
	}
	if size <= 0 || size > MaxPartSize {
		return invalid(op, where, fmt.Sprintf("part of %d bytes: need 1..%d (5 GiB)", size, int64(MaxPartSize)))
	}
	w, sum, err := hashBody(ctx, op, where, body, size)
	if err != nil {
		return err
	}
	in := &s3sdk.UploadPartInput{
		Bucket:        aws.String(container),
		Key:           aws.String(name),
		UploadId:      aws.String(u.id),
		PartNumber:    aws.Int32(pn),
		Body:          w,
		ContentLength: aws.Int64(size),
		ContentMD5:    aws.String(sum),
	}
	out, err := routed(s, container, func(o ...func(*s3sdk.Options)) (*s3sdk.UploadPartOutput, error) {
		return s.client.UploadPart(ctx, in, o...)
	})
	if err != nil {
		s.uploads.failed(u, err)
		return s.uploadError(ctx, op, container, name, u, err)
	}
	etag := aws.ToString(out.ETag)
	if etag == "" {
		return invalid(op, where, "server bug: no ETag for the part")
	}
	s.uploads.setETag(u, pn, etag)
	return nil
}

// StageBlockFromCopy copies bytes r of src (the whole object for a zero
// Range) server-side as the part of block id (UploadPartCopy with
// x-amz-copy-source-range) of the upload BeginBlocks began for blob name,
// conditional on src.Object.ETag when set (a source changed since it was
// listed gives Precondition and stages nothing) and pinned to its version
// when set. r must lie within src.Object.Size and its Count be 1 byte up to
// Limits().MaxBlockSize (S3: 5 GiB; Options.CopyObjectThreshold lowers it,
// as versitygw's --copy-object-threshold limits each copied range), or it
// is refused with Invalid before sending.
func (s *Source) StageBlockFromCopy(ctx context.Context, container, name string, id providers.BlockID, src providers.CopySource, r providers.Range) error {
	const op = "UploadPartCopy"
	where := container + "/" + name
	if src.Bucket == "" || src.Object.Key == "" {
		return invalid(op, where, "empty source bucket or key")
	}
	if r == (providers.Range{}) {
		r.Count = src.Object.Size
	}
	if limit := s.Limits().MaxBlockSize; r.Offset < 0 || r.Count <= 0 || r.Count > limit {
		return invalid(op, where, fmt.Sprintf("range offset %d count %d: need offset >= 0 and 1 <= count <= %d", r.Offset, r.Count, limit))
	}
	if r.Offset+r.Count > src.Object.Size {
		return invalid(op, where, fmt.Sprintf("range offset %d count %d ends past the %d bytes of %s/%s",
			r.Offset, r.Count, src.Object.Size, src.Bucket, src.Object.Key))
	}
	if err := ctx.Err(); err != nil {
		return classify(ctx, op, where, err)
	}
	u, pn, err := s.part(op, container, name, id)
	if err != nil {
		return err
	}
	in := &s3sdk.UploadPartCopyInput{
		Bucket:          aws.String(container),
		Key:             aws.String(name),
		UploadId:        aws.String(u.id),
		PartNumber:      aws.Int32(pn),
		CopySource:      aws.String(copySource(src)),
		CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", r.Offset, r.Offset+r.Count-1)),
	}
	if src.Object.ETag != "" {
		in.CopySourceIfMatch = aws.String(`"` + src.Object.ETag + `"`)
	}
	out, err := routed(s, container, func(o ...func(*s3sdk.Options)) (*s3sdk.UploadPartCopyOutput, error) {
		return s.client.UploadPartCopy(ctx, in, o...)
	})
	if err != nil {
		s.uploads.failed(u, err)
		if apiCode(err) == "NoSuchUpload" {
			return s.uploadError(ctx, op, container, name, u, err)
		}
		return copyError(ctx, op, where, src, err)
	}
	var etag string
	if out.CopyPartResult != nil {
		etag = aws.ToString(out.CopyPartResult.ETag)
	}
	if etag == "" {
		return invalid(op, where, "server bug: no ETag for the copied part")
	}
	s.uploads.setETag(u, pn, etag)
	return nil
}

// CommitBlocks completes the upload BeginBlocks began for blob name with
// the parts of ids (CompleteMultipartUpload): the object appears whole,
// with the properties BeginBlocks was given (props is not used then: S3
// takes an object's properties when the upload is created), and replaces
// any existing object only now. Parts of blocks not listed are discarded.
// S3 assembles parts in part-number order, so ids must follow the order
// BeginBlocks named them in (a subset may skip some), and each must have
// been staged; otherwise the call is Invalid and sends nothing. With no
// ids, the blob is an empty object written with one PutObject with props
// (the pipeline commits an empty object so, without BeginBlocks), and any
// upload begun for it is aborted.
func (s *Source) CommitBlocks(ctx context.Context, container, name string, ids []providers.BlockID, props providers.Properties) error {
	const op = "CompleteMultipartUpload"
	where := container + "/" + name
	if container == "" || name == "" {
		return invalid(op, where, "empty bucket or key")
	}
	if err := ctx.Err(); err != nil {
		return classify(ctx, op, where, err)
	}
	u := s.uploads.get(container, name)
	if len(ids) == 0 {
		if err := s.putObject(ctx, container, name, bytes.NewReader(nil), 0, emptyMD5, props); err != nil {
			return err
		}
		if u != nil {
			if err := s.abortUpload(ctx, container, name, u.id); err != nil && providers.KindOf(err) != providers.KindNotFound {
				return err
			}
			s.uploads.remove(container, name, u)
		}
		return nil
	}
	if u == nil {
		return invalid(op, where, fmt.Sprintf("no multipart upload of %s was begun: BeginBlocks comes before its blocks", where))
	}
	parts, err := s.completedParts(op, where, u, ids)
	if err != nil {
		return err
	}
	in := &s3sdk.CompleteMultipartUploadInput{
		Bucket:          aws.String(container),
		Key:             aws.String(name),
		UploadId:        aws.String(u.id),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	}
	_, err = routed(s, container, func(o ...func(*s3sdk.Options)) (*s3sdk.CompleteMultipartUploadOutput, error) {
		return s.client.CompleteMultipartUpload(ctx, in, o...)
	})
	if err != nil {
		return s.uploadError(ctx, op, container, name, u, err)
	}
	s.uploads.remove(container, name, u)
	return nil
}

// completedParts is the part list of ids for CompleteMultipartUpload.
func (s *Source) completedParts(op, where string, u *upload, ids []providers.BlockID) ([]types.CompletedPart, error) {
	s.uploads.mu.Lock()
	defer s.uploads.mu.Unlock()
	parts := make([]types.CompletedPart, 0, len(ids))
	last := int32(0)
	for i, id := range ids {
		pn, ok := u.parts[id]
		if !ok {
			return nil, invalid(op, where, fmt.Sprintf("block %d (%q) is not one of the blocks BeginBlocks named", i, id))
		}
		if pn <= last {
			return nil, invalid(op, where, fmt.Sprintf("block %d (%q) is out of the order BeginBlocks named: S3 assembles parts by number", i, id))
		}
		etag, ok := u.etags[pn]
		if !ok {
			return nil, invalid(op, where, fmt.Sprintf("block %d (%q) was never staged", i, id))
		}
		last = pn
		parts = append(parts, types.CompletedPart{ETag: aws.String(etag), PartNumber: aws.Int32(pn)})
	}
	return parts, nil
}

// AbortBlocks aborts the upload BeginBlocks began for blob name
// (AbortMultipartUpload), discarding its parts; nothing is sent and no
// error returned when none was begun (or it was committed). An upload S3
// no longer knows is not an error either. When a part request of the
// upload was cut short (its ctx canceled, its connection lost), the server
// may still be storing that part and can bring the upload back after the
// abort (versitygw does; AWS documents that an abort may have to be
// repeated while parts are in progress): AbortBlocks then watches the
// upload for up to abortSettle with ListParts and aborts it again each time
// it is back.
func (s *Source) AbortBlocks(ctx context.Context, container, name string) error {
	u := s.uploads.get(container, name)
	if u == nil {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return classify(ctx, "AbortMultipartUpload", container+"/"+name, err)
	}
	if err := s.abortUpload(ctx, container, name, u.id); err != nil && providers.KindOf(err) != providers.KindNotFound {
		return err
	}
	if s.uploads.isCutShort(u) {
		if err := s.settleAbort(ctx, container, name, u.id); err != nil {
			return err
		}
	}
	s.uploads.remove(container, name, u)
	return nil
}

// abortSettle is how long AbortBlocks watches an aborted upload whose part
// requests were cut short. A part the server stores later still brings the
// upload back for good; the next BeginBlocks of the key aborts it.
const abortSettle = 3 * time.Second

// settleAbort watches upload id of blob name for abortSettle after its
// abort, polling ListParts with a growing interval, and aborts it again
// whenever it exists. The watch is best effort: it ends quietly when ctx
// ends or ListParts fails otherwise than NoSuchUpload (the abort was done);
// only a failed second abort is an error.
func (s *Source) settleAbort(ctx context.Context, container, name, id string) error {
	deadline := time.Now().Add(abortSettle)
	for wait := 50 * time.Millisecond; time.Now().Before(deadline); wait = min(2*wait, time.Second) {
		t := time.NewTimer(min(wait, time.Until(deadline)))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		_, err := routed(s, container, func(o ...func(*s3sdk.Options)) (*s3sdk.ListPartsOutput, error) {
			return s.client.ListParts(ctx, &s3sdk.ListPartsInput{Bucket: aws.String(container), Key: aws.String(name),
				UploadId: aws.String(id), MaxParts: aws.Int32(1)}, o...)
		})
		switch {
		case err == nil: // back: a late part brought it back
			if err := s.abortUpload(ctx, container, name, id); err != nil && providers.KindOf(err) != providers.KindNotFound {
				return err
			}
		case apiCode(err) == "NoSuchUpload": // gone
		default:
			return nil
		}
	}
	return nil
}
