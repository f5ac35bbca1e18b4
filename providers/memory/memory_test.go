package memory_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/migrate-tool/migrate/providers"
	"github.com/migrate-tool/migrate/providers/memory"
	"github.com/migrate-tool/migrate/providers/providertest"
)

// serve puts s's Handler behind a test server and sets its base URL.
func serve(t *testing.T, s *memory.Store) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	s.SetBaseURL(srv.URL)
	return srv
}

// fetch GETs u with an optional Range header, bytes as sent.
func fetch(t *testing.T, u, rangeHeader string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", "identity")
	if rangeHeader != "" {
		req.Header.Set("Range", rangeHeader)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET body: %v", err)
	}
	return resp.StatusCode, body
}

var names atomic.Int64

func newName(prefix string) string { return fmt.Sprintf("%s-%d", prefix, names.Add(1)) }

func TestSource(t *testing.T) {
	s := memory.New(memory.Options{})
	serve(t, s)
	providertest.TestSource(t, providertest.SourceHarness{
		Source: s,
		NewBucket: func(t *testing.T, objs []providertest.SeedObject) string {
			b := newName("src")
			s.CreateBucket(b, "")
			for _, o := range objs {
				s.Put(b, o.Key, o.Data, o.Props)
			}
			return b
		},
		Fetch: fetch,
	})
}

// sourceService is a second store standing in for the service a
// destination pulls from.
type sourceService struct {
	s *memory.Store
}

func newSourceService(t *testing.T) *sourceService {
	s := memory.New(memory.Options{})
	serve(t, s)
	s.CreateBucket("source", "")
	return &sourceService{s: s}
}

