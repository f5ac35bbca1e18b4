package providertest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/migrate-tool/migrate/providers"
)

// TestDestination runs the conformance suite for a Destination, and for the
// URLIngester, BlockStager, ContainerLister and BlockLister capabilities it
// has. Every subtest creates its own container from h.NewContainerName.
func TestDestination(t *testing.T, h DestinationHarness) {
	if h.Destination == nil || h.NewContainerName == nil {
		t.Fatal("providertest: DestinationHarness needs Destination and NewContainerName")
	}
	if h.MaxResults <= 0 {
		h.MaxResults = 2
	}
	dt := &destTest{h: h}
	dt.ing, _ = h.Destination.(providers.URLIngester)
	dt.stager, _ = h.Destination.(providers.BlockStager)
	dt.lister, _ = h.Destination.(providers.ContainerLister)
	dt.blocks, _ = h.Destination.(providers.BlockLister)
	if dt.ing != nil && h.ServeURL == nil {
		t.Fatal("providertest: the Destination is a URLIngester but DestinationHarness.ServeURL is nil")
	}
	if (dt.ing != nil || dt.stager != nil) && h.ReadBlob == nil {
		t.Fatal("providertest: the Destination can write blobs but DestinationHarness.ReadBlob is nil")
	}
	t.Run("EnsureContainer", dt.testEnsure)
	t.Run("NotFound", dt.testNotFound)
	t.Run("Canceled", dt.testCanceled)
	if dt.lister != nil {
		t.Run("ListContainers", dt.testListContainers)
	}
	if dt.ing != nil {
		t.Run("URLIngester", func(t *testing.T) {
			t.Run("PutBlobFromURL", dt.testPutFromURL)
			t.Run("PutBlobFromURLEmpty", dt.testPutEmpty)
			t.Run("PutBlobFromURLReplace", dt.testPutReplace)
			t.Run("PutBlobFromURLRefused", dt.testPutRefused)
			t.Run("PutBlobFromURLTooLarge", dt.testPutTooLarge)
			t.Run("StageBlockFromURL", dt.testStageFromURL)
			t.Run("StageBlockFromURLRefused", dt.testStageRefused)
			t.Run("CommitSubset", dt.testCommitSubset)
			t.Run("CommitUnknownBlock", dt.testCommitUnknown)
			t.Run("ReplaceKeepsOldUntilCommit", dt.testReplaceKeepsOld)
			t.Run("TagsAndTier", dt.testTagsTier)
			if h.ServeChangingURL != nil {
				t.Run("SourceChanged", dt.testSourceChanged)
			} else {
				t.Log("providertest: DestinationHarness.ServeChangingURL is nil; source-changed tests skipped")
			}
		})
	} else {
		t.Log("providertest: Destination is not a URLIngester; URL tests skipped")
	}
	if dt.stager != nil {
		t.Run("BlockStager", func(t *testing.T) {
			t.Run("StageBlock", dt.testStageBlock)
			t.Run("StageBlockFromPosition", dt.testStagePosition)
		})
	}
	if dt.ing == nil && dt.stager == nil {
		t.Log("providertest: Destination cannot write blobs; listing tests skipped")
		return
	}
	if dt.blocks != nil {
		t.Run("UncommittedBlocks", dt.testUncommitted)
	}
	t.Run("ListBlobs", dt.testListBlobs)
	t.Run("AwkwardNames", dt.testAwkward)
}

type destTest struct {
	h      DestinationHarness
	ing    providers.URLIngester
	stager providers.BlockStager
	lister providers.ContainerLister
	blocks providers.BlockLister
}

// container returns a new, created container.
func (dt *destTest) container(t *testing.T) string {
	t.Helper()
	c := dt.h.NewContainerName(t)
	if _, err := dt.h.Destination.EnsureContainer(t.Context(), c); err != nil {
		t.Fatalf("EnsureContainer %q: %v", c, err)
	}
	return c
}

// ids returns n block IDs of equal length.
func ids(n int) []providers.BlockID {
	out := make([]providers.BlockID, n)
	for i := range out {
		out[i] = providers.BlockID(fmt.Sprintf("block-%06d", i))
	}
	return out
}

