package s3

import (
	"context"

	"github.com/migrate-tool/migrate/providers"
)

var _ providers.StartAfterLister = (*Source)(nil)

// ListAfter returns the first ListObjectsV2 page of bucket under
// opts.Prefix whose keys sort after startAfter (S3's start-after; ""
// starts at the first key), with List's page semantics: at most
// opts.MaxResults keys (0 or above 1000 = 1000), keys decoded, ETags
// unquoted, the bucket's region followed, errors classified. opts.Token is
// ignored; the page's Next continues the listing with List.
func (s *Source) ListAfter(ctx context.Context, bucket string, opts providers.ListOptions, startAfter string) (providers.Page, error) {
	opts.Token = ""
	return s.list(ctx, bucket, opts, startAfter)
}
