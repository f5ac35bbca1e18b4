package azure

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/migrate-tool/migrate/providers"
)

// Location is a parsed destination URL: where in which account to write.
type Location struct {
	Account   string           // storage account, lowercase
	Container string           // "" when the URL names only the account
	Prefix    string           // blob name prefix, exact URL-decoded bytes; "" for none
	SAS       providers.Secret // the URL's query string (a SAS) without '?'; "" if none
	// ServiceURL is the blob service endpoint with a trailing slash and no
	// query: https://ACCOUNT.blob.core.windows.net/ or, path-style,
	// http://127.0.0.1:10000/ACCOUNT/.
	ServiceURL string
}

const validForms = "valid forms: https://ACCOUNT.blob.core.windows.net/CONTAINER[/PREFIX][?SAS] " +
	"(or another cloud's ACCOUNT.blob.<suffix>), or for an emulator " +
	"http://127.0.0.1:10000/ACCOUNT/CONTAINER[/PREFIX]"

// ParseURL reads a destination URL:
//
//	https://ACCOUNT.blob.core.windows.net/CONTAINER[/PREFIX][?SAS]
//	https://ACCOUNT.blob.core.chinacloudapi.cn/... , .blob.core.usgovcloudapi.net, any ACCOUNT.blob.<suffix>
//	http(s)://IP-OR-LOCALHOST[:PORT]/ACCOUNT/CONTAINER[/PREFIX][?SAS]   (emulator, path-style)
//
// The container may be omitted (the URL names the account). Everything
// after "CONTAINER/" is the prefix, URL-decoded, byte for byte ("c/" gives
// prefix "", "c//x" gives "/x"). A query string must be a SAS (it has sig=)
// and is returned as a Secret. Errors say what is wrong and show the valid
// forms; they never contain the query string or userinfo.
func ParseURL(s string) (Location, error) {
	// Nothing after '?' or '#' ever appears in an error.
	head := s
	if i := strings.IndexAny(head, "?#"); i >= 0 {
		head = head[:i]
	}
	fail := func(format string, a ...any) (Location, error) {
		// Redact in case a signature was typed without its '?'.
		return Location{}, errors.New(providers.Redact(fmt.Sprintf("azure URL: "+format+"; "+validForms, a...)))
	}
	if strings.TrimSpace(s) == "" {
		return fail("empty")
	}
	u, err := url.Parse(s)
	if err != nil {
		var ue *url.Error
		reason := "cannot be parsed"
		if errors.As(err, &ue) {
			reason = "cannot be parsed: " + describeParseErr(ue.Err)
		}
		return fail("%s", reason)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		if u.Scheme == "" {
			return fail("%q has no http:// or https:// scheme", safePrefix(head))
		}
		return fail("scheme %q is not http or https", u.Scheme)
	}
	if u.User != nil {
		return fail("user information before the host is not allowed (pass a SAS as the query string)")
	}
	if u.Host == "" {
		return fail("no host")
	}
	if u.Fragment != "" || strings.Contains(s, "#") {
		return fail("it has a #fragment; a '#' in a blob name must be written %%23")
	}
	if u.Opaque != "" {
		return fail("%q is not a hierarchical URL", safePrefix(head))
	}
	host := strings.ToLower(u.Hostname())
	path := u.Path // decoded
	var loc Location
	var rest string
	switch {
	case isLocalHost(host):
		// Path-style: /ACCOUNT[/CONTAINER[/PREFIX]].
		p := strings.TrimPrefix(path, "/")
		acct, r, _ := strings.Cut(p, "/")
		if acct == "" {
			return fail("host %s is an emulator address, so the path must start with /ACCOUNT", u.Host)
		}
		if !validAccount(acct) {
			return fail("account %q is not valid: 3-24 lowercase letters and digits", acct)
		}
		loc.Account = acct
		loc.ServiceURL = u.Scheme + "://" + strings.ToLower(u.Host) + "/" + acct + "/"
		rest = r
	default:
		acct, suffix, ok := strings.Cut(host, ".blob.")
		if !ok || strings.Trim(suffix, ".") == "" {
			for _, svc := range []string{".dfs.", ".file.", ".queue.", ".table.", ".web."} {
				if a, sfx, ok := strings.Cut(host, svc); ok && a != "" && sfx != "" {
					return fail("host %s is not the Blob service endpoint; use %s.blob.%s", host, a, sfx)
				}
			}
			return fail("host %s is neither ACCOUNT.blob.<suffix> nor an IP address or localhost", host)
		}
		if !validAccount(acct) {
			return fail("account %q (from the host) is not valid: 3-24 lowercase letters and digits", acct)
		}
		loc.Account = acct
		loc.ServiceURL = u.Scheme + "://" + strings.ToLower(u.Host) + "/"
		rest = strings.TrimPrefix(path, "/")
	}
	if rest != "" {
		c, prefix, hasSlash := strings.Cut(rest, "/")
		if c == "" {
			return fail("empty container name (the path has '//' where the container should be)")
		}
		if err := validContainer(c); err != nil {
			return fail("container %q is not valid: %v", c, err)
		}
		loc.Container = c
		if hasSlash {
			loc.Prefix = prefix
		}
	}
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil || q.Get("sig") == "" {
			return fail("the query string is not a SAS token (no sig parameter); give a SAS or no query")
		}
		loc.SAS = providers.Secret(u.RawQuery)
	}
	return loc, nil
}

// describeParseErr keeps net/url's reason but not the URL it quotes.
func describeParseErr(err error) string {
	if err == nil {
		return "malformed"
	}
	msg := err.Error()
	// net/url errors look like `invalid URL escape "%zz"` or
	// `invalid character " " in host name`; the quoted part is at most a
	// few bytes of the input, but may come from the query: drop it.
	if i := strings.IndexByte(msg, '"'); i >= 0 {
		msg = strings.TrimSpace(msg[:i])
	}
	return msg
}

// safePrefix shortens what is echoed of the input (the part before any
// '?' or '#') for an error message.
func safePrefix(s string) string {
	if i := strings.Index(s, "@"); i >= 0 {
		s = s[i+1:] // drop anything that may be userinfo
	}
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return s
}

// isLocalHost reports whether host (without port) is an IP address or
// localhost: the emulator, path-style addressing.
func isLocalHost(host string) bool {
	return host == "localhost" || net.ParseIP(host) != nil
}

// validAccount: 3-24 lowercase letters and digits.
func validAccount(s string) bool {
	if len(s) < 3 || len(s) > 24 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// validContainer checks Azure's container naming rules: 3-63 characters of
// lowercase letters, digits and single hyphens, starting and ending with a
// letter or digit; or one of the special containers $root, $web, $logs.
func validContainer(s string) error {
	switch s {
	case "$root", "$web", "$logs":
		return nil
	}
	if len(s) < 3 || len(s) > 63 {
		return fmt.Errorf("it has %d characters, Azure needs 3-63", len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-':
			if i == 0 || i == len(s)-1 {
				return errors.New("it starts or ends with '-'")
			}
			if s[i-1] == '-' {
				return errors.New("it has '--'")
			}
		case c >= 'A' && c <= 'Z':
			return errors.New("it has uppercase letters; Azure container names are lowercase")
		default:
			return errors.New("only lowercase letters, digits and '-' are allowed")
		}
	}
	return nil
}
