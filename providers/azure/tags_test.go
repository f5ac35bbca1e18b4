package azure

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"

	"github.com/migrate-tool/migrate/providers"
	"github.com/migrate-tool/migrate/providers/providertest"
)

// recorder keeps what a Destination sent: per request, its comp query
// parameter and its x-ms-tags and x-ms-access-tier headers.
type recorder struct {
	mu   sync.Mutex
	reqs []sent
}

type sent struct {
	method, comp, tags, tier string
	copySource               bool
}

// header returns the first value of name in h, whatever its key's case:
// azcore sets x-ms-* headers under their lowercase, non-canonical keys.
func header(h http.Header, name string) string {
	for k, vs := range h {
		if strings.EqualFold(k, name) && len(vs) > 0 {
			return vs[0]
		}
	}
	return ""
}

func (rec *recorder) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, sent{
			method:     req.Method,
			comp:       req.URL.Query().Get("comp"),
			tags:       header(req.Header, "x-ms-tags"),
			tier:       header(req.Header, "x-ms-access-tier"),
			copySource: header(req.Header, "x-ms-copy-source") != "",
		})
		rec.mu.Unlock()
		return rt.RoundTrip(req)
	})
}

// take returns the requests recorded since the last take.
func (rec *recorder) take() []sent {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	out := rec.reqs
	rec.reqs = nil
	return out
}

// newRecordingRig is newRig with a Destination whose requests rec records.
func newRecordingRig(t *testing.T) (*rig, *recorder) {
	t.Helper()
	r := newRig(t)
	rec := &recorder{}
	dst, err := New(Options{ServiceURL: r.az.Endpoint, Account: r.az.Account,
		Credential: Credential{AccountKey: providers.Secret(r.az.Key)}, WrapTransport: rec.wrap})
	if err != nil {
		t.Fatal(err)
	}
	r.dst = dst
	return r, rec
}

// rawTags reads a blob's tags and tier straight from Azurite.
func (r *rig) rawTags(t *testing.T, c, name string) (map[string]string, string) {
	t.Helper()
	b := r.raw.NewContainerClient(c).NewBlobClient(name)
	tr, err := b.GetTags(t.Context(), nil)
	if err != nil {
		t.Fatalf("GetTags %s/%s: %v", c, name, err)
	}
	tags := map[string]string{}
	for _, tag := range tr.BlobTagSet {
		tags[deref(tag.Key)] = deref(tag.Value)
	}
	p, err := b.GetProperties(t.Context(), nil)
	if err != nil {
		t.Fatalf("GetProperties %s/%s: %v", c, name, err)
	}
	return tags, deref(p.AccessTier)
}