// serveURL presigns data; refuse gives a URL whose signature is wrong, so
// the source answers 403.
func (ss *sourceService) serveURL(t *testing.T, data []byte, refuse bool) providers.SourceURL {
	t.Helper()
	key := newName("obj")
	ss.s.Put("source", key, data, providers.Properties{})
	su, err := ss.s.PresignGet(t.Context(), "source", providers.Object{Key: key}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if refuse {
		u, _, err := providertest.TamperSignature(su.URL.Reveal())
		if err != nil {
			t.Fatal(err)
		}
		su.URL = providers.Secret(u)
	}
	return su
}

// serveChangingURL presigns data with its ETag as IfMatch, as a listing
// would give it; replace overwrites the object.
func (ss *sourceService) serveChangingURL(t *testing.T, data []byte) (providers.SourceURL, func([]byte)) {
	t.Helper()
	key := newName("obj")
	ss.s.Put("source", key, data, providers.Properties{})
	info, err := ss.s.Stat(t.Context(), "source", key)
	if err != nil {
		t.Fatal(err)
	}
	su, err := ss.s.PresignGet(t.Context(), "source", info.Object, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return su, func(d []byte) { ss.s.Put("source", key, d, providers.Properties{}) }
}

func TestDestination(t *testing.T) {
	ss := newSourceService(t)
	d := memory.New(memory.Options{})
	providertest.TestDestination(t, providertest.DestinationHarness{
		Destination:      d,
		NewContainerName: func(t *testing.T) string { return newName("dst") },
		ServeURL:         ss.serveURL,
		ServeChangingURL: ss.serveChangingURL,
		ReadBlob: func(t *testing.T, container, name string) []byte {
			t.Helper()
			data, _, ok := d.Get(container, name)
			if !ok {
				t.Errorf("ReadBlob %s/%s: no such blob", container, name)
			}
			return data
		},
	})
	if ss.s.BytesServed() == 0 {
		t.Error("the destination fetched nothing from the source service")
	}
}

func TestPresignWithoutBaseURL(t *testing.T) {
	s := memory.New(memory.Options{})
	s.Put("b", "k", []byte("x"), providers.Properties{})
	_, err := s.PresignGet(t.Context(), "b", providers.Object{Key: "k"}, time.Minute)
	if !errors.Is(err, providers.ErrCantServerSide) {
		t.Errorf("PresignGet without a base URL = %v, want ErrCantServerSide", err)
	}
}

func TestFaultInjection(t *testing.T) {
	boom := &providers.Error{Kind: providers.KindThrottled, Op: "injected"}
	var mu sync.Mutex
	var seen []string
	s := memory.New(memory.Options{Fault: func(op, where string) error {
		mu.Lock()
		seen = append(seen, op+" "+where)
		mu.Unlock()
		if (op == "Stat" && where == "b/bad") || op == "ListBlobs" || op == "Serve" {
			return boom
		}
		return nil
	}})
	serve(t, s)
	s.Put("b", "good", []byte("ok"), providers.Properties{})
	s.Put("b", "bad", []byte("no"), providers.Properties{})
	ctx := t.Context()
	if _, err := s.Stat(ctx, "b", "good"); err != nil {
		t.Errorf("Stat good: %v", err)
	}
	if _, err := s.Stat(ctx, "b", "bad"); err != boom {
		t.Errorf("Stat bad = %v, want the injected error as is", err)
	}
	if _, err := s.ListBlobs(ctx, "b", providers.ListOptions{}); err != boom {
		t.Errorf("ListBlobs = %v, want the injected error", err)
	}
	// The fault wins over a canceled ctx: it runs first.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Stat(cctx, "b", "bad"); err != boom {
		t.Errorf("Stat bad with a canceled ctx = %v, want the injected error", err)
	}
	// Handler: an injected fault becomes the status of its kind.
	su, err := s.PresignGet(ctx, "b", providers.Object{Key: "bad"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if status, _ := fetch(t, su.URL.Reveal(), ""); status != http.StatusServiceUnavailable {
		t.Errorf("GET of a faulted object: HTTP %d, want 503", status)
	}
	// A destination pulling that URL sees a throttled source.
	dst := memory.New(memory.Options{})
	dst.CreateBucket("c", "")
	err = dst.PutBlobFromURL(ctx, "c", "x", su, 2, providers.Properties{})
	if k := providers.KindOf(err); k != providers.KindThrottled || providers.CodeOf(err) != "CannotVerifyCopySource" {
		t.Errorf("PutBlobFromURL of a 503 source = %v (kind %v), want throttled CannotVerifyCopySource", err, k)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"Stat b/good", "Stat b/bad", "ListBlobs b", "Stat b/bad", "PresignGet b/bad", "Serve b/bad", "Serve b/bad"}
	if strings.Join(seen, "|") != strings.Join(want, "|") {
		t.Errorf("fault hook saw %q, want %q", seen, want)
	}
}

func TestCountersAndNoPayloadThroughCaller(t *testing.T) {
	src := memory.New(memory.Options{})
	serve(t, src)
	data := bytes.Repeat([]byte("0123456789"), 1000)
	src.Put("b", "obj", data, providers.Properties{})
	dst := memory.New(memory.Options{})
	ctx := t.Context()
	if _, err := dst.EnsureContainer(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	su, err := src.PresignGet(ctx, "b", providers.Object{Key: "obj"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	ids := []providers.BlockID{"b0", "b1"}
	if err := dst.StageBlockFromURL(ctx, "c", "blob", ids[0], su, providers.Range{Offset: 0, Count: 4000}); err != nil {
		t.Fatal(err)
	}
	if err := dst.StageBlockFromURL(ctx, "c", "blob", ids[1], su, providers.Range{Offset: 4000, Count: 6000}); err != nil {
		t.Fatal(err)
	}
	if err := dst.CommitBlocks(ctx, "c", "blob", ids, providers.Properties{}); err != nil {
		t.Fatal(err)
	}
	got, _, _ := dst.Get("c", "blob")
	if !bytes.Equal(got, data) {
		t.Error("blob differs from the source")
	}
	if n := src.BytesServed(); n != int64(len(data)) {
		t.Errorf("BytesServed = %d, want %d", n, len(data))
	}
	for op, want := range map[string]int{"PresignGet": 1, "EnsureContainer": 0, "Serve": 2} {
		if n := src.Calls(op); n != want {
			t.Errorf("src.Calls(%s) = %d, want %d", op, n, want)
		}
	}
	for op, want := range map[string]int{"EnsureContainer": 1, "StageBlockFromURL": 2, "CommitBlocks": 1, "PutBlobFromURL": 0} {
		if n := dst.Calls(op); n != want {
			t.Errorf("dst.Calls(%s) = %d, want %d", op, n, want)
		}
	}
}

func TestLimits(t *testing.T) {
	s := memory.New(memory.Options{})
	if got := s.Limits(); got != memory.DefaultLimits {
		t.Errorf("default Limits = %+v, want %+v", got, memory.DefaultLimits)
	}
	src := memory.New(memory.Options{})
	serve(t, src)
	src.Put("b", "obj", make([]byte, 100), providers.Properties{})
	su, err := src.PresignGet(t.Context(), "b", providers.Object{Key: "obj"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	d := memory.New(memory.Options{Limits: providers.Limits{MaxPutBlobFromURL: 50, MaxBlockSize: 40, MaxBlocks: 2}})
	d.CreateBucket("c", "")
	ctx := t.Context()
	served := src.BytesServed()
	check := func(what string, err error, k providers.Kind) {
		t.Helper()
		if providers.KindOf(err) != k {
			t.Errorf("%s = %v, want kind %v", what, err, k)
		}
	}
	check("PutBlobFromURL over the limit", d.PutBlobFromURL(ctx, "c", "x", su, 100, providers.Properties{}), providers.KindInvalid)
	check("StageBlockFromURL over the block limit", d.StageBlockFromURL(ctx, "c", "x", "b0", su, providers.Range{Offset: 0, Count: 41}), providers.KindInvalid)
	check("StageBlock over the block limit", d.StageBlock(ctx, "c", "x", "b0", bytes.NewReader(make([]byte, 41)), 41), providers.KindInvalid)
	if src.BytesServed() != served {
		t.Error("a refused request fetched the source")
	}
	// A source larger than the caller said is caught too.
	src.Put("b", "small", make([]byte, 20), providers.Properties{})
	small, err := src.PresignGet(ctx, "b", providers.Object{Key: "small"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	check("PutBlobFromURL of the wrong size", d.PutBlobFromURL(ctx, "c", "x", small, 10, providers.Properties{}), providers.KindPrecondition)
	for i, id := range []providers.BlockID{"b0", "b1", "b2"} {
		if err := d.StageBlock(ctx, "c", "x", id, bytes.NewReader([]byte{byte(i)}), 1); err != nil {
			t.Fatal(err)
		}
	}
	check("StageBlock with a block ID of another length", d.StageBlock(ctx, "c", "x", "b10", bytes.NewReader([]byte{1}), 1), providers.KindInvalid)
	check("CommitBlocks over the block count", d.CommitBlocks(ctx, "c", "x", []providers.BlockID{"b0", "b1", "b2"}, providers.Properties{}), providers.KindInvalid)
	if err := d.CommitBlocks(ctx, "c", "x", []providers.BlockID{"b2", "b0"}, providers.Properties{}); err != nil {
		t.Fatal(err)
	}
	// Committed blocks can be listed again (Azure's "Latest").
	if err := d.StageBlock(ctx, "c", "x", "b3", bytes.NewReader([]byte{3}), 1); err != nil {
		t.Fatal(err)
	}
	if err := d.CommitBlocks(ctx, "c", "x", []providers.BlockID{"b0", "b3"}, providers.Properties{}); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := d.Get("c", "x"); !bytes.Equal(got, []byte{0, 3}) {
		t.Errorf("blob = %v, want [0 3]", got)
	}
	// Staged blocks were discarded by the commit.
	check("CommitBlocks of a discarded block", d.CommitBlocks(ctx, "c", "x", []providers.BlockID{"b1"}, providers.Properties{}), providers.KindInvalid)
	d.SetLimits(providers.Limits{MaxBlocks: 7})
	if got := d.Limits(); got.MaxBlocks != 7 || got.MaxBlockSize != memory.DefaultLimits.MaxBlockSize {
		t.Errorf("Limits after SetLimits = %+v", got)
	}
}

func TestTagsAndTiers(t *testing.T) {
	src := memory.New(memory.Options{})
	serve(t, src)
	// A source object keeps tags Azure would refuse ('@' is valid in S3).
	s3Tags := map[string]string{"owner": "a@b.example", "team": "data eng"}
	src.Put("b", "obj", []byte("payload"), providers.Properties{Tags: s3Tags})
	src.Put("b", "bare", []byte("x"), providers.Properties{})
	s3Tags["owner"] = "changed" // Put copied the map
	info, err := src.Stat(t.Context(), "b", "obj")
	if err != nil || info.TagCount != 2 || info.Tags != nil || info.Tier != "" {
		t.Errorf("Stat = TagCount %d Tags %v Tier %q, %v; want 2, nil, \"\"", info.TagCount, info.Tags, info.Tier, err)
	}
	tags, err := src.Tags(t.Context(), "b", info.Object)
	if err != nil || len(tags) != 2 || tags["owner"] != "a@b.example" || tags["team"] != "data eng" {
		t.Errorf("Tags = %v, %v", tags, err)
	}
	tags["owner"] = "mutated" // the caller's copy
	if again, _ := src.Tags(t.Context(), "b", info.Object); again["owner"] != "a@b.example" {
		t.Error("Tags returned the store's own map")
	}
	if tags, err := src.Tags(t.Context(), "b", providers.Object{Key: "bare"}); err != nil || tags != nil {
		t.Errorf("Tags of an untagged object = %v, %v; want nil, nil", tags, err)
	}
	if _, err := src.Tags(t.Context(), "nobucket", providers.Object{Key: "obj"}); providers.KindOf(err) != providers.KindNotFound {
		t.Errorf("Tags in a missing bucket = %v", err)
	}

	// Blob writes apply Azure's rules before fetching anything.
	su, err := src.PresignGet(t.Context(), "b", providers.Object{Key: "obj"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	d := memory.New(memory.Options{})
	d.CreateBucket("c", "")
	eleven := map[string]string{}
	for i := range 11 {
		eleven[fmt.Sprintf("k%d", i)] = "v"
	}
	served := src.BytesServed()
	for _, c := range []struct {
		name  string
		props providers.Properties
		code  string
	}{
		{"a character Azure refuses", providers.Properties{Tags: map[string]string{"owner": "a@b"}}, "InvalidTag"},
		{"a non-ASCII key", providers.Properties{Tags: map[string]string{"clé": "v"}}, "InvalidTag"},
		{"11 tags", providers.Properties{Tags: eleven}, "TagsTooLarge"},
		{"an empty key", providers.Properties{Tags: map[string]string{"": "v"}}, "TagsTooLarge"},
		{"a 129-character key", providers.Properties{Tags: map[string]string{strings.Repeat("k", 129): "v"}}, "TagsTooLarge"},
		{"a 257-character value", providers.Properties{Tags: map[string]string{"k": strings.Repeat("v", 257)}}, "TagsTooLarge"},
		{"an unknown tier", providers.Properties{Tier: "Lukewarm"}, "InvalidHeaderValue"},
	} {
		for op, err := range map[string]error{
			"PutBlobFromURL": d.PutBlobFromURL(t.Context(), "c", "x", su, 7, c.props),
			"CommitBlocks":   d.CommitBlocks(t.Context(), "c", "x", nil, c.props),
		} {
			if providers.KindOf(err) != providers.KindInvalid || providers.CodeOf(err) != c.code {
				t.Errorf("%s with %s = %v, want Invalid %s", op, c.name, err, c.code)
			}
		}
	}
	if src.BytesServed() != served {
		t.Error("a refused PutBlobFromURL fetched the source")
	}
	if _, _, ok := d.Get("c", "x"); ok {
		t.Error("a refused write created the blob")
	}
	// Limits are inclusive; a tier's case is Azure's, whatever was sent.
	ok := map[string]string{"+-./:=_ Az09": "", strings.Repeat("k", 128): strings.Repeat("v", 256)}
	for i := len(ok); i < 10; i++ {
		ok[fmt.Sprintf("k%d", i)] = "v"
	}
	if err := d.PutBlobFromURL(t.Context(), "c", "x", su, 7, providers.Properties{Tags: ok, Tier: "archive"}); err != nil {
		t.Fatal(err)
	}
	info, err = d.StatBlob(t.Context(), "c", "x")
	if err != nil || len(info.Tags) != 10 || info.TagCount != 10 || info.Tier != "Archive" || info.Tags["+-./:=_ Az09"] != "" {
		t.Errorf("StatBlob = Tags %q TagCount %d Tier %q, %v", info.Tags, info.TagCount, info.Tier, err)
	}
	// Replacing a blob replaces its tags and tier.
	if err := d.CommitBlocks(t.Context(), "c", "x", nil, providers.Properties{}); err != nil {
		t.Fatal(err)
	}
	if info, err := d.StatBlob(t.Context(), "c", "x"); err != nil || info.Tags != nil || info.TagCount != 0 || info.Tier != "" {
		t.Errorf("StatBlob after a replace without tags = Tags %v TagCount %d Tier %q, %v", info.Tags, info.TagCount, info.Tier, err)
	}
}

func TestListContainers(t *testing.T) {
	s := memory.New(memory.Options{})
	for _, c := range []string{"logs-b", "data", "logs-a", "logs", "logsx"} {
		if _, err := s.EnsureContainer(t.Context(), c); err != nil {
			t.Fatal(err)
		}
	}
	s.Put("logs-c", "k", nil, providers.Properties{}) // a source bucket is a container too
	for prefix, want := range map[string]string{
		"":      "[data logs logs-a logs-b logs-c logsx]",
		"logs-": "[logs-a logs-b logs-c]",
		"nope":  "[]",
	} {
		got, err := s.ListContainers(t.Context(), prefix)
		if err != nil || fmt.Sprint(got) != want {
			t.Errorf("ListContainers(%q) = %v, %v; want %s", prefix, got, err, want)
		}
	}
}

func TestSourceErrorKinds(t *testing.T) {
	for _, c := range []struct {
		status int
		kind   providers.Kind
	}{
		{401, providers.KindSourceUnreachable},
		{403, providers.KindSourceUnreachable},
		{404, providers.KindNotFound},
		{412, providers.KindPrecondition},
		{429, providers.KindThrottled},
		{500, providers.KindTransient},
		{503, providers.KindThrottled},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(c.status)
			fmt.Fprint(w, "<Error><Code>Whatever</Code></Error>")
		}))
		d := memory.New(memory.Options{Client: srv.Client()})
		d.CreateBucket("c", "")
		su := providers.SourceURL{URL: providers.Secret(srv.URL + "/x?Signature=s3cr3t")}
		err := d.PutBlobFromURL(t.Context(), "c", "x", su, 1, providers.Properties{})
		var pe *providers.Error
		if !errors.As(err, &pe) || pe.Kind != c.kind || pe.Code != "CannotVerifyCopySource" || pe.Status != c.status {
			t.Errorf("source HTTP %d: %#v, want kind %v, CannotVerifyCopySource", c.status, err, c.kind)
		} else if !strings.Contains(pe.Msg, fmt.Sprint(c.status)) || strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("source HTTP %d: message %q", c.status, err.Error())
		}
		srv.Close()
	}
	// An unreachable host.
	d := memory.New(memory.Options{})
	d.CreateBucket("c", "")
	err := d.PutBlobFromURL(t.Context(), "c", "x", providers.SourceURL{URL: "http://127.0.0.1:1/x?Signature=s3cr3t"}, 1, providers.Properties{})
	if providers.KindOf(err) != providers.KindSourceUnreachable || strings.Contains(fmt.Sprint(err), "s3cr3t") {
		t.Errorf("unreachable source = %v", err)
	}
}

func TestListTokensSurviveWrites(t *testing.T) {
	s := memory.New(memory.Options{PageSize: 2})
	for _, k := range []string{"a", "c", "e", "g"} {
		s.Put("b", k, nil, providers.Properties{})
	}
	ctx := t.Context()
	p, err := s.List(ctx, "b", providers.ListOptions{})
	if err != nil || len(p.Objects) != 2 || p.Next == "" {
		t.Fatalf("first page = %+v, %v", p, err)
	}
	s.Put("b", "d", nil, providers.Properties{})
	s.Put("b", "b", nil, providers.Properties{}) // before the token: not seen
	s.Delete("b", "e")
	got, err := providertest.ListAll(ctx, s, "b", "")
	if err != nil || len(got) != 5 {
		t.Fatalf("ListAll = %v, %v", got, err)
	}
	rest, err := s.List(ctx, "b", providers.ListOptions{Token: p.Next, MaxResults: 10})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range rest.Objects {
		keys = append(keys, o.Key)
	}
	if strings.Join(keys, ",") != "d,g" {
		t.Errorf("rest after writes = %v, want d,g", keys)
	}
	if _, err := s.List(ctx, "b", providers.ListOptions{Token: "garbage!"}); providers.KindOf(err) != providers.KindInvalid {
		t.Errorf("List with a bad token = %v, want invalid", err)
	}
}

func TestConcurrentUse(t *testing.T) {
	s := memory.New(memory.Options{})
	serve(t, s)
	ctx := t.Context()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				key := fmt.Sprintf("g%d/%03d", g, i)
				s.Put("b", key, []byte(key), providers.Properties{})
				if _, err := s.Stat(ctx, "b", key); err != nil {
					t.Error(err)
				}
				if _, err := s.List(ctx, "b", providers.ListOptions{Prefix: fmt.Sprintf("g%d/", g)}); err != nil {
					t.Error(err)
				}
				if i%10 == 0 {
					su, err := s.PresignGet(ctx, "b", providers.Object{Key: key}, time.Minute)
					if err != nil {
						t.Error(err)
						continue
					}
					if status, body := fetch(t, su.URL.Reveal(), ""); status != 200 || string(body) != key {
						t.Errorf("GET %s: %d %q", key, status, body)
					}
				}
			}
		}()
	}
	wg.Wait()
	all, err := providertest.ListAll(ctx, s, "b", "")
	if err != nil || len(all) != 400 {
		t.Errorf("ListAll = %d objects, %v; want 400", len(all), err)
	}
}

func TestManyObjects(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	const n = 100000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s := memory.New(memory.Options{})
	start := time.Now()
	for i := range n {
		s.Put("b", fmt.Sprintf("obj/%08d", i), []byte{byte(i)}, providers.Properties{})
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	t.Logf("put %d objects in %v, %d heap bytes each", n, time.Since(start), (after.HeapAlloc-before.HeapAlloc)/n)
	start = time.Now()
	all, err := providertest.ListAll(t.Context(), s, "b", "")
	if err != nil || len(all) != n {
		t.Fatalf("ListAll = %d, %v", len(all), err)
	}
	t.Logf("listed them in %v", time.Since(start))
	runtime.KeepAlive(s)
}

// Handler honours If-Match as S3 does: the ETag quoted or not, "*", or a
// list; anything else is 412 PreconditionFailed.
func TestHandlerIfMatch(t *testing.T) {
	s := memory.New(memory.Options{})
	serve(t, s)
	s.Put("b", "k", []byte("abc"), providers.Properties{})
	su, err := s.PresignGet(t.Context(), "b", providers.Object{Key: "k", ETag: "900150983cd24fb0d6963f7d28e17f72"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if su.IfMatch != "900150983cd24fb0d6963f7d28e17f72" {
		t.Errorf("IfMatch %q, want the object's ETag", su.IfMatch)
	}
	for _, c := range []struct {
		ifMatch string
		want    int
	}{
		{`"900150983cd24fb0d6963f7d28e17f72"`, http.StatusOK},
		{`900150983cd24fb0d6963f7d28e17f72`, http.StatusOK},
		{`*`, http.StatusOK},
		{`"0123", "900150983cd24fb0d6963f7d28e17f72"`, http.StatusOK},
		{`"0123"`, http.StatusPreconditionFailed},
		{`900150983cd24fb0d6963f7d28e17f73`, http.StatusPreconditionFailed},
	} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, su.URL.Reveal(), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("If-Match", c.ifMatch)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("If-Match %s: HTTP %d, want %d", c.ifMatch, resp.StatusCode, c.want)
		}
		if c.want == http.StatusPreconditionFailed && !strings.Contains(string(body), "<Code>PreconditionFailed</Code>") {
			t.Errorf("If-Match %s: body %q lacks PreconditionFailed", c.ifMatch, body)
		}
	}
}

// TestListedMD5AndDeleteBlob: ListBlobs gives each blob's Content-MD5, as
// Azure does, and List (an S3 listing) gives none; DeleteBlob removes a
// blob and its staged blocks, and a missing one is NotFound.
func TestListedMD5AndDeleteBlob(t *testing.T) {
	ctx := context.Background()
	s := memory.New(memory.Options{})
	md5 := bytes.Repeat([]byte{7}, 16)
	s.Put("c", "with", []byte("a"), providers.Properties{ContentMD5: md5})
	s.Put("c", "without", []byte("b"), providers.Properties{})
	blobs, err := s.ListBlobs(ctx, "c", providers.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(blobs.Objects) != 2 || !bytes.Equal(blobs.Objects[0].ListedMD5, md5) || blobs.Objects[1].ListedMD5 != nil {
		t.Errorf("ListBlobs: %+v", blobs.Objects)
	}
	objs, err := s.List(ctx, "c", providers.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs.Objects {
		if o.ListedMD5 != nil {
			t.Errorf("List gave %q a ListedMD5", o.Key)
		}
	}

	if err := s.StageBlock(ctx, "c", "with", "b1", bytes.NewReader([]byte("x")), 1); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteBlob(ctx, "c", "with"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StatBlob(ctx, "c", "with"); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("StatBlob after DeleteBlob: %v", err)
	}
	if ids, _ := s.UncommittedBlocks(ctx, "c", "with"); len(ids) != 0 {
		t.Errorf("staged blocks survive DeleteBlob: %q", ids)
	}
	if err := s.DeleteBlob(ctx, "c", "with"); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("deleting a missing blob: %v", err)
	}
	if err := s.DeleteBlob(ctx, "nope", "x"); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("deleting in a missing container: %v", err)
	}
	blobs, _ = s.ListBlobs(ctx, "c", providers.ListOptions{})
	if len(blobs.Objects) != 1 || blobs.Objects[0].Key != "without" || s.Calls("DeleteBlob") != 3 {
		t.Errorf("after delete: %+v, %d calls", blobs.Objects, s.Calls("DeleteBlob"))
	}
}

func TestListAfter(t *testing.T) {
	s := memory.New(memory.Options{PageSize: 2})
	keys := []string{"a", "b/1", "b/2", "b/3", "c", "d"}
	for _, k := range keys {
		s.Put("b", k, nil, providers.Properties{})
	}
	ctx := t.Context()
	for _, tc := range []struct{ prefix, after, want string }{
		{"", "", "a,b/1,b/2,b/3,c,d"},
		{"", "b/1", "b/2,b/3,c,d"},
		{"", "b/", "b/1,b/2,b/3,c,d"},
		{"", "bz", "c,d"},
		{"", "d", ""},
		{"b/", "a", "b/1,b/2,b/3"},
		{"b/", "b/2", "b/3"},
		{"b/", "c", ""},
	} {
		p, err := s.ListAfter(ctx, "b", providers.ListOptions{Prefix: tc.prefix, Token: "ignored"}, tc.after)
		var got []string
		for err == nil {
			for _, o := range p.Objects {
				got = append(got, o.Key)
			}
			if p.Next == "" {
				break
			}
			p, err = s.List(ctx, "b", providers.ListOptions{Prefix: tc.prefix, Token: p.Next})
		}
		if err != nil || strings.Join(got, ",") != tc.want {
			t.Errorf("prefix %q after %q: %v, %v; want %s", tc.prefix, tc.after, got, err, tc.want)
		}
	}
	if _, err := s.ListAfter(ctx, "absent", providers.ListOptions{}, "a"); providers.KindOf(err) != providers.KindNotFound {
		t.Errorf("ListAfter of a missing bucket: %v", err)
	}
	if n := s.Calls("ListAfter"); n != 9 {
		t.Errorf("%d ListAfter calls counted, want 9", n)
	}
}
