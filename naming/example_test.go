package naming_test

import (
	"fmt"

	"github.com/migrate-tool/migrate/naming"
)

func ExampleMapBuckets() {
	buckets := []string{"my-data", "my.data", "a----b", "plain", "Legacy_Bucket", "two words", "logs.2024"}
	existing := func(c string) bool { return c == "archive" }
	opts := naming.MapOptions{
		Overrides: map[string]string{"logs.2024": "archive"},
		Existing:  existing,
	}
	for _, m := range naming.MapBuckets(buckets, opts) {
		switch {
		case m.Err != nil:
			fmt.Printf("%-14s skipped: %v\n", m.Bucket, m.Err)
		case m.Changed:
			fmt.Printf("%-14s → %s (%s)\n", m.Bucket, m.Container, m.Reason)
		default:
			fmt.Printf("%-14s → %s\n", m.Bucket, m.Container)
		}
	}
	// Output:
	// Legacy_Bucket  → legacy-bucket (legacy bucket name; lowercased; "_" replaced by "-")
	// a----b         → a-4-b (runs of k hyphens replaced by "-k-")
	// logs.2024      skipped: container name collision: bucket "logs.2024" maps to container "archive", which already exists in the destination (merging into existing containers was not allowed)
	// my-data        → my-data
	// my.data        → my-data-2 ("." replaced by "-"; "my-data" collides with the name of another bucket: suffix -2 added)
	// plain          → plain
	// two words      skipped: cannot map bucket "two words": contains ' ', which S3 bucket names never contain
}

func ExampleEncodeBlobName() {
	for _, key := range []string{"reports/2024./q1.", `c:\temp\x`, "bell\a", "a．b"} {
		enc, changed := naming.EncodeBlobName(key)
		fmt.Printf("%q → %q %v, decodes back: %v\n", key, enc, changed, naming.DecodeBlobName(enc) == key)
	}
	// Output:
	// "reports/2024./q1." → "reports/2024．/q1．" true, decodes back: true
	// "c:\\temp\\x" → "c:＼temp＼x" true, decodes back: true
	// "bell\a" → "bell__0x7__" true, decodes back: true
	// "a．b" → "a__0xff0e__b" true, decodes back: true
}