// put writes a blob through the capability the destination has.
func (dt *destTest) put(t *testing.T, container, name string, d []byte, props providers.Properties) {
	t.Helper()
	if dt.ing != nil {
		src := dt.h.ServeURL(t, d, false)
		if err := dt.ing.PutBlobFromURL(t.Context(), container, name, src, int64(len(d)), props); err != nil {
			t.Fatalf("PutBlobFromURL %q: %v", name, err)
		}
		return
	}
	var list []providers.BlockID
	if len(d) > 0 {
		id := ids(1)[0]
		if err := dt.stager.StageBlock(t.Context(), container, name, id, bytes.NewReader(d), int64(len(d))); err != nil {
			t.Fatalf("StageBlock %q: %v", name, err)
		}
		list = append(list, id)
	}
	if err := dt.stager.CommitBlocks(t.Context(), container, name, list, props); err != nil {
		t.Fatalf("CommitBlocks %q: %v", name, err)
	}
}

// checkBlob fails t unless blob name holds exactly d with props.
func (dt *destTest) checkBlob(t *testing.T, what, container, name string, d []byte, props *providers.Properties) {
	t.Helper()
	checkBytes(t, what+": content", dt.h.ReadBlob(t, container, name), d)
	info, err := dt.h.Destination.StatBlob(t.Context(), container, name)
	if err != nil {
		t.Errorf("%s: StatBlob: %v", what, err)
		return
	}
	if info.Key != name || info.Size != int64(len(d)) {
		t.Errorf("%s: StatBlob Key %q Size %d, want %q %d", what, info.Key, info.Size, name, len(d))
	}
	if info.ETag == "" {
		t.Errorf("%s: StatBlob ETag is empty", what)
	}
	if info.LastModified.Year() < 2000 {
		t.Errorf("%s: StatBlob LastModified %v, want a real time", what, info.LastModified)
	}
	if props != nil {
		checkProps(t, what+": StatBlob", info.Properties, *props)
	}
}

// checkAbsent fails t unless blob name is not (yet) a committed blob.
func (dt *destTest) checkAbsent(t *testing.T, what, container, name string) {
	t.Helper()
	_, err := dt.h.Destination.StatBlob(t.Context(), container, name)
	checkKind(t, what+": StatBlob", err, providers.KindNotFound)
	objs, err := ListAllBlobs(t.Context(), dt.h.Destination, container, "")
	if err != nil {
		t.Errorf("%s: ListBlobs: %v", what, err)
	}
	if slices.Contains(keysOf(objs), name) {
		t.Errorf("%s: ListBlobs shows %q", what, name)
	}
}

func (dt *destTest) testEnsure(t *testing.T) {
	c := dt.h.NewContainerName(t)
	created, err := dt.h.Destination.EnsureContainer(t.Context(), c)
	if err != nil || !created {
		t.Fatalf("first EnsureContainer = %v, %v; want true, nil", created, err)
	}
	created, err = dt.h.Destination.EnsureContainer(t.Context(), c)
	if err != nil || created {
		t.Errorf("second EnsureContainer = %v, %v; want false, nil", created, err)
	}
	p, err := dt.h.Destination.ListBlobs(t.Context(), c, providers.ListOptions{})
	if err != nil || len(p.Objects) != 0 || p.Next != "" {
		t.Errorf("ListBlobs of a new container = %q, Next %q, err %v; want empty, \"\", nil", keysOf(p.Objects), p.Next, err)
	}
	_, err = dt.h.Destination.StatBlob(t.Context(), c, "missing")
	checkKind(t, "StatBlob of a missing blob", err, providers.KindNotFound)
}

func (dt *destTest) testNotFound(t *testing.T) {
	c := dt.h.NewContainerName(t) // never created
	_, err := dt.h.Destination.StatBlob(t.Context(), c, "blob")
	checkKind(t, "StatBlob in a missing container", err, providers.KindNotFound)
	_, err = dt.h.Destination.ListBlobs(t.Context(), c, providers.ListOptions{})
	checkKind(t, "ListBlobs of a missing container", err, providers.KindNotFound)
}

