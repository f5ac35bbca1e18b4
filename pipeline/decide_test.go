package pipeline

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/migrate-tool/migrate/metadata"
	"github.com/migrate-tool/migrate/providers"
	"github.com/migrate-tool/migrate/providers/memory"
)

// s3Facts wraps the memory source and adds, per key, what only S3 knows.
type s3Facts struct {
	*memory.Store
	facts map[string]func(*providers.ObjectInfo)
}

func (s *s3Facts) Stat(ctx context.Context, bucket, key string) (providers.ObjectInfo, error) {
	info, err := s.Store.Stat(ctx, bucket, key)
	if f := s.facts[key]; err == nil && f != nil {
		f(&info)
	}
	return info, err
}

func TestDecisionsOnTagsTiersAndHeaders(t *testing.T) {
	r := newRig(t, nil)
	put := func(key string, props providers.Properties) { r.src.Put("bkt", key, payload(20, 1), props) }
	put("tagged", providers.Properties{Tags: map[string]string{"team": "data eng", "bad@tag": "x"}})
	put("untagged", providers.Properties{})
	put("glacier", providers.Properties{})
	put("restored", providers.Properties{})
	put("ia", providers.Properties{})
	put("web", providers.Properties{Metadata: map[string]string{"owner": "a"}})
	lm := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	src := &s3Facts{Store: r.src, facts: map[string]func(*providers.ObjectInfo){
		"glacier": func(i *providers.ObjectInfo) { i.StorageClass = "GLACIER" },
		"restored": func(i *providers.ObjectInfo) {
			i.StorageClass = "DEEP_ARCHIVE"
			i.Restore = `ongoing-request="false", expiry-date="x"`
		},
		"ia": func(i *providers.ObjectInfo) { i.StorageClass = "STANDARD_IA" },
		"web": func(i *providers.ObjectInfo) {
			i.Expires, i.WebsiteRedirect, i.LastModified = "Wed, 21 Oct 2015 07:28:00 GMT", "/other", lm
		},
	}}
	results := map[string]ObjectResult{}
	run := func(o Options) Summary {
		t.Helper()
		o.Retry = fastRetry()
		o.Concurrency = 1
		o.OnResult = func(res ObjectResult) { results[res.Key] = res }
		c, err := New(src, r.dst, o)
		if err != nil {
			t.Fatal(err)
		}
		sum, err := c.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return sum
	}

	sum := run(Options{Routes: []Route{{Bucket: "bkt", Container: "c1"}}, Tags: true, PreserveTier: true, PreserveSourceInfo: true})
	if sum.Copied != 5 || sum.Skipped != 1 || sum.SkipReasons[skipArchived] != 1 {
		t.Fatalf("summary %+v", sum)
	}
	_, info, _ := r.dst.Get("c1", "tagged")
	if len(info.Tags) != 1 || info.Tags["team"] != "data eng" || info.Tier != "Hot" {
		t.Errorf("tagged: tags %v tier %q; want only the valid tag and Hot", info.Tags, info.Tier)
	}
	if w := results["tagged"].Warnings; len(w) == 0 || !strings.Contains(strings.Join(w, " "), "bad@tag") {
		t.Errorf("tagged: warnings %q should name the dropped tag", w)
	}
	if got := r.src.Calls("Tags"); got != 1 {
		t.Errorf("Tags called %d times, want once (only the tagged object)", got)
	}
	for key, tier := range map[string]string{"restored": "Archive", "ia": "Cool", "untagged": "Hot"} {
		if _, info, _ := r.dst.Get("c1", key); info.Tier != tier {
			t.Errorf("%s: tier %q, want %q", key, info.Tier, tier)
		}
	}
	if res := results["glacier"]; res.Outcome != Skipped || !strings.Contains(res.Reason, "GLACIER") {
		t.Errorf("glacier: %+v", res)
	}
	_, info, _ = r.dst.Get("c1", "web")
	md := info.Metadata
	if md["owner"] != "a" || md["s3_last_modified"] != "2024-05-06T07:08:09Z" || md["s3_etag"] == "" || md["s3_expires"] != "" {
		t.Errorf("web: metadata %v", md)
	}
	if w := strings.Join(results["web"].Warnings, " "); !strings.Contains(w, "Expires") || !strings.Contains(w, "website") {
		t.Errorf("web: warnings %q should report Expires and the website redirect", w)
	}

	// One tier for all, S3-only headers kept, tags off, archived = failure.
	sum = run(Options{Routes: []Route{{Bucket: "bkt", Container: "c2"}}, BlobTier: "Cool", KeepS3Headers: true, FailOnArchived: true})
	if sum.Failed != 1 || sum.Failures[0].Key != "glacier" || !strings.Contains(sum.Failures[0].Reason, "restore first") {
		t.Fatalf("summary %+v", sum)
	}
	_, info, _ = r.dst.Get("c2", "web")
	if info.Tier != "Cool" || info.Metadata["s3_expires"] != "Wed, 21 Oct 2015 07:28:00 GMT" || info.Metadata["s3_website_redirect"] != "/other" {
		t.Errorf("web: tier %q metadata %v", info.Tier, info.Metadata)
	}
	if _, info, _ = r.dst.Get("c2", "tagged"); len(info.Tags) != 0 {
		t.Errorf("tags were copied with Tags off: %v", info.Tags)
	}

	// FailIfInvalid: the invalid tag fails the object, naming it.
	sum = run(Options{Routes: []Route{{Bucket: "bkt", Container: "c3"}}, Tags: true, MetadataPolicy: metadata.FailIfInvalid})
	if sum.Failed != 1 || sum.Failures[0].Key != "tagged" || !strings.Contains(sum.Failures[0].Reason, "bad@tag") {
		t.Fatalf("summary %+v", sum)
	}
}
