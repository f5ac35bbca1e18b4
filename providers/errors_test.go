package providers

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

func TestErrorKinds(t *testing.T) {
	inner := errors.New("sdk said no")
	tests := []struct {
		err       error
		kind      Kind
		retryable bool
		is        error
	}{
		{&Error{Kind: KindNotFound, Err: inner}, KindNotFound, false, ErrNotFound},
		{fmt.Errorf("wrapped: %w", &Error{Kind: KindThrottled}), KindThrottled, true, ErrThrottled},
		{&Error{Kind: KindTransient}, KindTransient, true, ErrTransient},
		{&Error{Kind: KindSourceUnreachable}, KindSourceUnreachable, false, ErrSourceUnreachable},
		{context.Canceled, KindCanceled, false, context.Canceled},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), KindCanceled, false, context.DeadlineExceeded},
		{&Error{Kind: KindCanceled, Err: context.Canceled}, KindCanceled, false, context.Canceled},
		{inner, KindUnknown, false, inner},
		{nil, KindUnknown, false, nil},
	}
	for i, tc := range tests {
		if got := KindOf(tc.err); got != tc.kind {
			t.Errorf("%d: KindOf(%v) = %v, want %v", i, tc.err, got, tc.kind)
		}
		if got := IsRetryable(tc.err); got != tc.retryable {
			t.Errorf("%d: IsRetryable(%v) = %v", i, tc.err, got)
		}
		if tc.is != nil && !errors.Is(tc.err, tc.is) {
			t.Errorf("%d: errors.Is(%v, %v) = false", i, tc.err, tc.is)
		}
	}
	if errors.Is(&Error{Kind: KindNotFound}, ErrPermission) {
		t.Error("a not-found error must not match ErrPermission")
	}
	e := &Error{Kind: KindNotFound, Err: inner}
	var target *Error
	if !errors.As(fmt.Errorf("ctx: %w", e), &target) || !errors.Is(e, inner) {
		t.Error("errors.As / errors.Is must reach through *Error")
	}
}

func TestErrorTextNamesOpObjectAndRetry(t *testing.T) {
	e := &Error{Kind: KindThrottled, Op: "PutBlobFromURL", Where: "c/blob", Code: "ServerBusy", Status: 503,
		Err: errors.New("PUT https://a.blob.core.windows.net/c/blob?sv=2020&sig=SECRETSIG\n--------\nRESPONSE 503")}
	got := e.Error()
	for _, want := range []string{"PutBlobFromURL", "c/blob", "throttled", "ServerBusy", "HTTP 503", "[retryable]"} {
		if !strings.Contains(got, want) {
			t.Errorf("error text %q lacks %q", got, want)
		}
	}
	if strings.Contains(got, "SECRETSIG") || strings.Contains(got, "\n") {
		t.Errorf("error text %q leaks the signature or spans lines", got)
	}
	if got := (&Error{Kind: KindNotFound, Msg: "gone"}).Error(); !strings.Contains(got, "gone") || !strings.Contains(got, "[not retryable]") {
		t.Errorf("error text %q", got)
	}
}

func TestRedact(t *testing.T) {
	secrets := []string{"AKIDSECRET", "SIGVALUE123", "TOKENVALUE", "SASSIG%2Fabc", "KEYBASE64==", "AUTHHEADERVALUE"}
	inputs := []string{
		"https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDSECRET%2F20260101&X-Amz-Signature=SIGVALUE123&X-Amz-Security-Token=TOKENVALUE",
		"PUT https://acct.blob.core.windows.net/c/b?sv=2021&sig=SASSIG%2Fabc&se=2026",
		"DefaultEndpointsProtocol=https;AccountName=a;AccountKey=KEYBASE64==;EndpointSuffix=core.windows.net",
		"Authorization: AUTHHEADERVALUE",
		`{"x-amz-signature": "SIGVALUE123"}`,
	}
	for _, in := range inputs {
		out := Redact(in)
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("Redact(%q) = %q still holds %q", in, out, s)
			}
		}
	}
	u := RedactURL(inputs[0])
	if strings.Contains(u, "SIGVALUE123") || strings.Contains(u, "AKIDSECRET") || !strings.Contains(u, "b.s3.amazonaws.com/k") || !strings.Contains(u, "X-Amz-Algorithm=AWS4-HMAC-SHA256") {
		t.Errorf("RedactURL = %q", u)
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := Secret("https://h/k?X-Amz-Signature=SIGVALUE123")
	for _, out := range []string{s.String(), fmt.Sprint(s), fmt.Sprintf("%v %+v %#v", s, s, s)} {
		if strings.Contains(out, "SIGVALUE123") {
			t.Errorf("secret printed: %q", out)
		}
	}
	k := Secret("plainkey")
	if fmt.Sprint(k) != "**redacted**" || k.Reveal() != "plainkey" {
		t.Errorf("plain secret prints %q", fmt.Sprint(k))
	}
	b, _ := k.MarshalText()
	if string(b) != "**redacted**" {
		t.Errorf("MarshalText = %q", b)
	}
}

func FuzzRedactURL(f *testing.F) {
	f.Add("bucket.s3.amazonaws.com", "dir/key", "abcdef012345")
	f.Add("127.0.0.1:9000", "a b/c", "x/y+z==")
	f.Fuzz(func(t *testing.T, host, path, secret string) {
		if len(secret) < 6 || strings.Contains(host+path, secret) {
			return
		}
		for _, param := range []string{"X-Amz-Signature", "X-Amz-Security-Token", "sig"} {
			base := "https://" + url.PathEscape(host) + "/" + url.PathEscape(path)
			if strings.Contains(base, secret) || strings.Contains(base, url.QueryEscape(secret)) {
				return
			}
			u := base + "?a=1&" + param + "=" + url.QueryEscape(secret) + "&z=2"
			out := RedactURL(u)
			if strings.Contains(out, secret) || strings.Contains(out, url.QueryEscape(secret)) {
				t.Fatalf("RedactURL(%q) = %q keeps the %s value", u, out, param)
			}
			if out2 := Redact("error: GET " + u + " failed"); strings.Contains(out2, url.QueryEscape(secret)) {
				t.Fatalf("Redact(%q) = %q keeps the %s value", u, out2, param)
			}
		}
	})
}