func (dt *destTest) testCanceled(t *testing.T) {
	existing := dt.container(t)
	for _, c := range []struct {
		name  string
		ctx   context.Context
		cause error
	}{
		{"canceled", canceledCtx(t), context.Canceled},
		{"expired", expiredCtx(t), context.DeadlineExceeded},
	} {
		fresh := dt.h.NewContainerName(t)
		_, err := dt.h.Destination.EnsureContainer(c.ctx, fresh)
		checkCanceled(t, "EnsureContainer with a "+c.name+" ctx", err, c.cause)
		_, err = dt.h.Destination.StatBlob(c.ctx, existing, "blob")
		checkCanceled(t, "StatBlob with a "+c.name+" ctx", err, c.cause)
		_, err = dt.h.Destination.ListBlobs(c.ctx, existing, providers.ListOptions{})
		checkCanceled(t, "ListBlobs with a "+c.name+" ctx", err, c.cause)
		if dt.ing != nil {
			src := dt.h.ServeURL(t, []byte("payload"), false)
			err = dt.ing.PutBlobFromURL(c.ctx, existing, "put-"+c.name, src, 7, providers.Properties{})
			checkCanceled(t, "PutBlobFromURL with a "+c.name+" ctx", err, c.cause)
			err = dt.ing.StageBlockFromURL(c.ctx, existing, "stage-"+c.name, ids(1)[0], src, providers.Range{Offset: 0, Count: 7})
			checkCanceled(t, "StageBlockFromURL with a "+c.name+" ctx", err, c.cause)
			err = dt.ing.CommitBlocks(c.ctx, existing, "stage-"+c.name, ids(1), providers.Properties{})
			checkCanceled(t, "CommitBlocks with a "+c.name+" ctx", err, c.cause)
			dt.checkAbsent(t, "after a "+c.name+" PutBlobFromURL", existing, "put-"+c.name)
			dt.checkAbsent(t, "after a "+c.name+" CommitBlocks", existing, "stage-"+c.name)
		}
		if dt.stager != nil {
			err = dt.stager.StageBlock(c.ctx, existing, "block-"+c.name, ids(1)[0], bytes.NewReader([]byte("abc")), 3)
			checkCanceled(t, "StageBlock with a "+c.name+" ctx", err, c.cause)
		}
		if dt.lister != nil {
			_, err = dt.lister.ListContainers(c.ctx, "")
			checkCanceled(t, "ListContainers with a "+c.name+" ctx", err, c.cause)
		}
		// Nothing was created by the canceled call.
		created, err := dt.h.Destination.EnsureContainer(t.Context(), fresh)
		if err != nil || !created {
			t.Errorf("EnsureContainer after a %s one = %v, %v; want true, nil", c.name, created, err)
		}
	}
}

func (dt *destTest) testPutFromURL(t *testing.T) {
	c := dt.container(t)
	d := Data(3*1024+5, 31)
	props := fullProps()
	src := dt.h.ServeURL(t, d, false)
	if err := dt.ing.PutBlobFromURL(t.Context(), c, "dir/blob.txt", src, int64(len(d)), props); err != nil {
		t.Fatalf("PutBlobFromURL: %v", err)
	}
	dt.checkBlob(t, "PutBlobFromURL", c, "dir/blob.txt", d, &props)
	objs, err := ListAllBlobs(t.Context(), dt.h.Destination, c, "")
	if err != nil {
		t.Fatalf("ListBlobs: %v", err)
	}
	if len(objs) != 1 || objs[0].Key != "dir/blob.txt" || objs[0].Size != int64(len(d)) {
		t.Errorf("ListBlobs = %+v, want dir/blob.txt of %d bytes", objs, len(d))
	}
}

func (dt *destTest) testPutEmpty(t *testing.T) {
	c := dt.container(t)
	props := providers.Properties{ContentType: "application/x-empty", Metadata: map[string]string{"empty": "yes"}}
	dt.put(t, c, "empty", nil, props)
	dt.checkBlob(t, "empty PutBlobFromURL", c, "empty", nil, &props)
}

func (dt *destTest) testPutReplace(t *testing.T) {
	c := dt.container(t)
	a, b := Data(2048, 41), Data(700, 42)
	pa := fullProps()
	pb := providers.Properties{ContentType: "application/json", Metadata: map[string]string{"version": "2"}}
	dt.put(t, c, "blob", a, pa)
	dt.checkBlob(t, "first put", c, "blob", a, &pa)
	dt.put(t, c, "blob", b, pb)
	dt.checkBlob(t, "replacing put", c, "blob", b, &pb)
	objs, err := ListAllBlobs(t.Context(), dt.h.Destination, c, "")
	if err != nil {
		t.Fatalf("ListBlobs: %v", err)
	}
	if len(objs) != 1 || objs[0].Key != "blob" || objs[0].Size != int64(len(b)) {
		t.Errorf("ListBlobs after a replace = %+v, want one blob of %d bytes", objs, len(b))
	}
}

