package memory

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/migrate-tool/migrate/providers"
)

// EnsureContainer creates the container (bucket) when missing, in the
// Store's default region.
func (s *Store) EnsureContainer(ctx context.Context, container string) (bool, error) {
	const op = "EnsureContainer"
	if err := s.begin(ctx, op, container); err != nil {
		return false, err
	}
	if container == "" {
		return false, invalid(op, container, "InvalidResourceName", "empty container name")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.buckets[container]; ok {
		return false, nil
	}
	s.buckets[container] = newBucket(s.opts.Region)
	return true, nil
}

// StatBlob returns a committed blob's info, with its tags (TagCount is
// their number) and tier ("" when none was set; Azure would report the
// account default); uncommitted blocks are not a blob.
func (s *Store) StatBlob(ctx context.Context, container, name string) (providers.ObjectInfo, error) {
	return s.stat(ctx, "StatBlob", "ContainerNotFound", "BlobNotFound", container, name)
}

// ListContainers returns the names of the containers (buckets: the Store
// has one namespace for both) starting with prefix, in ascending byte
// order.
func (s *Store) ListContainers(ctx context.Context, prefix string) ([]string, error) {
	if err := s.begin(ctx, "ListContainers", prefix); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for name := range s.buckets {
		if strings.HasPrefix(name, prefix) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names, nil
}

// ListBlobs returns one page of committed blobs, with List's rules; as
// Azure's listing does, it gives each blob's Content-MD5 (the ContentMD5 of
// the properties it was written with, nil when none) as ListedMD5.
func (s *Store) ListBlobs(ctx context.Context, container string, opts providers.ListOptions) (providers.Page, error) {
	return s.list(ctx, "ListBlobs", "ContainerNotFound", container, opts)
}

// DeleteBlob deletes blob name and its uncommitted blocks. A missing
// container or blob is NotFound.
func (s *Store) DeleteBlob(ctx context.Context, container, name string) error {
	const op = "DeleteBlob"
	where := container + "/" + name
	if err := s.begin(ctx, op, where); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buckets[container]
	if b == nil {
		return notFound(op, where, "ContainerNotFound")
	}
	if _, ok := b.objects[name]; !ok {
		return notFound(op, where, "BlobNotFound")
	}
	delete(b.objects, name)
	delete(b.staged, name)
	b.stale++
	return nil
}

// PutBlobFromURL fetches src with the Store's HTTP client and stores it
// whole as blob name with props, replacing any blob and discarding its
// uncommitted blocks. size above Limits().MaxPutBlobFromURL is Invalid
// before anything is fetched; a source that delivers other than size bytes
// is a Precondition failure (stricter than Azure, to catch callers that
// pass the wrong size). A source answering non-2xx fails as Azure does,
// with Code "CannotVerifyCopySource" (see sourceError); a src.IfMatch the
// source no longer meets is a Precondition failure. props.Tags and
// props.Tier are checked as Azure checks them (see checkTagsTier) before
// anything is fetched.
func (s *Store) PutBlobFromURL(ctx context.Context, container, name string, src providers.SourceURL, size int64, props providers.Properties) error {
	const op = "PutBlobFromURL"
	where := container + "/" + name
	if err := s.begin(ctx, op, where); err != nil {
		return err
	}
	if err := validName(op, where, name); err != nil {
		return err
	}
	props, err := checkTagsTier(op, where, props)
	if err != nil {
		return err
	}
	lim := s.Limits()
	if size < 0 || size > lim.MaxPutBlobFromURL {
		return &providers.Error{Kind: providers.KindInvalid, Op: op, Where: where, Code: "RequestBodyTooLarge", Status: 413,
			Msg: fmt.Sprintf("source of %d bytes is outside 0..%d", size, lim.MaxPutBlobFromURL)}
	}
	if err := s.hasContainer(op, where, container); err != nil {
		return err
	}
	data, err := s.fetch(ctx, op, where, src, providers.Range{}, lim.MaxPutBlobFromURL)
	if err != nil {
		return err
	}
	if int64(len(data)) != size {
		return &providers.Error{Kind: providers.KindPrecondition, Op: op, Where: where, Code: "SourceSizeMismatch", Status: 412,
			Msg: fmt.Sprintf("source gave %d bytes, caller said %d", len(data), size)}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buckets[container]
	if b == nil {
		return notFound(op, where, "ContainerNotFound")
	}
	b.put(name, s.newEntry(data, props))
	delete(b.staged, name)
	return nil
}

// StageBlockFromURL fetches bytes r of src (all of it for a zero Range),
// conditional on src.IfMatch, and stages them as block id of blob name.
func (s *Store) StageBlockFromURL(ctx context.Context, container, name string, id providers.BlockID, src providers.SourceURL, r providers.Range) error {
	const op = "StageBlockFromURL"
	where := container + "/" + name
	if err := s.beginBlock(ctx, op, where, name, id); err != nil {
		return err
	}
	lim := s.Limits()
	if r.Offset < 0 || r.Count < 0 || (r.Count == 0 && r.Offset != 0) {
		return invalid(op, where, "InvalidSourceRange", fmt.Sprintf("bad range %d+%d", r.Offset, r.Count))
	}
	if r.Count > lim.MaxBlockSize {
		return invalid(op, where, "RequestBodyTooLarge", fmt.Sprintf("block of %d bytes exceeds %d", r.Count, lim.MaxBlockSize))
	}
	if err := s.hasContainer(op, where, container); err != nil {
		return err
	}
	data, err := s.fetch(ctx, op, where, src, r, lim.MaxBlockSize)
	if err != nil {
		return err
	}
	return s.stage(op, where, container, name, id, data)
}

// StageBlock reads size bytes from body and stages them as block id.
func (s *Store) StageBlock(ctx context.Context, container, name string, id providers.BlockID, body io.ReadSeeker, size int64) error {
	const op = "StageBlock"
	where := container + "/" + name
	if err := s.beginBlock(ctx, op, where, name, id); err != nil {
		return err
	}
	if lim := s.Limits(); size < 0 || size > lim.MaxBlockSize {
		return invalid(op, where, "RequestBodyTooLarge", fmt.Sprintf("block of %d bytes is outside 0..%d", size, lim.MaxBlockSize))
	}
	if err := s.hasContainer(op, where, container); err != nil {
		return err
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(body, data); err != nil {
		if ctx.Err() != nil {
			return &providers.Error{Kind: providers.KindCanceled, Op: op, Where: where, Err: ctx.Err()}
		}
		return &providers.Error{Kind: providers.KindInvalid, Op: op, Where: where, Code: "InvalidBlockSize",
			Msg: fmt.Sprintf("body gave fewer than %d bytes", size), Err: err}
	}
	if err := ctx.Err(); err != nil {
		return &providers.Error{Kind: providers.KindCanceled, Op: op, Where: where, Err: err}
	}
	return s.stage(op, where, container, name, id, data)
}

func (s *Store) stage(op, where, container, name string, id providers.BlockID, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buckets[container]
	if b == nil {
		return notFound(op, where, "ContainerNotFound")
	}
	if b.staged == nil {
		b.staged = map[string]*stagedBlob{}
	}
	sb := b.staged[name]
	if sb == nil {
		sb = &stagedBlob{idLen: len(id), blocks: map[providers.BlockID][]byte{}}
		b.staged[name] = sb
	}
	if len(id) != sb.idLen {
		return invalid(op, where, "InvalidBlobOrBlock", fmt.Sprintf("block id of %d bytes, others have %d", len(id), sb.idLen))
	}
	sb.blocks[id] = data
	return nil
}

// UncommittedBlocks returns the IDs of the staged, uncommitted blocks of
// blob name in ascending byte order; none, and no error, when the blob has
// none or does not exist. A missing container is NotFound.
func (s *Store) UncommittedBlocks(ctx context.Context, container, name string) ([]providers.BlockID, error) {
	const op = "UncommittedBlocks"
	where := container + "/" + name
	if err := s.begin(ctx, op, where); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buckets[container]
	if b == nil {
		return nil, notFound(op, where, "ContainerNotFound")
	}
	sb := b.staged[name]
	if sb == nil || len(sb.blocks) == 0 {
		return nil, nil
	}
	return slices.Sorted(maps.Keys(sb.blocks)), nil
}

// CommitBlocks makes the listed blocks, in order, the content of blob name.
// Each id is looked up among the blob's staged blocks, then among its
// committed ones (Azure's "Latest"); an id in neither is Invalid and leaves
// everything as it was, as do tags or a tier Azure would refuse. Staged
// blocks are discarded on success.
func (s *Store) CommitBlocks(ctx context.Context, container, name string, ids []providers.BlockID, props providers.Properties) error {
	const op = "CommitBlocks"
	where := container + "/" + name
	if err := s.begin(ctx, op, where); err != nil {
		return err
	}
	if err := validName(op, where, name); err != nil {
		return err
	}
	props, err := checkTagsTier(op, where, props)
	if err != nil {
		return err
	}
	if lim := s.Limits(); len(ids) > lim.MaxBlocks {
		return invalid(op, where, "BlockListTooLong", fmt.Sprintf("%d blocks exceed %d", len(ids), lim.MaxBlocks))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buckets[container]
	if b == nil {
		return notFound(op, where, "ContainerNotFound")
	}
	sb, old := b.staged[name], b.objects[name]
	parts := make([][]byte, len(ids))
	var total int64
	for i, id := range ids {
		if sb != nil {
			if d, ok := sb.blocks[id]; ok {
				parts[i] = d
				total += int64(len(d))
				continue
			}
		}
		found := false
		if old != nil {
			for _, cb := range old.blocks {
				if cb.id == id {
					parts[i] = old.data[cb.offset : cb.offset+cb.size]
					total += cb.size
					found = true
					break
				}
			}
		}
		if !found {
			return invalid(op, where, "InvalidBlockList", fmt.Sprintf("block %q is neither staged nor committed", string(id)))
		}
	}
	data := make([]byte, 0, total)
	blocks := make([]committedBlock, len(ids))
	for i, p := range parts {
		blocks[i] = committedBlock{id: ids[i], offset: int64(len(data)), size: int64(len(p))}
		data = append(data, p...)
	}
	e := s.newEntry(data, props)
	e.blocks = blocks
	b.put(name, e)
	delete(b.staged, name)
	return nil
}

// Azure's limits on blob index tags.
const (
	maxTags        = 10
	maxTagKeyLen   = 128
	maxTagValueLen = 256
)

// tiers are the access tiers of a block blob, spelled as Azure reports them.
var tiers = []string{"Hot", "Cool", "Cold", "Archive"}

// checkTagsTier applies Azure's rules to props.Tags (at most 10; keys of
// 1..128 and values of 0..256 characters among letters, digits, space and
// + - . / : = _; failures are Invalid with Azure's codes TagsTooLarge and
// InvalidTag) and props.Tier (Hot, Cool, Cold or Archive in any case, else
// InvalidHeaderValue), and returns props with Tier spelled as Azure reports
// it.
func checkTagsTier(op, where string, props providers.Properties) (providers.Properties, error) {
	if n := len(props.Tags); n > maxTags {
		return props, invalid(op, where, "TagsTooLarge", fmt.Sprintf("%d blob index tags; Azure takes at most %d", n, maxTags))
	}
	for _, k := range slices.Sorted(maps.Keys(props.Tags)) {
		v := props.Tags[k]
		switch {
		case k == "" || len(k) > maxTagKeyLen:
			return props, invalid(op, where, "TagsTooLarge", fmt.Sprintf("tag key of %d characters; Azure takes 1..%d", len(k), maxTagKeyLen))
		case len(v) > maxTagValueLen:
			return props, invalid(op, where, "TagsTooLarge", fmt.Sprintf("tag %q: value of %d characters; Azure takes 0..%d", k, len(v), maxTagValueLen))
		case !validTagText(k) || !validTagText(v):
			return props, invalid(op, where, "InvalidTag", fmt.Sprintf("tag %q: characters other than letters, digits, space and + - . / : = _", k))
		}
	}
	if props.Tier != "" {
		i := slices.IndexFunc(tiers, func(t string) bool { return strings.EqualFold(t, props.Tier) })
		if i < 0 {
			return props, invalid(op, where, "InvalidHeaderValue", fmt.Sprintf("access tier %q is not one of %s", props.Tier, strings.Join(tiers, ", ")))
		}
		props.Tier = tiers[i]
	}
	return props, nil
}

// validTagText reports whether s uses only the characters Azure allows in
// a tag key or value.
func validTagText(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte(" +-./:=_", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func (s *Store) hasContainer(op, where, container string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.buckets[container] == nil {
		return notFound(op, where, "ContainerNotFound")
	}
	return nil
}

// validName applies Azure's blob name rules that a memory store can check:
// 1 to 1024 characters of valid UTF-8.
// beginBlock starts a block operation: the fault hook, the context, and
// the blob name and block ID checks.
func (s *Store) beginBlock(ctx context.Context, op, where, name string, id providers.BlockID) error {
	if err := s.begin(ctx, op, where); err != nil {
		return err
	}
	if err := validName(op, where, name); err != nil {
		return err
	}
	return validID(op, where, id)
}

func validName(op, where, name string) error {
	if name == "" || !utf8.ValidString(name) || utf8.RuneCountInString(name) > 1024 {
		return invalid(op, where, "InvalidResourceName", "blob name must be 1 to 1024 characters of UTF-8")
	}
	return nil
}

// validID applies the BlockID contract: 1 to 48 bytes of printable ASCII.
func validID(op, where string, id providers.BlockID) error {
	if len(id) == 0 || len(id) > 48 {
		return invalid(op, where, "InvalidBlockId", fmt.Sprintf("block id of %d bytes (want 1..48)", len(id)))
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x20 || id[i] > 0x7e {
			return invalid(op, where, "InvalidBlockId", "block id is not printable ASCII")
		}
	}
	return nil
}

// fetch GETs r of src (all of it for a zero Range) as Azure would, reading
// at most limit bytes; src.IfMatch, when set, is sent as If-Match, so a
// source that changed answers 412 and the fetch fails with Precondition.
func (s *Store) fetch(ctx context.Context, op, where string, src providers.SourceURL, r providers.Range, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src.URL.Reveal(), nil)
	if err != nil {
		return nil, &providers.Error{Kind: providers.KindInvalid, Op: op, Where: where, Code: "InvalidHeaderValue",
			Msg: "source URL does not parse", Err: stripURL(err)}
	}
	// Bytes must arrive as stored: never let the transport gunzip them.
	req.Header.Set("Accept-Encoding", "identity")
	if src.IfMatch != "" {
		// As Azure forwards x-ms-source-if-match: a quoted entity tag.
		req.Header.Set("If-Match", `"`+strings.Trim(src.IfMatch, `"`)+`"`)
	}
	ranged := r != (providers.Range{})
	if ranged {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", r.Offset, r.Offset+r.Count-1))
	}
	resp, err := s.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, &providers.Error{Kind: providers.KindCanceled, Op: op, Where: where, Err: ctx.Err()}
		}
		return nil, &providers.Error{Kind: providers.KindSourceUnreachable, Op: op, Where: where, Code: "CannotVerifyCopySource",
			Msg: "could not reach source: " + stripURL(err).Error(), Err: stripURL(err)}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusPartialContent {
		head, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, sourceError(op, where, resp.StatusCode, head)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, &providers.Error{Kind: providers.KindCanceled, Op: op, Where: where, Err: ctx.Err()}
		}
		return nil, &providers.Error{Kind: providers.KindTransient, Op: op, Where: where, Code: "CannotVerifyCopySource",
			Msg: "reading source: " + stripURL(err).Error(), Err: stripURL(err)}
	}
	if int64(len(data)) > limit {
		return nil, invalid(op, where, "RequestBodyTooLarge", fmt.Sprintf("source exceeds %d bytes", limit))
	}
	if ranged {
		if resp.StatusCode == http.StatusOK { // source ignored the range
			if int64(len(data)) < r.Offset+r.Count {
				return nil, invalid(op, where, "InvalidSourceRange", "range beyond the end of the source")
			}
			data = data[r.Offset : r.Offset+r.Count]
		} else if int64(len(data)) != r.Count {
			return nil, invalid(op, where, "InvalidSourceRange", fmt.Sprintf("source sent %d bytes for a range of %d", len(data), r.Count))
		}
	}
	return data, nil
}

var codeRE = regexp.MustCompile(`<Code>([^<]*)</Code>`)

// sourceError classifies a source's non-2xx answer the way the Azure
// provider classifies Azure's CannotVerifyCopySource: 401/403 source
// unreachable, 404 not found, 412 precondition, 416 invalid, 429/503
// throttled, other 5xx transient, anything else source unreachable. The
// source's status and error code are in Msg; Status is the source's status.
func sourceError(op, where string, status int, body []byte) error {
	kind := providers.KindSourceUnreachable
	switch {
	case status == http.StatusNotFound:
		kind = providers.KindNotFound
	case status == http.StatusPreconditionFailed:
		kind = providers.KindPrecondition
	case status == http.StatusRequestedRangeNotSatisfiable:
		kind = providers.KindInvalid
	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
		kind = providers.KindThrottled
	case status >= 500:
		kind = providers.KindTransient
	}
	msg := fmt.Sprintf("source answered HTTP %d", status)
	if m := codeRE.FindSubmatch(body); m != nil {
		msg += " " + string(m[1])
	}
	return &providers.Error{Kind: kind, Op: op, Where: where, Code: "CannotVerifyCopySource", Status: status, Msg: msg}
}

// stripURL drops the URL (a secret) from an HTTP client error.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
