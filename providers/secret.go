package providers

import (
	"net/url"
	"regexp"
	"strings"
)

// Secret holds a value that must never be printed: a presigned URL, a SAS
// token, a key or a connection string. Its String and GoString methods print
// a redacted form; Reveal returns the value for the one place that must send
// it over the wire.
type Secret string

const redacted = "**redacted**"

// String prints the value with its secret parts redacted; a URL keeps its
// scheme, host and path so logs still say what it points at.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	if u, err := url.Parse(string(s)); err == nil && u.Scheme != "" && u.Host != "" {
		return RedactURL(string(s))
	}
	return redacted
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return s.String() }

// MarshalText keeps encoders (JSON, slog) from writing the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Reveal returns the secret itself. Call it only to put it on the wire.
func (s Secret) Reveal() string { return string(s) }

// secretParams are query parameters whose values are credentials: SigV4
// presigning, Azure SAS, and session tokens.
var secretParams = map[string]bool{
	"x-amz-signature": true, "x-amz-credential": true, "x-amz-security-token": true,
	"signature": true, "awsaccesskeyid": true, "sig": true, "x-goog-signature": true,
	"x-goog-credential": true, "skoid": true, "sktid": true, "code": true,
}

// RedactURL returns u with the values of credential-bearing query parameters
// replaced by **redacted** and any userinfo removed.
func RedactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return Redact(u)
	}
	p.User = nil
	if p.RawQuery != "" {
		parts := strings.Split(p.RawQuery, "&")
		for i, kv := range parts {
			k, _, _ := strings.Cut(kv, "=")
			dk, err := url.QueryUnescape(k)
			if err != nil {
				dk = k
			}
			if secretParams[strings.ToLower(dk)] {
				parts[i] = k + "=" + redacted
			}
		}
		p.RawQuery = strings.Join(parts, "&")
	}
	return p.String()
}

var (
	// name=value pairs in query strings, headers and connection strings.
	secretPairRE = regexp.MustCompile(`(?i)((?:x-amz-signature|x-amz-credential|x-amz-security-token|signature|awsaccesskeyid|sig|accountkey|sharedaccesssignature|aws_secret_access_key|aws_session_token|x-ms-copy-source-authorization)"?\s*[=:]\s*)("[^"]*"|[^&;\s"',]+)`)
	// Authorization headers.
	authHeaderRE = regexp.MustCompile(`(?i)(authorization\s*[=:]\s*)([^\n\r"]+)`)
)

// Redact removes credentials from free text such as an SDK error message:
// presigned URL signatures and credentials, SAS signatures, account keys,
// connection-string keys and authorization headers.
func Redact(s string) string {
	s = authHeaderRE.ReplaceAllString(s, "${1}"+redacted)
	return secretPairRE.ReplaceAllString(s, "${1}"+redacted)
}