func (dt *destTest) testPutRefused(t *testing.T) {
	c := dt.container(t)
	d := []byte("you may not read this")
	src := dt.h.ServeURL(t, d, true)
	err := dt.ing.PutBlobFromURL(t.Context(), c, "refused", src, int64(len(d)), fullProps())
	checkRefused(t, "PutBlobFromURL of a refused source", err)
	dt.checkAbsent(t, "after a refused PutBlobFromURL", c, "refused")
}

// checkRefused fails t unless err says the source could not be read.
func checkRefused(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error", what)
		return
	}
	if k := providers.KindOf(err); k != providers.KindSourceUnreachable && k != providers.KindPermission {
		t.Errorf("%s: kind %v, want source unreachable or permission denied (error: %v)", what, k, err)
	}
}

func (dt *destTest) testPutTooLarge(t *testing.T) {
	c := dt.container(t)
	limit := int64(5000) << 20 // Azure's, when the destination states none
	if l, ok := dt.h.Destination.(providers.Limiter); ok {
		limit = l.Limits().MaxPutBlobFromURL
	}
	src := dt.h.ServeURL(t, []byte("small"), false)
	err := dt.ing.PutBlobFromURL(t.Context(), c, "too-large", src, limit+1, providers.Properties{})
	checkKind(t, fmt.Sprintf("PutBlobFromURL of %d bytes", limit+1), err, providers.KindInvalid)
	dt.checkAbsent(t, "after a too large PutBlobFromURL", c, "too-large")
}

// stageRanges stages d in three uneven ranges, out of order, and returns
// the IDs in content order.
func (dt *destTest) stageRanges(t *testing.T, c, name string, src providers.SourceURL, d []byte) []providers.BlockID {
	t.Helper()
	n := int64(len(d))
	rs := []providers.Range{rng(0, 1000), rng(1000, n/2-1000), rng(n/2, n-n/2)}
	bid := ids(len(rs))
	for _, i := range []int{2, 0, 1} {
		if err := dt.ing.StageBlockFromURL(t.Context(), c, name, bid[i], src, rs[i]); err != nil {
			t.Fatalf("StageBlockFromURL %s %+v: %v", bid[i], rs[i], err)
		}
	}
	return bid
}

func (dt *destTest) testStageFromURL(t *testing.T) {
	c := dt.container(t)
	d := Data(10*1024+3, 51)
	src := dt.h.ServeURL(t, d, false)
	bid := dt.stageRanges(t, c, "blocks/blob", src, d)
	dt.checkAbsent(t, "before CommitBlocks", c, "blocks/blob")
	props := fullProps()
	if err := dt.ing.CommitBlocks(t.Context(), c, "blocks/blob", bid, props); err != nil {
		t.Fatalf("CommitBlocks: %v", err)
	}
	dt.checkBlob(t, "blocks from URL", c, "blocks/blob", d, &props)
}

func (dt *destTest) testStageRefused(t *testing.T) {
	c := dt.container(t)
	src := dt.h.ServeURL(t, Data(2048, 52), true)
	err := dt.ing.StageBlockFromURL(t.Context(), c, "refused", ids(1)[0], src, providers.Range{Offset: 0, Count: 1024})
	checkRefused(t, "StageBlockFromURL of a refused source", err)
	dt.checkAbsent(t, "after a refused StageBlockFromURL", c, "refused")
}

func (dt *destTest) testCommitSubset(t *testing.T) {
	c := dt.container(t)
	d := Data(6000, 61)
	src := dt.h.ServeURL(t, d, false)
	bid := dt.stageRanges(t, c, "subset", src, d)
	// Blocks 0 and 2 in reverse order; block 1 is discarded.
	if err := dt.ing.CommitBlocks(t.Context(), c, "subset", []providers.BlockID{bid[2], bid[0]}, providers.Properties{}); err != nil {
		t.Fatalf("CommitBlocks: %v", err)
	}
	want := append(slices.Clone(d[len(d)/2:]), d[:1000]...)
	dt.checkBlob(t, "commit of a subset", c, "subset", want, nil)
}

