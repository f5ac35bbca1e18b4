package azure

import (
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"context"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/migrate-tool/migrate/providers"
)

// Headers Azure sets when it could not read a copy source.
const (
	hdrCopySourceStatus = "x-ms-copy-source-status-code"
	hdrCopySourceCode   = "x-ms-copy-source-error-code"
	codeCannotVerify    = "CannotVerifyCopySource"
)

// codeKinds maps Azure error codes (x-ms-error-code) to kinds; a code not
// listed falls back to the HTTP status (statusKind).
var codeKinds = map[string]providers.Kind{
	"BlobNotFound":        providers.KindNotFound,
	"ContainerNotFound":   providers.KindNotFound,
	"ResourceNotFound":    providers.KindNotFound,
	"BlobVersionNotFound": providers.KindNotFound,

	"AuthenticationFailed":               providers.KindPermission,
	"AuthorizationFailure":               providers.KindPermission,
	"AuthorizationPermissionMismatch":    providers.KindPermission,
	"AuthorizationSourceIPMismatch":      providers.KindPermission,
	"AuthorizationProtocolMismatch":      providers.KindPermission,
	"AuthorizationResourceTypeMismatch":  providers.KindPermission,
	"AuthorizationServiceMismatch":       providers.KindPermission,
	"InsufficientAccountPermissions":     providers.KindPermission,
	"AccountIsDisabled":                  providers.KindPermission,
	"KeyBasedAuthenticationNotPermitted": providers.KindPermission,
	"NoAuthenticationInformation":        providers.KindPermission,
	"InvalidAuthenticationInfo":          providers.KindPermission,

	"ServerBusy":             providers.KindThrottled,
	"OperationTimedOut":      providers.KindTransient,
	"InternalError":          providers.KindTransient,
	"ContainerBeingDeleted":  providers.KindTransient,
	"ContainerBeingDisabled": providers.KindTransient,
	"ContainerDisabled":      providers.KindPermission,

	"InvalidMetadata":            providers.KindInvalid,
	"MetadataTooLarge":           providers.KindInvalid,
	"InvalidHeaderValue":         providers.KindInvalid,
	"InvalidBlockId":             providers.KindInvalid,
	"InvalidBlockList":           providers.KindInvalid,
	"InvalidBlobOrBlock":         providers.KindInvalid,
	"InvalidInput":               providers.KindInvalid,
	"InvalidQueryParameterValue": providers.KindInvalid,
	"InvalidResourceName":        providers.KindInvalid,
	"InvalidUri":                 providers.KindInvalid,
	"InvalidRange":               providers.KindInvalid,
	"InvalidSourceBlobUrl":       providers.KindInvalid,
	"InvalidSourceBlobType":      providers.KindInvalid,
	"Md5Mismatch":                providers.KindInvalid,
	"MissingRequiredHeader":      providers.KindInvalid,
	"OutOfRangeInput":            providers.KindInvalid,
	"RequestBodyTooLarge":        providers.KindInvalid,
	"BlockCountExceedsLimit":     providers.KindInvalid,
	"BlockListTooLong":           providers.KindInvalid,
	"UnsupportedHeader":          providers.KindInvalid,
	"BlobArchived":               providers.KindInvalid,
	"InvalidBlobTier":            providers.KindInvalid,
	"FeatureVersionMismatch":     providers.KindInvalid,
	"UnsupportedRestVersion":     providers.KindInvalid,
	"InvalidTag":                 providers.KindInvalid,
	"TagsTooLarge":               providers.KindInvalid,
	"DuplicateTagNames":          providers.KindInvalid,

	"ConditionNotMet":                       providers.KindPrecondition,
	"SourceConditionNotMet":                 providers.KindPrecondition,
	"TargetConditionNotMet":                 providers.KindPrecondition,
	"BlobAlreadyExists":                     providers.KindPrecondition,
	"ContainerAlreadyExists":                providers.KindPrecondition,
	"LeaseIdMissing":                        providers.KindPrecondition,
	"LeaseIdMismatchWithBlobOperation":      providers.KindPrecondition,
	"LeaseIdMismatchWithContainerOperation": providers.KindPrecondition,
	"LeaseNotPresentWithBlobOperation":      providers.KindPrecondition,
	"LeaseNotPresentWithContainerOperation": providers.KindPrecondition,
}

// tagCodes are the codes of refused blob index tags (x-ms-tags). Azure
// answers InvalidTag for a character outside its set, TagsTooLarge for more
// than 10 tags or a key or value too long, DuplicateTagNames for a key given
// twice; Azurite 3.37 answers a bad character with DuplicateTagNames and
// InvalidTag's message.
var tagCodes = map[string]bool{"InvalidTag": true, "TagsTooLarge": true, "DuplicateTagNames": true}

