package metadata

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Metadata names this package adds for --preserve-source-info and for S3
// headers Azure has no equivalent for. All are valid metadata names (C#
// identifiers), lowercase as S3 returns user metadata.
const (
	NameETag            = "s3_etag"
	NameLastModified    = "s3_last_modified"
	NameVersionID       = "s3_version_id"
	NameExpires         = "s3_expires"
	NameWebsiteRedirect = "s3_website_redirect"
)

// Source header names, as Decision.Key in Unsupported's decisions.
const (
	HeaderExpires         = "Expires"
	HeaderWebsiteRedirect = "x-amz-website-redirect-location"
)

// SourceInfo returns the metadata --preserve-source-info adds, for later sync
// and verify: NameETag (the ETag without its surrounding double quotes),
// NameLastModified (RFC 3339 in UTC, with fractional seconds only when the
// time has them) and NameVersionID. A name is omitted when its input is empty
// (the zero time for lastModified). Merge it into the user metadata with
// Merge, then pass the result to Map.
func SourceInfo(etag string, lastModified time.Time, versionID string) map[string]string {
	m := make(map[string]string, 3)
	if e := strings.TrimSuffix(strings.TrimPrefix(etag, `"`), `"`); e != "" {
		m[NameETag] = e
	}
	if !lastModified.IsZero() {
		m[NameLastModified] = lastModified.UTC().Format(time.RFC3339Nano)
	}
	if versionID != "" {
		m[NameVersionID] = versionID
	}
	return m
}

// Merge returns a new map with the pairs of user and extra. When a name of
// extra equals a name of user case-insensitively (Azure compares metadata
// names that way), it returns an *Error wrapping ErrCollision that names the
// keys, and nil: neither side wins silently. Names that collide within user
// are left for Map to report.
func Merge(user, extra map[string]string) (map[string]string, error) {
	lower := make(map[string][]string, len(user))
	for k := range user {
		l := strings.ToLower(k)
		lower[l] = append(lower[l], k)
	}
	var keys, details []string
	for k := range extra {
		if us := lower[strings.ToLower(k)]; len(us) > 0 {
			slices.Sort(us)
			keys = append(keys, k)
			keys = append(keys, us...)
			details = append(details, fmt.Sprintf("%q is also user metadata %s", k, quoteList(us)))
		}
	}
	if len(keys) > 0 {
		slices.Sort(keys)
		slices.Sort(details)
		return nil, &Error{Kind: ErrCollision, Keys: slices.Compact(keys),
			Detail: "a name the tool adds is already used by user metadata; " + strings.Join(details, "; ")}
	}
	out := make(map[string]string, len(user)+len(extra))
	for k, v := range user {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out, nil
}

// Unsupported reports what happens to the S3 headers Expires and
// x-amz-website-redirect-location, which Azure has no equivalent for (pass ""
// for a header the object does not have). By default each is dropped, with a
// Decision (Action ActionDropped, Reason "no Azure equivalent"); when keep is
// true each is kept verbatim as metadata under NameExpires or
// NameWebsiteRedirect (Action ActionKept), to Merge into the user metadata.
// Decisions are sorted by Key; meta is never nil.
func Unsupported(expires, redirect string, keep bool) (meta map[string]string, decisions []Decision) {
	meta = make(map[string]string, 2)
	for _, h := range []struct{ header, value, name string }{
		{HeaderExpires, expires, NameExpires},
		{HeaderWebsiteRedirect, redirect, NameWebsiteRedirect},
	} {
		if h.value == "" {
			continue
		}
		d := Decision{Key: h.header, Action: ActionDropped, Reason: "no Azure equivalent"}
		if keep {
			d.NewKey, d.Action, d.Reason = h.name, ActionKept, "no Azure equivalent: kept as metadata"
			meta[h.name] = h.value
		}
		decisions = append(decisions, d)
	}
	return meta, decisions
}
