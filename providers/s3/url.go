package s3

import (
	"fmt"
	"net/url"
	"strings"
)

// Location is where a user's S3 URL points: one bucket (and a key prefix in
// it), or every bucket of an account (Bucket "") or of one region.
type Location struct {
	Bucket string // "" for all buckets
	Prefix string // exact key prefix; "" for the whole bucket
	Region string // region named by the URL's host; "" if it names none
	// Endpoint is the base URL ("http://127.0.0.1:7070") of an S3-compatible
	// server the URL named; "" for AWS. Such servers are addressed path-style.
	Endpoint string
}

// String returns the location as a URL ParseURL reads back: s3://bucket/prefix
// (Region is dropped), or endpoint/bucket/prefix when Endpoint is set.
func (l Location) String() string {
	if l.Endpoint != "" {
		s := strings.TrimRight(l.Endpoint, "/") + "/"
		if l.Bucket != "" {
			s += l.Bucket + "/" + (&url.URL{Path: l.Prefix}).EscapedPath()
		}
		return s
	}
	if l.Bucket == "" {
		return "s3://"
	}
	return "s3://" + l.Bucket + "/" + l.Prefix
}

const validForms = "valid forms: s3://bucket[/prefix], s3:// (all buckets), " +
	"https://bucket.s3[.region].amazonaws.com[/prefix], https://s3[.region].amazonaws.com[/bucket[/prefix]]"

// ParseURL reads a source location in one of these forms:
//
//	s3://                                        every bucket of the account
//	s3://bucket[/prefix]                         prefix is kept byte for byte
//	https://s3.amazonaws.com[/bucket[/prefix]]   path style (AzCopy's forms)
//	https://s3.REGION.amazonaws.com[/bucket[/prefix]]
//	https://s3-REGION.amazonaws.com[/bucket[/prefix]]
//	https://bucket.s3.amazonaws.com[/prefix]     virtual-hosted style
//	https://bucket.s3.REGION.amazonaws.com[/prefix]
//	https://bucket.s3-REGION.amazonaws.com[/prefix]
//	http(s)://host[:port][/bucket[/prefix]]      an S3-compatible server
//
// In the https forms the prefix is URL-decoded; "dualstack" hosts and the
// amazonaws.com.cn partition are understood too. Errors say what is wrong and
// show the valid forms.
func ParseURL(s string) (Location, error) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return Location{}, fmt.Errorf("S3 location %s: not a URL; %s", show(s), validForms)
	}
	switch strings.ToLower(scheme) {
	case "s3":
		return parseS3Scheme(s, rest)
	case "https", "http":
		return parseHTTP(s)
	default:
		return Location{}, fmt.Errorf("S3 location %s: scheme %q is not s3, https or http; %s", show(s), scheme, validForms)
	}
}

func parseS3Scheme(s, rest string) (Location, error) {
	bucket, prefix, hasSlash := strings.Cut(rest, "/")
	if bucket == "" {
		if hasSlash {
			return Location{}, fmt.Errorf("S3 location %s: missing bucket name before the prefix; %s", show(s), validForms)
		}
		return Location{}, nil // s3:// = all buckets
	}
	if err := checkBucket(s, bucket); err != nil {
		return Location{}, err
	}
	return Location{Bucket: bucket, Prefix: prefix}, nil
}

func parseHTTP(s string) (Location, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Location{}, fmt.Errorf("S3 location %s: %v; %s", show(s), unwrapURLError(err), validForms)
	}
	if u.User != nil {
		return Location{}, fmt.Errorf("S3 location %s: credentials in the URL are not accepted; use the AWS credential chain or a profile", redactUser(u))
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "" {
		return Location{}, fmt.Errorf("S3 location %s: a query or fragment is not allowed (percent-encode '?' as %%3F and '#' as %%23 in keys); %s", show(s), validForms)
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return Location{}, fmt.Errorf("S3 location %s: missing host; %s", show(s), validForms)
	}
	path := u.EscapedPath()
	var loc Location
	virtualBucket, region, isAWS, err := parseAWSHost(s, host)
	if err != nil {
		return Location{}, err
	}
	loc.Region = region
	if !isAWS {
		loc.Endpoint = u.Scheme + "://" + u.Host
	}
	if virtualBucket != "" {
		if err := checkBucket(s, virtualBucket); err != nil {
			return Location{}, err
		}
		loc.Bucket = virtualBucket
		p := strings.TrimPrefix(path, "/")
		if loc.Prefix, err = url.PathUnescape(p); err != nil {
			return Location{}, fmt.Errorf("S3 location %s: bad percent-encoding in the key prefix; %s", show(s), validForms)
		}
		return loc, nil
	}
	// Path style: /bucket/prefix.
	if path == "" || path == "/" {
		return loc, nil
	}
	rawBucket, rawPrefix, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	if rawBucket == "" {
		return Location{}, fmt.Errorf("S3 location %s: missing bucket name before the prefix; %s", show(s), validForms)
	}
	bucket, err := url.PathUnescape(rawBucket)
	if err != nil {
		return Location{}, fmt.Errorf("S3 location %s: bad percent-encoding in the bucket name; %s", show(s), validForms)
	}
	if err := checkBucket(s, bucket); err != nil {
		return Location{}, err
	}
	loc.Bucket = bucket
	if loc.Prefix, err = url.PathUnescape(rawPrefix); err != nil {
		return Location{}, fmt.Errorf("S3 location %s: bad percent-encoding in the key prefix; %s", show(s), validForms)
	}
	return loc, nil
}