// tagRules is the message prefix of a refused tag set: what Azure accepts.
const tagRules = "blob index tags refused (Azure takes at most 10, keys of 1-128 and values of 0-256 characters among letters, digits, space and + - . / : = _)"

// statusKind classifies by HTTP status alone.
func statusKind(status int) providers.Kind {
	switch {
	case status == http.StatusNotFound:
		return providers.KindNotFound
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return providers.KindPermission
	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
		return providers.KindThrottled
	case status == http.StatusRequestTimeout || status >= 500:
		return providers.KindTransient
	case status == http.StatusPreconditionFailed:
		return providers.KindPrecondition
	case status == http.StatusBadRequest || status == http.StatusRequestEntityTooLarge ||
		status == http.StatusRequestedRangeNotSatisfiable || status == http.StatusLengthRequired ||
		status == http.StatusMethodNotAllowed || status == http.StatusNotImplemented:
		return providers.KindInvalid
	}
	return providers.KindUnknown
}

// sourceKind classifies a copy whose source Azure could not read, by the
// status the source answered (0: Azure could not connect to it).
func sourceKind(status int) providers.Kind {
	switch {
	case status == 0, status == http.StatusUnauthorized, status == http.StatusForbidden:
		return providers.KindSourceUnreachable
	case status == http.StatusNotFound:
		return providers.KindNotFound
	case status == http.StatusPreconditionFailed:
		return providers.KindPrecondition
	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
		return providers.KindThrottled
	case status == http.StatusRequestTimeout || status >= 500:
		return providers.KindTransient
	case status == http.StatusRequestedRangeNotSatisfiable || status == http.StatusBadRequest:
		return providers.KindInvalid
	}
	return providers.KindSourceUnreachable
}

// classify turns an SDK error into a *providers.Error (nil stays nil). ctx is
// the caller's: when it is done the error is Canceled whatever the SDK made
// of it. The message is built here, on one line, from the status, the error
// code and the service's <Message>, and passed through providers.Redact: the
// SDK's own error text (which can hold the request URL and, with a SAS
// credential, its signature) is never used verbatim.
func classify(ctx context.Context, op, where string, err error) error {
	if err == nil {
		return nil
	}
	var pe *providers.Error
	if errors.As(err, &pe) {
		return err
	}
	e := &providers.Error{Op: op, Where: where, Err: err}

	if ctxErr := ctx.Err(); ctxErr != nil || errors.Is(err, context.Canceled) {
		e.Kind = providers.KindCanceled
		if ctxErr == nil {
			ctxErr = context.Canceled
		}
		if !errors.Is(err, ctxErr) {
			// Keep errors.Is(err, ctx.Err()) true whatever the SDK returned.
			e.Err = fmt.Errorf("%w (%w)", ctxErr, err)
		}
		e.Msg = ctxErr.Error()
		return e
	}

	var re *azcore.ResponseError
	if errors.As(err, &re) {
		e.Status = re.StatusCode
		e.Code = re.ErrorCode
		var h http.Header
		if re.RawResponse != nil {
			h = re.RawResponse.Header
		}
		if e.Code == "" && h != nil {
			e.Code = h.Get("x-ms-error-code")
		}
		// Retry-After or x-ms-retry-after-ms, when Azure sends one (with a
		// CannotVerifyCopySource, Azure's own: it does not relay the
		// source's).
		e.RetryAfter = providers.RetryAfter(h, time.Now())
		if e.Code == codeCannotVerify {
			// Without the source's status, a 5xx is Azure saying it could
			// not connect to (or hear back from) the source in time.
			srcStatus := e.Status
			connFailed := srcStatus >= 500
			if v := strings.TrimSpace(h.Get(hdrCopySourceStatus)); v != "" {
				n, perr := strconv.Atoi(v)
				if perr != nil {
					n = 0
				}
				srcStatus, connFailed = n, n == 0
			}
			if connFailed {
				srcStatus = 0
			}
			e.Kind = sourceKind(srcStatus)
			srcCode := strings.TrimSpace(h.Get(hdrCopySourceCode))
			if connFailed {
				e.Msg = "Azure could not connect to the source"
			} else {
				e.Msg = fmt.Sprintf("Azure could not read the source: HTTP %d", srcStatus)
			}
			if srcCode != "" {
				e.Msg += " " + srcCode
			}
			if m := serviceMessage(re); m != "" {
				e.Msg += " (" + m + ")"
			}
			e.Msg = clean(e.Msg)
			return e
		}
		if k, ok := codeKinds[e.Code]; ok {
			e.Kind = k
		} else {
			e.Kind = statusKind(e.Status)
		}
		msg, header := serviceError(re)
		if msg == "" {
			msg = http.StatusText(e.Status)
		}
		if msg == "" {
			msg = "Azure answered HTTP " + strconv.Itoa(e.Status)
		}
		switch {
		case tagCodes[e.Code] || strings.EqualFold(header, "x-ms-tags"):
			msg = tagRules + ": " + msg
		case header != "":
			// InvalidHeaderValue and friends name the header, e.g.
			// x-ms-access-tier for an unknown tier or x-ms-tags.
			msg += " (header " + header + ")"
		}
		if e.Kind == providers.KindPermission {
			msg = permissionHint(op, e.Code) + " (" + msg + ")"
		}
		e.Msg = clean(msg)
		return e
	}

	// No HTTP response: the request did not complete.
	e.Kind, e.Msg = transportKind(err)
	e.Msg = clean(e.Msg)
	return e
}

