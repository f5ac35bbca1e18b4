package s3

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/migrate-tool/migrate/providers"
)

// codeKinds maps S3 error codes to kinds. Codes decide before statuses: S3
// answers some retryable conditions with 400 (RequestTimeout) and some
// permanent ones with 403 or 503.
var codeKinds = map[string]providers.Kind{
	"NoSuchKey":     providers.KindNotFound,
	"NotFound":      providers.KindNotFound,
	"NoSuchBucket":  providers.KindNotFound,
	"NoSuchVersion": providers.KindNotFound,

	"AccessDenied":                providers.KindPermission,
	"Forbidden":                   providers.KindPermission,
	"InvalidAccessKeyId":          providers.KindPermission,
	"SignatureDoesNotMatch":       providers.KindPermission,
	"ExpiredToken":                providers.KindPermission,
	"InvalidToken":                providers.KindPermission,
	"TokenRefreshRequired":        providers.KindPermission,
	"AllAccessDisabled":           providers.KindPermission,
	"AccountProblem":              providers.KindPermission,
	"RequestTimeTooSkewed":        providers.KindPermission,
	"UnrecognizedClientException": providers.KindPermission,
	"XAdminUserNotFound":          providers.KindPermission, // versitygw's (404) InvalidAccessKeyId

	"SlowDown":                 providers.KindThrottled,
	"ServiceUnavailable":       providers.KindThrottled,
	"Throttling":               providers.KindThrottled,
	"ThrottlingException":      providers.KindThrottled,
	"ThrottledException":       providers.KindThrottled,
	"RequestThrottled":         providers.KindThrottled,
	"RequestLimitExceeded":     providers.KindThrottled,
	"TooManyRequests":          providers.KindThrottled,
	"TooManyRequestsException": providers.KindThrottled,
	"BandwidthLimitExceeded":   providers.KindThrottled,

	"InternalError":           providers.KindTransient,
	"RequestTimeout":          providers.KindTransient,
	"RequestTimeoutException": providers.KindTransient,
	"OperationAborted":        providers.KindTransient,
	"IncompleteBody":          providers.KindTransient,
	"InternalFailure":         providers.KindTransient,

	"InvalidObjectState":                 providers.KindInvalid, // archived (Glacier) object: restore it first
	"InvalidRange":                       providers.KindInvalid,
	"InvalidArgument":                    providers.KindInvalid,
	"InvalidRequest":                     providers.KindInvalid,
	"InvalidBucketName":                  providers.KindInvalid,
	"KeyTooLongError":                    providers.KindInvalid,
	"MethodNotAllowed":                   providers.KindInvalid,
	"PermanentRedirect":                  providers.KindInvalid,
	"AuthorizationHeaderMalformed":       providers.KindInvalid,
	"IllegalLocationConstraintException": providers.KindInvalid,
	"BadRequest":                         providers.KindInvalid,

	"PreconditionFailed": providers.KindPrecondition,
	"NotModified":        providers.KindPrecondition,
}

// statusKind classifies by HTTP status when the code is unknown or absent
// (HEAD responses carry no body, hence no code).
func statusKind(status int) providers.Kind {
	switch {
	case status == http.StatusNotFound:
		return providers.KindNotFound
	case status == http.StatusForbidden || status == http.StatusUnauthorized:
		return providers.KindPermission
	case status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests:
		return providers.KindThrottled
	case status >= 500:
		return providers.KindTransient
	case status == http.StatusRequestTimeout:
		return providers.KindTransient
	case status == http.StatusPreconditionFailed || status == http.StatusNotModified:
		return providers.KindPrecondition
	case status == http.StatusMovedPermanently || status == http.StatusTemporaryRedirect:
		return providers.KindInvalid // wrong region or endpoint
	case status >= 400:
		return providers.KindInvalid
	}
	return providers.KindUnknown
}

// classify turns an SDK error of op on where ("bucket/key" or "bucket") into
// a *providers.Error wrapping it, so errors.As still reaches the smithy and
// HTTP errors. A canceled or expired ctx always gives KindCanceled, and the
// result then matches ctx.Err() under errors.Is.
func classify(ctx context.Context, op, where string, err error) error {
	if err == nil {
		return nil
	}
	var already *providers.Error
	if errors.As(err, &already) {
		return err
	}
	e := &providers.Error{Op: op, Where: where, Err: err}

	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		e.Status = re.HTTPStatusCode()
		if re.Response != nil {
			// S3 sends no Retry-After with 503 SlowDown; S3-compatible
			// servers and proxies before S3 may.
			e.RetryAfter = providers.RetryAfter(re.Response.Header, time.Now())
		}
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		e.Code = api.ErrorCode()
	}

	switch {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		e.Kind = providers.KindCanceled
	case ctx.Err() != nil:
		// The transport failed because ctx ended, but said so in its own
		// words (a closed connection): keep ctx.Err() reachable.
		e.Kind = providers.KindCanceled
		e.Err = &ctxError{ctx: ctx.Err(), err: err}
	case e.Code != "" && codeKinds[e.Code] != providers.KindUnknown:
		e.Kind = codeKinds[e.Code]
	case e.Status != 0:
		e.Kind = statusKind(e.Status)
	default:
		e.Kind = transportKind(err)
	}

	if re != nil && (e.Code == "PermanentRedirect" || e.Code == "AuthorizationHeaderMalformed" || e.Status == http.StatusMovedPermanently) {
		if r := re.Response; r != nil {
			if region := r.Header.Get("X-Amz-Bucket-Region"); region != "" {
				e.Msg = "the bucket is in region " + region + "; use that region"
			}
		}
	}
	switch {
	case e.Kind == providers.KindPermission && e.Code == "" && e.Status == 0:
		e.Msg = "could not get AWS credentials: " + firstLine(err.Error())
	case e.Kind == providers.KindPermission && e.Msg == "":
		e.Msg = permissionHint(op, e.Code)
	}
	return e
}