func TestTagsAndTier(t *testing.T) {
	r, rec := newRecordingRig(t)
	c := r.container(t)
	d := providertest.Data(50_000, 9)
	src := serve(t, d, 0, "")
	// '+', '/', ':', '=', '_', '.', '-' and a space: all of Azure's
	// punctuation, which the SDK form-encodes and Azure must decode.
	tags := map[string]string{"project": "x", "team": "data eng", "a+b": "c/d:e=f_g.h-i"}
	props := providers.Properties{ContentType: "text/csv", Metadata: map[string]string{"origin": "s3"}, Tags: tags, Tier: "Cool"}

	replays := r.az.Front.Stats().Replays
	if err := r.dst.PutBlobFromURL(t.Context(), c, "put", src.url(), int64(len(d)), props); err != nil {
		t.Fatal(err)
	}
	if n := r.az.Front.Stats().Replays - replays; n != 1 {
		t.Errorf("the front replayed %d requests, want 1 (Put Blob From URL as Put Blob)", n)
	}
	if err := r.dst.StageBlock(t.Context(), c, "committed", "id-0", bytes.NewReader(d), int64(len(d))); err != nil {
		t.Fatal(err)
	}
	if err := r.dst.CommitBlocks(t.Context(), c, "committed", []providers.BlockID{"id-0"}, props); err != nil {
		t.Fatal(err)
	}
	var puts int
	for _, s := range rec.take() {
		if s.method != http.MethodPut || (!s.copySource && s.comp != "blocklist") {
			continue // Create Container, Put Block
		}
		puts++
		if s.tags == "" || s.tier != "Cool" {
			t.Errorf("PUT comp=%q copy-source=%v sent x-ms-tags %q x-ms-access-tier %q", s.comp, s.copySource, s.tags, s.tier)
		}
		t.Logf("PUT comp=%q copy-source=%v: x-ms-tags: %s; x-ms-access-tier: %s", s.comp, s.copySource, s.tags, s.tier)
	}
	if puts != 2 {
		t.Errorf("%d blob-creating PUTs recorded, want 2", puts)
	}

	for _, name := range []string{"put", "committed"} {
		// What Azurite stored, read without the provider.
		gotTags, gotTier := r.rawTags(t, c, name)
		if !maps.Equal(gotTags, tags) || gotTier != "Cool" {
			t.Errorf("%s in Azurite: tags %q tier %q, want %q Cool", name, gotTags, gotTier, tags)
		}
		if !bytes.Equal(r.readBlob(t, c, name), d) {
			t.Errorf("%s: content differs", name)
		}
		rec.take()
		info, err := r.dst.StatBlob(t.Context(), c, name)
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(info.Tags, tags) || info.TagCount != 3 || info.Tier != "Cool" || info.StorageClass != "Cool" ||
			info.ContentType != "text/csv" || info.Metadata["origin"] != "s3" {
			t.Errorf("StatBlob %s = Tags %q TagCount %d Tier %q StorageClass %q ContentType %q Metadata %v",
				name, info.Tags, info.TagCount, info.Tier, info.StorageClass, info.ContentType, info.Metadata)
		}
		if comps := comps(rec.take()); comps != "[ tags]" {
			t.Errorf("StatBlob of a tagged blob sent comp=%s, want Get Blob Properties then Get Blob Tags", comps)
		}
	}

	// A blob without tags costs one request, and replacing a blob without
	// tags or tier clears both (the tier falls back to the default).
	if err := r.dst.PutBlobFromURL(t.Context(), c, "put", src.url(), int64(len(d)), providers.Properties{}); err != nil {
		t.Fatal(err)
	}
	if err := r.dst.CommitBlocks(t.Context(), c, "committed", []providers.BlockID{"id-0"}, providers.Properties{}); err != nil {
		t.Fatal(err)
	}
	for _, s := range rec.take() {
		if s.tags != "" || s.tier != "" {
			t.Errorf("PUT without tags or tier sent x-ms-tags %q x-ms-access-tier %q", s.tags, s.tier)
		}
	}
	for _, name := range []string{"put", "committed"} {
		info, err := r.dst.StatBlob(t.Context(), c, name)
		if err != nil {
			t.Fatal(err)
		}
		if info.Tags != nil || info.TagCount != 0 {
			t.Errorf("StatBlob %s after a replace without tags: Tags %q TagCount %d", name, info.Tags, info.TagCount)
		}
		if comps := comps(rec.take()); comps != "[]" {
			t.Errorf("StatBlob of an untagged blob sent comp=%s, want Get Blob Properties only", comps)
		}
		t.Logf("%s replaced without a tier: Tier %q", name, info.Tier)
	}
}

// comps lists the comp parameters of reqs ("" for none).
func comps(reqs []sent) string {
	var cs []string
	for _, s := range reqs {
		cs = append(cs, s.comp)
	}
	return fmt.Sprint(cs)
}

func TestArchiveTier(t *testing.T) {
	r := newRig(t)
	c := r.container(t)
	d := providertest.Data(4000, 10)
	src := serve(t, d, 0, "")
	props := providers.Properties{Tier: "Archive", Tags: map[string]string{"k": "v"}}
	if err := r.dst.PutBlobFromURL(t.Context(), c, "put", src.url(), int64(len(d)), props); err != nil {
		t.Fatalf("PutBlobFromURL to the Archive tier: %v", err)
	}
	if err := r.dst.StageBlock(t.Context(), c, "committed", "id-0", bytes.NewReader(d), int64(len(d))); err != nil {
		t.Fatal(err)
	}
	if err := r.dst.CommitBlocks(t.Context(), c, "committed", []providers.BlockID{"id-0"}, props); err != nil {
		t.Fatalf("CommitBlocks to the Archive tier: %v", err)
	}
	for _, name := range []string{"put", "committed"} {
		info, err := r.dst.StatBlob(t.Context(), c, name)
		if err != nil {
			t.Fatal(err)
		}
		if info.Tier != "Archive" || info.Size != int64(len(d)) || info.Tags["k"] != "v" {
			t.Errorf("StatBlob %s = Tier %q Size %d Tags %q", name, info.Tier, info.Size, info.Tags)
		}
		// An archived blob cannot be read until rehydrated, as in Azure.
		_, err = r.raw.NewContainerClient(c).NewBlobClient(name).DownloadStream(t.Context(), nil)
		if !bloberror.HasCode(err, bloberror.BlobArchived) {
			t.Errorf("download of archived %s: %v, want 409 BlobArchived", name, err)
		}
		t.Logf("%s: Azurite accepted Archive on upload; StatBlob Tier %q; a download gives BlobArchived", name, info.Tier)
	}
}