// transportKind classifies an error that came without an HTTP response and
// describes it without the request URL.
func transportKind(err error) (providers.Kind, string) {
	inner := err
	var ue *url.Error
	if errors.As(err, &ue) {
		// url.Error's text starts with the request URL (and its query).
		inner = ue.Err
	}
	desc := firstLine(inner.Error())
	var authErr *azidentity.AuthenticationFailedError
	var required *azidentity.AuthenticationRequiredError
	if errors.As(err, &authErr) || errors.As(err, &required) || strings.Contains(desc, "DefaultAzureCredential") {
		return providers.KindPermission, "Azure: no usable credential (set a SAS, AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY, or sign in for DefaultAzureCredential): " + desc
	}
	var certErr x509.CertificateInvalidError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	switch {
	case errors.As(err, &certErr), errors.As(err, &unknownCA), errors.As(err, &hostErr):
		return providers.KindInvalid, "TLS certificate not accepted: " + desc
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return providers.KindTransient, "timed out: " + desc
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.EPIPE), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return providers.KindTransient, "connection failed: " + desc
	}
	var opErr *net.OpError
	var dnsErr *net.DNSError
	if errors.As(err, &opErr) || errors.As(err, &dnsErr) || ue != nil {
		return providers.KindTransient, "request failed: " + desc
	}
	return providers.KindUnknown, desc
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// serviceMessage is the first line of the <Message> of Azure's XML error
// body ("" for a HEAD or an unreadable body).
func serviceMessage(re *azcore.ResponseError) string {
	msg, _ := serviceError(re)
	return msg
}

// serviceError is the first line of the <Message> of Azure's XML error body
// and its <HeaderName>, the header Azure found wrong ("" when absent, for a
// HEAD or an unreadable body).
func serviceError(re *azcore.ResponseError) (msg, header string) {
	if re.RawResponse == nil || re.RawResponse.Body == nil {
		return "", ""
	}
	body, err := runtime.Payload(re.RawResponse)
	if err != nil || len(body) == 0 {
		return "", ""
	}
	var doc struct {
		Message    string `xml:"Message"`
		HeaderName string `xml:"HeaderName"`
	}
	if err := xml.Unmarshal(body, &doc); err != nil {
		return "", ""
	}
	return firstLine(doc.Message), strings.TrimSpace(doc.HeaderName)
}

// clean makes a message one short line with no credential in it.
func clean(s string) string {
	s = providers.Redact(strings.Join(strings.Fields(s), " "))
	const max = 300
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// sasPermissions are the SAS permissions each operation needs.
var sasPermissions = map[string]string{
	"EnsureContainer": "c (create) on the container, or an account SAS with the container resource type",
	"PutBlobFromURL":  "w (write), and t (tags) when copying tags", "StageBlockFromURL": "w (write)",
	"CommitBlocks": "w (write), and t (tags) when copying tags", "StageBlock": "w (write)",
	"StatBlob": "r (read)", "ListBlobs": "l (list)", "ListContainers": "l (list) on an account SAS",
	"UncommittedBlocks": "r (read)", "DeleteBlob": "d (delete)", "DownloadBlob": "r (read)",
}

// permissionHint says in plain words which side refused and what it needs.
func permissionHint(op, code string) string {
	if code == "AuthenticationFailed" || code == "KeyBasedAuthenticationNotPermitted" {
		return "Azure refused the credential: check the account key, the SAS (is it expired?) or the identity's token"
	}
	need := "a data-plane role such as Storage Blob Data Contributor (Storage Blob Data Owner to set blob index tags)"
	if p := sasPermissions[op]; p != "" {
		need += ", or a SAS with permission " + p
	}
	return "Azure denied " + op + ": the credential needs " + need
}
