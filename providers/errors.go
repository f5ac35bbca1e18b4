package providers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Kind classifies a failure so the pipeline can decide, in one place,
// whether to retry, skip, fall back to streaming or abort.
type Kind int

// The error kinds. Providers map every SDK error to one of them.
const (
	KindUnknown           Kind = iota // not classified: treated as permanent
	KindNotFound                      // bucket, container, object or blob missing
	KindPermission                    // credentials refused or lacking rights
	KindThrottled                     // the service asked us to slow down
	KindTransient                     // server error, timeout, reset connection
	KindInvalid                       // the request can never succeed as it is
	KindSourceUnreachable             // the destination could not fetch a source URL
	KindCanceled                      // the context was canceled or timed out
	KindPrecondition                  // a condition (ETag, existence) did not hold
)

var kindNames = [...]string{"unknown", "not found", "permission denied", "throttled", "transient", "invalid", "source unreachable", "canceled", "precondition failed"}

func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return fmt.Sprintf("kind(%d)", int(k))
	}
	return kindNames[k]
}

// Retryable reports whether an error of this kind may succeed if repeated.
func (k Kind) Retryable() bool { return k == KindThrottled || k == KindTransient }

// Sentinels to test an error's kind with errors.Is.
var (
	ErrNotFound          = &Error{Kind: KindNotFound}
	ErrPermission        = &Error{Kind: KindPermission}
	ErrThrottled         = &Error{Kind: KindThrottled}
	ErrTransient         = &Error{Kind: KindTransient}
	ErrInvalid           = &Error{Kind: KindInvalid}
	ErrSourceUnreachable = &Error{Kind: KindSourceUnreachable}
	ErrCanceled          = &Error{Kind: KindCanceled}
	ErrPrecondition      = &Error{Kind: KindPrecondition}
)

// ErrCantServerSide is returned (wrapped) by a capability that cannot serve
// a server-side copy for this object; the pipeline may stream instead.
var ErrCantServerSide = errors.New("server-side copy not possible")

// Error is a classified provider failure. Its text names the operation, the
// object and the reason, says whether retrying can help, and never contains
// a secret: the wrapped error's text is passed through Redact.
type Error struct {
	Kind   Kind
	Op     string // e.g. "PutBlobFromURL", "ListObjectsV2"
	Where  string // "bucket/key", "container/blob" or "container"
	Code   string // the service's error code, e.g. "CannotVerifyCopySource"
	Status int    // HTTP status when known
	Msg    string // human reason; when empty, the first line of Err is used
	// RetryAfter is how long the service asked us to wait (Retry-After,
	// x-ms-retry-after-ms); 0 when it did not say.
	RetryAfter time.Duration
	Err        error // the underlying error, for errors.As
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Op != "" {
		b.WriteString(e.Op)
	}
	if e.Where != "" {
		if b.Len() > 0 {
			b.WriteString(" ")
		}
		b.WriteString(e.Where)
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	b.WriteString(e.Kind.String())
	if e.Code != "" || e.Status != 0 {
		b.WriteString(" (")
		if e.Code != "" {
			b.WriteString(e.Code)
		}
		if e.Status != 0 {
			if e.Code != "" {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "HTTP %d", e.Status)
		}
		b.WriteString(")")
	}
	if e.Msg != "" {
		b.WriteString(": ")
		b.WriteString(Redact(e.Msg))
	} else if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(Redact(firstLine(e.Err.Error())))
	}
	if e.Kind.Retryable() {
		b.WriteString(" [retryable]")
	} else {
		b.WriteString(" [not retryable]")
	}
	return b.String()
}

// firstLine keeps SDK errors (azcore prints a multi-line dump) to one line.
func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		rest := strings.TrimSpace(s[i+1:])
		s = strings.TrimSpace(s[:i])
		if s == "" || strings.Trim(s, "-=") == "" {
			return firstLine(rest)
		}
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Is matches a sentinel of the same kind (ErrNotFound, ...), and a canceled
// error also matches context.Canceled / context.DeadlineExceeded through
// Unwrap.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Op == "" && t.Where == "" && t.Err == nil && t.Kind == e.Kind
}

// KindOf returns the kind of the first *Error in err's chain; a bare context
// error is KindCanceled and anything else KindUnknown.
func KindOf(err error) Kind {
	if err == nil {
		return KindUnknown
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return KindCanceled
	}
	return KindUnknown
}

// IsRetryable reports whether err is of a kind that may succeed if repeated.
func IsRetryable(err error) bool { return KindOf(err).Retryable() }

// CodeOf returns the service error code of the first *Error in err's chain.
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// ClassifyReads wraps a response body so that its read errors (a reset in
// the middle of a download, say) are classified like the request's: read
// errors other than io.EOF pass through classify.
func ClassifyReads(rc io.ReadCloser, classify func(error) error) io.ReadCloser {
	return &classifiedBody{rc: rc, classify: classify}
}

type classifiedBody struct {
	rc       io.ReadCloser
	classify func(error) error
}

func (b *classifiedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil && err != io.EOF {
		err = b.classify(err)
	}
	return n, err
}

func (b *classifiedBody) Close() error { return b.rc.Close() }