func TestInvalidTagsAndTier(t *testing.T) {
	r := newRig(t)
	c := r.container(t)
	d := providertest.Data(100, 11)
	src := serve(t, d, 0, "")
	if err := r.dst.StageBlock(t.Context(), c, "b", "id-0", bytes.NewReader(d), int64(len(d))); err != nil {
		t.Fatal(err)
	}
	eleven := map[string]string{}
	for i := range 11 {
		eleven[fmt.Sprintf("k%d", i)] = "v"
	}
	for _, tt := range []struct {
		name     string
		props    providers.Properties
		wantText string
	}{
		// '@' is valid in an S3 tag, not in an Azure one.
		{"character", providers.Properties{Tags: map[string]string{"owner": "a@b.example"}}, "blob index tags refused"},
		{"non-ASCII", providers.Properties{Tags: map[string]string{"k": "ä"}}, "blob index tags refused"},
		{"eleven tags", providers.Properties{Tags: eleven}, "blob index tags refused"},
		{"long value", providers.Properties{Tags: map[string]string{"k": strings.Repeat("v", 257)}}, "blob index tags refused"},
		{"unknown tier", providers.Properties{Tier: "Lukewarm"}, "header x-ms-access-tier"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for op, err := range map[string]error{
				"PutBlobFromURL": r.dst.PutBlobFromURL(t.Context(), c, "p", src.url(), int64(len(d)), tt.props),
				"CommitBlocks":   r.dst.CommitBlocks(t.Context(), c, "b", []providers.BlockID{"id-0"}, tt.props),
			} {
				if providers.KindOf(err) != providers.KindInvalid || !strings.Contains(fmt.Sprint(err), tt.wantText) {
					t.Errorf("%s: %v, want Invalid with %q", op, err, tt.wantText)
				}
				var re *azcore.ResponseError
				if !errors.As(err, &re) {
					t.Errorf("%s: errors.As does not reach *azcore.ResponseError", op)
				}
				noSecret(t, err)
				t.Logf("%s: %v", op, err)
			}
		})
	}
	for _, name := range []string{"p", "b"} {
		if _, err := r.dst.StatBlob(t.Context(), c, name); providers.KindOf(err) != providers.KindNotFound {
			t.Errorf("blob %s exists after refused writes: %v", name, err)
		}
	}
}

func TestListContainers(t *testing.T) {
	r, rec := newRecordingRig(t)
	r.dst.containerPageSize = 2
	prefix := newContainerName(t) + "-l-"
	var want []string
	for _, s := range []string{"e", "b", "d", "a", "c"} {
		want = append(want, prefix+s)
		if _, err := r.dst.EnsureContainer(t.Context(), prefix+s); err != nil {
			t.Fatal(err)
		}
	}
	// Shares all but the last character of the prefix.
	if _, err := r.dst.EnsureContainer(t.Context(), strings.TrimSuffix(prefix, "-")+"x"); err != nil {
		t.Fatal(err)
	}
	slices.Sort(want)
	rec.take()
	got, err := r.dst.ListContainers(t.Context(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("ListContainers(%q) = %q, want %q", prefix, got, want)
	}
	if pages := len(rec.take()); pages != 3 {
		t.Errorf("5 containers 2 a page took %d List Containers requests, want 3", pages)
	}
	all, err := r.dst.ListContainers(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.IsSorted(all) || len(all) < len(want)+1 {
		t.Errorf("ListContainers of all = %d names, sorted %v", len(all), slices.IsSorted(all))
	}
	t.Logf("%d containers in Azurite, listed in %d pages of 2", len(all), len(rec.take()))
}