func (dt *destTest) testCommitUnknown(t *testing.T) {
	c := dt.container(t)
	d := Data(4000, 62)
	src := dt.h.ServeURL(t, d, false)
	if err := dt.ing.StageBlockFromURL(t.Context(), c, "unknown", ids(1)[0], src, providers.Range{Offset: 0, Count: 4000}); err != nil {
		t.Fatalf("StageBlockFromURL: %v", err)
	}
	err := dt.ing.CommitBlocks(t.Context(), c, "unknown", ids(2), providers.Properties{}) // block 1 never staged
	checkKind(t, "CommitBlocks naming an unstaged block", err, providers.KindInvalid)
	dt.checkAbsent(t, "after a failed CommitBlocks", c, "unknown")
}

func (dt *destTest) testReplaceKeepsOld(t *testing.T) {
	c := dt.container(t)
	old := Data(1500, 71)
	pOld := providers.Properties{ContentType: "text/old", Metadata: map[string]string{"gen": "1"}}
	dt.put(t, c, "blob", old, pOld)
	d := Data(8000, 72)
	src := dt.h.ServeURL(t, d, false)
	bid := dt.stageRanges(t, c, "blob", src, d)
	dt.checkBlob(t, "existing blob while blocks are staged", c, "blob", old, &pOld)
	pNew := providers.Properties{ContentType: "text/new", Metadata: map[string]string{"gen": "2"}}
	if err := dt.ing.CommitBlocks(t.Context(), c, "blob", bid, pNew); err != nil {
		t.Fatalf("CommitBlocks: %v", err)
	}
	dt.checkBlob(t, "blob after commit", c, "blob", d, &pNew)
}

// testTagsTier writes blobs with tags and the Cool tier through
// PutBlobFromURL and through CommitBlocks; StatBlob must show both.
func (dt *destTest) testTagsTier(t *testing.T) {
	c := dt.container(t)
	props := fullProps()
	props.Tags = sampleTags()
	props.Tier = "Cool"
	d := Data(2500, 75)
	src := dt.h.ServeURL(t, d, false)
	if err := dt.ing.PutBlobFromURL(t.Context(), c, "put", src, int64(len(d)), props); err != nil {
		t.Fatalf("PutBlobFromURL with tags and tier: %v", err)
	}
	dt.checkTagsTier(t, "PutBlobFromURL", c, "put", d, props)
	bid := dt.stageRanges(t, c, "committed", src, d)
	if err := dt.ing.CommitBlocks(t.Context(), c, "committed", bid, props); err != nil {
		t.Fatalf("CommitBlocks with tags and tier: %v", err)
	}
	dt.checkTagsTier(t, "CommitBlocks", c, "committed", d, props)
}

// checkTagsTier fails t unless blob name holds d with props, props.Tags
// (TagCount their number, unless -1) and props.Tier.
func (dt *destTest) checkTagsTier(t *testing.T, what, container, name string, d []byte, props providers.Properties) {
	t.Helper()
	dt.checkBlob(t, what, container, name, d, &props)
	info, err := dt.h.Destination.StatBlob(t.Context(), container, name)
	if err != nil {
		t.Errorf("%s: StatBlob: %v", what, err)
		return
	}
	checkTags(t, what+": StatBlob", info.Tags, props.Tags)
	if info.TagCount != -1 && info.TagCount != len(props.Tags) {
		t.Errorf("%s: StatBlob TagCount %d, want %d", what, info.TagCount, len(props.Tags))
	}
	if info.Tier != props.Tier {
		t.Errorf("%s: StatBlob Tier %q, want %q", what, info.Tier, props.Tier)
	}
}