// parseAWSHost recognises AWS S3 hosts. For other hosts isAWS is false and
// the URL is taken as path style on an S3-compatible server.
func parseAWSHost(s, host string) (bucket, region string, isAWS bool, err error) {
	var rest string
	switch {
	case strings.HasSuffix(host, ".amazonaws.com"):
		rest = strings.TrimSuffix(host, ".amazonaws.com")
	case strings.HasSuffix(host, ".amazonaws.com.cn"):
		rest = strings.TrimSuffix(host, ".amazonaws.com.cn")
	default:
		return "", "", false, nil
	}
	labels := strings.Split(rest, ".")
	// Find the service label, "s3" or "s3-REGION", scanning from the right:
	// everything left of it is the bucket (which may itself hold dots).
	i := len(labels) - 1
	for ; i >= 0; i-- {
		if labels[i] == "s3" || strings.HasPrefix(labels[i], "s3-") {
			break
		}
	}
	if i < 0 {
		return "", "", false, fmt.Errorf("S3 location %s: %s is an AWS host but not an S3 endpoint; %s", show(s), host, validForms)
	}
	svc, after := labels[i], labels[i+1:]
	switch {
	case svc == "s3-external-1":
		region = "us-east-1"
	case strings.HasPrefix(svc, "s3-website"), strings.HasPrefix(svc, "s3-accesspoint"),
		strings.HasPrefix(svc, "s3-object-lambda"), strings.HasPrefix(svc, "s3-control"),
		strings.HasPrefix(svc, "s3-outposts"), strings.HasPrefix(svc, "s3-fips"):
		return "", "", false, fmt.Errorf("S3 location %s: %s endpoints are not supported; %s", show(s), svc, validForms)
	case strings.HasPrefix(svc, "s3-accelerate"):
		// Transfer acceleration: global, no region.
	case strings.HasPrefix(svc, "s3-"):
		region = strings.TrimPrefix(svc, "s3-")
	}
	if len(after) > 0 && after[0] == "dualstack" {
		after = after[1:]
	}
	switch len(after) {
	case 0:
	case 1:
		if region != "" {
			return "", "", false, fmt.Errorf("S3 location %s: host %s names a region twice; %s", show(s), host, validForms)
		}
		region = after[0]
	default:
		return "", "", false, fmt.Errorf("S3 location %s: cannot read host %s; %s", show(s), host, validForms)
	}
	if region != "" && !isRegion(region) {
		return "", "", false, fmt.Errorf("S3 location %s: %q is not an AWS region name (like us-west-2); %s", show(s), region, validForms)
	}
	return strings.Join(labels[:i], "."), region, true, nil
}

// isRegion accepts names like us-east-1, eu-central-2, us-gov-west-1.
func isRegion(r string) bool {
	parts := strings.Split(r, "-")
	if len(parts) < 2 {
		return false
	}
	for _, p := range parts {
		if p == "" {
			return false
		}
		for _, c := range p {
			if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
				return false
			}
		}
	}
	return true
}

// checkBucket accepts S3 bucket names, including the legacy us-east-1 ones
// (up to 255 characters, upper case and '_'); S3 itself decides the rest.
func checkBucket(s, b string) error {
	if len(b) < 3 || len(b) > 255 {
		return fmt.Errorf("S3 location %s: bucket name %q must be 3 to 255 characters long; %s", show(s), b, validForms)
	}
	for _, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-', c == '_':
		default:
			return fmt.Errorf("S3 location %s: bucket name %q may hold only letters, digits, '.', '-' and '_' (not %q); %s", show(s), b, c, validForms)
		}
	}
	return nil
}

func redactUser(u *url.URL) string {
	c := *u
	c.User = nil
	return show(c.String())
}

// show quotes a location for an error message, without any userinfo (which
// may hold a password).
func show(s string) string {
	if scheme, rest, ok := strings.Cut(s, "://"); ok {
		authority, path, _ := strings.Cut(rest, "/")
		if i := strings.LastIndexByte(authority, '@'); i >= 0 {
			s = scheme + "://***@" + authority[i+1:]
			if len(rest) > len(authority) {
				s += "/" + path
			}
		}
	}
	return fmt.Sprintf("%q", s)
}

func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}