// s3Permissions are the IAM permissions each operation needs.
var s3Permissions = map[string]string{
	"ListObjectsV2": "s3:ListBucket on the bucket", "HeadBucket": "s3:ListBucket on the bucket",
	"HeadObject":       "s3:GetObject (s3:GetObjectVersion for a version; kms:Decrypt for SSE-KMS objects)",
	"GetObject":        "s3:GetObject (s3:GetObjectVersion for a version; kms:Decrypt for SSE-KMS objects)",
	"GetObjectTagging": "s3:GetObjectTagging", "ListBuckets": "s3:ListAllMyBuckets",
	"GetBucketLocation": "s3:GetBucketLocation",
	// As a destination.
	"CreateBucket":            "s3:CreateBucket",
	"PutObject":               "s3:PutObject on the bucket (s3:PutObjectTagging to set tags, s3:PutObjectAcl to set an ACL)",
	"CreateMultipartUpload":   "s3:PutObject on the bucket (s3:PutObjectTagging to set tags, s3:PutObjectAcl to set an ACL)",
	"UploadPart":              "s3:PutObject on the bucket",
	"CompleteMultipartUpload": "s3:PutObject on the bucket",
	"ListMultipartUploads":    "s3:ListBucketMultipartUploads on the bucket",
	"AbortMultipartUpload":    "s3:AbortMultipartUpload on the bucket",
	"ListParts":               "s3:ListMultipartUploadParts on the bucket",
	"DeleteObject":            "s3:DeleteObject (s3:DeleteObjectVersion for a version)",
	"CopyObject": "s3:PutObject (and s3:PutObjectTagging) on the destination, and s3:GetObject (s3:GetObjectVersion " +
		"for a version, s3:GetObjectTagging to copy tags) on the source, both for the destination's identity",
	"UploadPartCopy": "s3:PutObject on the destination, and s3:GetObject (s3:GetObjectVersion for a version) " +
		"on the source, both for the destination's identity",
}

// permissionHint says in plain words which side refused and what it needs.
func permissionHint(op, code string) string {
	switch code {
	case "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "TokenRefreshRequired", "XAdminUserNotFound":
		return "S3 refused the credentials (" + code + "): check the access key, the secret and the session token, or the profile"
	case "RequestTimeTooSkewed":
		return "S3 refused the request: this machine's clock is off; fix its time"
	}
	if p := s3Permissions[op]; p != "" {
		return "S3 denied " + op + ": the AWS identity needs " + p
	}
	return "S3 denied " + op + ": check the AWS identity's permissions"
}

// transportKind classifies errors that carry no HTTP response.
func transportKind(err error) providers.Kind {
	var se *v4.SigningError
	if errors.As(err, &se) || strings.Contains(err.Error(), "failed to retrieve credentials") || strings.Contains(err.Error(), "failed to refresh cached credentials") {
		return providers.KindPermission
	}
	var certErr *x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	if errors.As(err, &certErr) || errors.As(err, &hostErr) {
		return providers.KindInvalid
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		if dnsErr.IsTimeout || dnsErr.IsTemporary {
			return providers.KindTransient
		}
		return providers.KindInvalid
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ETIMEDOUT) || errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, net.ErrClosed) {
		return providers.KindTransient
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return providers.KindTransient
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return providers.KindTransient
	}
	var dserr *smithy.DeserializationError
	if errors.As(err, &dserr) {
		// A truncated or garbled response body.
		return providers.KindTransient
	}
	s := err.Error()
	for _, frag := range []string{"connection reset", "connection refused", "broken pipe", "unexpected EOF", "http2: server sent GOAWAY", "TLS handshake timeout", "use of closed network connection"} {
		if strings.Contains(s, frag) {
			return providers.KindTransient
		}
	}
	return providers.KindUnknown
}

// ctxError joins ctx.Err() with the transport's own error so errors.Is
// matches the former and errors.As still reaches the latter.
type ctxError struct {
	ctx error
	err error
}

func (c *ctxError) Error() string   { return c.ctx.Error() + ": " + c.err.Error() }
func (c *ctxError) Unwrap() []error { return []error{c.ctx, c.err} }

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
