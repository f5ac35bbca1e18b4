// Package providertest is the conformance suite every provider runs: the
// in-memory reference provider always, the S3 provider against versitygw and
// the Azure provider against Azurite (behind the copy-source front). A
// provider passes by calling TestSource and/or TestDestination from its own
// tests with a harness that knows how to seed data for it.
package providertest

import (
	"testing"

	"github.com/migrate-tool/migrate/providers"
)

// SeedObject is one object a harness must create before a source test.
type SeedObject struct {
	Key  string
	Data []byte
	// Props are the headers, user metadata and tags (Props.Tags, as object
	// tags) to store; Props.Tier is unused.
	Props providers.Properties
}

// SourceHarness lets the suite exercise a Source.
type SourceHarness struct {
	// Source under test. If it also implements providers.Presigner,
	// providers.RangeReader, providers.BucketLister and/or
	// providers.TagReader, those capabilities are tested too.
	Source providers.Source
	// NewBucket creates a new, empty bucket holding objs (written through
	// the service's own API, not the provider under test) and returns its
	// name. Each call returns a distinct bucket.
	NewBucket func(t *testing.T, objs []SeedObject) string
	// Fetch GETs a presigned URL the way the destination service would and
	// returns the status and body; required when Source is a Presigner.
	Fetch func(t *testing.T, url string, rangeHeader string) (status int, body []byte)
	// MaxResults is the page size the suite asks for when testing
	// pagination (default 2). Servers that ignore small values may set it.
	MaxResults int
	// SkipKey, optional, reports keys of AwkwardKeys that the server under
	// test documentedly cannot hold; the suite logs and leaves them out.
	// Leave nil unless a server limit (not a provider bug) requires it.
	SkipKey func(key string) bool
}

// DestinationHarness lets the suite exercise a Destination.
type DestinationHarness struct {
	// Destination under test. If it also implements providers.URLIngester,
	// providers.BlockStager, providers.ContainerLister and/or
	// providers.BlockLister, those capabilities are tested too.
	Destination providers.Destination
	// NewContainerName returns a fresh, valid, not yet existing container
	// name. Each call returns a distinct name.
	NewContainerName func(t *testing.T) string
	// ServeURL makes data reachable by the destination service at a URL
	// (for URLIngester tests) and returns it; refuse makes the URL answer
	// 403 to every request, as a source that denies access would.
	ServeURL func(t *testing.T, data []byte, refuse bool) providers.SourceURL
	// ServeChangingURL, optional, serves data like ServeURL from a server
	// that gives it an ETag and honours If-Match as S3 does (the ETag
	// quoted or not; 412 PreconditionFailed when it does not match). The
	// returned src.IfMatch is that ETag, without quotes, as a listing
	// would report it. replace swaps the served content for other data
	// with another ETag: the object changing between listing and copy.
	// Without it the source-changed tests are skipped.
	ServeChangingURL func(t *testing.T, data []byte) (src providers.SourceURL, replace func(data []byte))
	// ReadBlob returns the committed content of a blob, read through the
	// service's own API.
	ReadBlob func(t *testing.T, container, name string) []byte
	// MaxResults is the page size the suite asks for when testing
	// pagination of ListBlobs (default 2).
	MaxResults int
	// SkipKey, optional, reports blob names of AwkwardKeys (already without
	// those ending in '.' or '/') that the service under test documentedly
	// cannot hold; the suite logs and leaves them out.
	SkipKey func(name string) bool
}