// testListContainers creates three containers sharing a fresh prefix, out
// of order, and a fourth that only shares part of it; ListContainers of
// the prefix must give exactly the three, sorted.
func (dt *destTest) testListContainers(t *testing.T) {
	base := dt.h.NewContainerName(t)
	// Room for "-p-x" within 63 characters, and no "--" where they join.
	prefix := strings.TrimRight(base[:min(len(base), 59)], "-") + "-p-"
	want := []string{prefix + "a", prefix + "b", prefix + "c"}
	decoy := strings.TrimSuffix(prefix, "-") + "x"
	for _, c := range []string{want[2], want[0], decoy, want[1]} {
		if _, err := dt.h.Destination.EnsureContainer(t.Context(), c); err != nil {
			t.Fatalf("EnsureContainer %q: %v", c, err)
		}
	}
	got, err := dt.lister.ListContainers(t.Context(), prefix)
	if err != nil {
		t.Fatalf("ListContainers %q: %v", prefix, err)
	}
	checkKeys(t, fmt.Sprintf("ListContainers %q", prefix), got, want)
	all, err := dt.lister.ListContainers(t.Context(), "")
	if err != nil {
		t.Fatalf("ListContainers of all: %v", err)
	}
	if !slices.IsSorted(all) {
		t.Errorf("ListContainers of all is not sorted: %q", all)
	}
	for _, c := range append(want, decoy) {
		if !slices.Contains(all, c) {
			t.Errorf("ListContainers of all lacks %q", c)
		}
	}
	got, err = dt.lister.ListContainers(t.Context(), prefix+"zz")
	if err != nil || len(got) != 0 {
		t.Errorf("ListContainers of a prefix matching nothing = %q, %v; want none, nil", got, err)
	}
}

func (dt *destTest) testStageBlock(t *testing.T) {
	c := dt.container(t)
	d := Data(9*1024+1, 81)
	bounds := []int{0, 1, 4096, len(d)}
	bid := ids(3)
	for _, i := range []int{1, 2, 0} {
		part := d[bounds[i]:bounds[i+1]]
		if err := dt.stager.StageBlock(t.Context(), c, "streamed", bid[i], bytes.NewReader(part), int64(len(part))); err != nil {
			t.Fatalf("StageBlock %s: %v", bid[i], err)
		}
	}
	dt.checkAbsent(t, "before CommitBlocks", c, "streamed")
	props := fullProps()
	if err := dt.stager.CommitBlocks(t.Context(), c, "streamed", bid, props); err != nil {
		t.Fatalf("CommitBlocks: %v", err)
	}
	dt.checkBlob(t, "streamed blocks", c, "streamed", d, &props)
}

func (dt *destTest) testStagePosition(t *testing.T) {
	c := dt.container(t)
	d := Data(3000, 82)
	r := bytes.NewReader(d)
	if _, err := r.Seek(1000, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	// body is read from its current position, size bytes only.
	if err := dt.stager.StageBlock(t.Context(), c, "positioned", ids(1)[0], r, 1500); err != nil {
		t.Fatalf("StageBlock: %v", err)
	}
	if err := dt.stager.CommitBlocks(t.Context(), c, "positioned", ids(1), providers.Properties{}); err != nil {
		t.Fatalf("CommitBlocks: %v", err)
	}
	dt.checkBlob(t, "block from a positioned reader", c, "positioned", d[1000:2500], nil)
}

func (dt *destTest) testListBlobs(t *testing.T) {
	c := dt.container(t)
	names := []string{"p/7", "p/1", "B", "p/3", "a", "p/2", "q", "p/10", "é"}
	for i, n := range names {
		dt.put(t, c, n, Data(10+i, uint32(90+i)), providers.Properties{})
	}
	all, err := ListAllBlobs(t.Context(), dt.h.Destination, c, "")
	if err != nil {
		t.Fatalf("ListBlobs: %v", err)
	}
	checkKeys(t, "ListBlobs", keysOf(all), sortedUnique(names))
	for _, o := range all {
		i := slices.Index(names, o.Key)
		if i >= 0 && o.Size != int64(10+i) {
			t.Errorf("ListBlobs %q: Size %d, want %d", o.Key, o.Size, 10+i)
		}
		if o.ETag == "" || o.LastModified.Year() < 2000 {
			t.Errorf("ListBlobs %q: ETag %q LastModified %v, want both set", o.Key, o.ETag, o.LastModified)
		}
	}
	// Pagination, alone and with a prefix.
	max := dt.h.MaxResults
	for _, prefix := range []string{"", "p/"} {
		pages := 0
		got, err := listAll(t.Context(), prefix, max, func(o providers.ListOptions) (providers.Page, error) {
			pages++
			p, err := dt.h.Destination.ListBlobs(t.Context(), c, o)
			if len(p.Objects) > max {
				t.Errorf("ListBlobs page of %d blobs, more than MaxResults %d", len(p.Objects), max)
			}
			return p, err
		})
		if err != nil {
			t.Fatalf("paginated ListBlobs prefix %q: %v", prefix, err)
		}
		var want []string
		for _, n := range sortedUnique(names) {
			if len(n) >= len(prefix) && n[:len(prefix)] == prefix {
				want = append(want, n)
			}
		}
		checkKeys(t, fmt.Sprintf("paginated ListBlobs prefix %q", prefix), keysOf(got), want)
		if len(want) > max && pages < 2 {
			t.Errorf("ListBlobs of %d blobs %d a page took %d page(s)", len(want), max, pages)
		}
	}
	p, err := dt.h.Destination.ListBlobs(t.Context(), c, providers.ListOptions{Prefix: "nomatch/"})
	if err != nil || len(p.Objects) != 0 || p.Next != "" {
		t.Errorf("ListBlobs of a prefix matching nothing = %q, Next %q, err %v; want empty, \"\", nil", keysOf(p.Objects), p.Next, err)
	}
}

func (dt *destTest) testAwkward(t *testing.T) {
	c := dt.container(t)
	names := awkwardKeys(t, dt.h.SkipKey, DestinationSafe)
	byName := map[string][]byte{}
	for i, n := range names {
		d := Data(50+13*i, uint32(200+i))
		byName[n] = d
		dt.put(t, c, n, d, providers.Properties{ContentType: "text/plain"})
	}
	all, err := ListAllBlobs(t.Context(), dt.h.Destination, c, "")
	if err != nil {
		t.Fatalf("ListBlobs: %v", err)
	}
	checkKeys(t, "ListBlobs of awkward names", keysOf(all), sortedUnique(names))
	for _, n := range names {
		dt.checkBlob(t, fmt.Sprintf("awkward name %q", n), c, n, byName[n], nil)
	}
}

// testSourceChanged serves an object, takes its ETag as a listing would,
// then changes the object: every fetch conditional on the old ETag must
// fail with Precondition (not retryable), commit nothing and stage nothing,
// while fetches made before the change succeed, which also proves the
// destination sends the condition in a form S3 accepts.
func (dt *destTest) testSourceChanged(t *testing.T) {
	c := dt.container(t)
	d1, d2 := Data(4096, 111), Data(4096, 112)
	src, replace := dt.h.ServeChangingURL(t, d1)
	if src.IfMatch == "" {
		t.Fatal("ServeChangingURL gave a SourceURL without IfMatch")
	}
	p1 := providers.Properties{ContentType: "text/v1"}
	if err := dt.ing.PutBlobFromURL(t.Context(), c, "kept", src, int64(len(d1)), p1); err != nil {
		t.Fatalf("PutBlobFromURL of an unchanged source: %v", err)
	}
	dt.checkBlob(t, "PutBlobFromURL of an unchanged source", c, "kept", d1, &p1)
	bid := ids(2)
	if err := dt.ing.StageBlockFromURL(t.Context(), c, "blocks", bid[0], src, rng(0, 2048)); err != nil {
		t.Fatalf("StageBlockFromURL of an unchanged source: %v", err)
	}

	replace(d2)
	checkChanged := func(what string, err error) {
		t.Helper()
		checkKind(t, what, err, providers.KindPrecondition)
		if providers.IsRetryable(err) {
			t.Errorf("%s: a changed source is retryable: %v", what, err)
		}
	}
	err := dt.ing.PutBlobFromURL(t.Context(), c, "new", src, int64(len(d2)), providers.Properties{})
	checkChanged("PutBlobFromURL of a changed source", err)
	dt.checkAbsent(t, "after PutBlobFromURL of a changed source", c, "new")
	err = dt.ing.PutBlobFromURL(t.Context(), c, "kept", src, int64(len(d2)), providers.Properties{ContentType: "text/v2"})
	checkChanged("PutBlobFromURL of a changed source over a blob", err)
	dt.checkBlob(t, "blob after a replacing PutBlobFromURL of a changed source", c, "kept", d1, &p1)
	err = dt.ing.StageBlockFromURL(t.Context(), c, "blocks", bid[1], src, rng(2048, 2048))
	checkChanged("StageBlockFromURL of a changed source", err)
	if dt.blocks != nil {
		got, err := dt.blocks.UncommittedBlocks(t.Context(), c, "blocks")
		if err != nil || !slices.Equal(got, bid[:1]) {
			t.Errorf("UncommittedBlocks after a refused block = %q, %v; want %q", got, err, bid[:1])
		}
	}
	// The refused block was not staged: a commit naming it fails and
	// commits nothing; the block staged before the change is intact.
	err = dt.ing.CommitBlocks(t.Context(), c, "blocks", bid, providers.Properties{})
	checkKind(t, "CommitBlocks naming the refused block", err, providers.KindInvalid)
	dt.checkAbsent(t, "after CommitBlocks naming the refused block", c, "blocks")
	if err := dt.ing.CommitBlocks(t.Context(), c, "blocks", bid[:1], providers.Properties{}); err != nil {
		t.Fatalf("CommitBlocks of the block staged before the change: %v", err)
	}
	dt.checkBlob(t, "block staged before the change", c, "blocks", d1[:2048], nil)
}

// stage stages bytes r of d as block id of blob name through the
// capability the destination has.
func (dt *destTest) stage(t *testing.T, container, name string, id providers.BlockID, d []byte, r providers.Range) {
	t.Helper()
	var err error
	if dt.stager != nil {
		part := d[r.Offset : r.Offset+r.Count]
		err = dt.stager.StageBlock(t.Context(), container, name, id, bytes.NewReader(part), r.Count)
	} else {
		err = dt.ing.StageBlockFromURL(t.Context(), container, name, id, dt.h.ServeURL(t, d, false), r)
	}
	if err != nil {
		t.Fatalf("staging block %s of %q: %v", id, name, err)
	}
}

// testUncommitted stages two of three blocks and expects UncommittedBlocks
// to list exactly those two (in any order), then none after the commit.
func (dt *destTest) testUncommitted(t *testing.T) {
	c := dt.container(t)
	got, err := dt.blocks.UncommittedBlocks(t.Context(), c, "resume")
	if err != nil || len(got) != 0 {
		t.Errorf("UncommittedBlocks of a missing blob = %q, %v; want none, nil", got, err)
	}
	d := Data(6000, 121)
	rs := []providers.Range{rng(0, 2000), rng(2000, 2000), rng(4000, 2000)}
	bid := ids(3)
	for _, i := range []int{2, 0} {
		dt.stage(t, c, "resume", bid[i], d, rs[i])
	}
	dt.checkAbsent(t, "with blocks staged", c, "resume")
	got, err = dt.blocks.UncommittedBlocks(t.Context(), c, "resume")
	if err != nil {
		t.Fatalf("UncommittedBlocks: %v", err)
	}
	slices.Sort(got)
	if want := []providers.BlockID{bid[0], bid[2]}; !slices.Equal(got, want) {
		t.Errorf("UncommittedBlocks = %q, want %q in any order", got, want)
	}
	// Another blob's blocks are its own.
	if other, err := dt.blocks.UncommittedBlocks(t.Context(), c, "resume2"); err != nil || len(other) != 0 {
		t.Errorf("UncommittedBlocks of another name = %q, %v; want none, nil", other, err)
	}
	dt.stage(t, c, "resume", bid[1], d, rs[1])
	if err := dt.h.Destination.(providers.BlockCommitter).CommitBlocks(t.Context(), c, "resume", bid, providers.Properties{}); err != nil {
		t.Fatalf("CommitBlocks: %v", err)
	}
	dt.checkBlob(t, "blob of resumed blocks", c, "resume", d, nil)
	got, err = dt.blocks.UncommittedBlocks(t.Context(), c, "resume")
	if err != nil || len(got) != 0 {
		t.Errorf("UncommittedBlocks after the commit = %q, %v; want none, nil", got, err)
	}
	_, err = dt.blocks.UncommittedBlocks(t.Context(), dt.h.NewContainerName(t), "resume")
	checkKind(t, "UncommittedBlocks in a missing container", err, providers.KindNotFound)
	_, err = dt.blocks.UncommittedBlocks(canceledCtx(t), c, "resume")
	checkCanceled(t, "UncommittedBlocks with a canceled ctx", err, context.Canceled)
}
