package scale

import (
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// serveAzure answers the Blob service requests the azure provider makes.
// It accepts any credential.
func (f *Fake) serveAzure(w http.ResponseWriter, r *http.Request) {
	f.wait(r.Context())
	rest, ok := strings.CutPrefix(r.URL.Path, "/"+f.o.Account+"/")
	if !ok {
		f.count(Other)
		f.azError(w, r, http.StatusBadRequest, "InvalidUri")
		return
	}
	cname, blob, _ := strings.Cut(rest, "/")
	q := r.URL.Query()
	comp, restype := q.Get("comp"), q.Get("restype")
	h := w.Header()
	h.Set("x-ms-version", "2025-01-05")
	switch {
	case blob == "" && restype == "container" && r.Method == http.MethodPut:
		f.count(CreateContainer)
		f.mu.Lock()
		_, exists := f.containers[cname]
		if !exists {
			f.containers[cname] = &container{extra: map[string]int64{}}
		}
		f.mu.Unlock()
		if exists {
			f.azError(w, r, http.StatusConflict, "ContainerAlreadyExists")
			return
		}
		h.Set("ETag", `"0x8DC0000000000001"`)
		h.Set("Last-Modified", modified.Format(http.TimeFormat))
		w.WriteHeader(http.StatusCreated)
	case blob == "" && restype == "container" && comp == "list" && r.Method == http.MethodGet:
		f.count(ListBlobs)
		c := f.container(cname, false)
		if c == nil {
			f.azError(w, r, http.StatusNotFound, "ContainerNotFound")
			return
		}
		f.listBlobs(w, cname, c, q)
	case blob != "" && r.Method == http.MethodPut && comp == "block" && r.Header.Get("x-ms-copy-source") != "":
		f.count(PutBlockFromURL)
		if f.copySource(w, r, cname) < 0 {
			return
		}
		w.WriteHeader(http.StatusCreated)
	case blob != "" && r.Method == http.MethodPut && comp == "block":
		f.count(PutBlock)
		if f.container(cname, false) == nil {
			f.azError(w, r, http.StatusNotFound, "ContainerNotFound")
			return
		}
		n, _ := io.Copy(io.Discard, r.Body)
		f.receivedBytes.Add(n)
		w.WriteHeader(http.StatusCreated)
	case blob != "" && r.Method == http.MethodPut && comp == "blocklist":
		f.count(PutBlockList)
		c := f.container(cname, false)
		if c == nil {
			f.azError(w, r, http.StatusNotFound, "ContainerNotFound")
			return
		}
		body, _ := io.ReadAll(r.Body)
		f.receivedBytes.Add(int64(len(body)))
		// The blob's size is the sum of its blocks; the fake keeps no
		// blocks, so a blob named Key(i) takes object i's size, any other
		// the size of an empty blob (the pipeline commits empty lists for
		// zero-byte objects).
		f.commit(c, blob, 0)
		h.Set("ETag", `"0x8DC0000000000002"`)
		h.Set("Last-Modified", modified.Format(http.TimeFormat))
		w.WriteHeader(http.StatusCreated)
	case blob != "" && r.Method == http.MethodPut && comp == "" && r.Header.Get("x-ms-copy-source") != "":
		f.count(PutBlobFromURL)
		size := f.copySource(w, r, cname)
		if size < 0 {
			return
		}
		f.commit(f.container(cname, false), blob, size)
		h.Set("ETag", `"0x8DC0000000000003"`)
		h.Set("Last-Modified", modified.Format(http.TimeFormat))
		h.Set("x-ms-request-server-encrypted", "true")
		w.WriteHeader(http.StatusCreated)
	case blob != "" && r.Method == http.MethodGet && comp == "blocklist":
		f.count(GetBlockList)
		if f.container(cname, false) == nil {
			f.azError(w, r, http.StatusNotFound, "ContainerNotFound")
			return
		}
		f.write(w, http.StatusOK, "application/xml", []byte(`<?xml version="1.0" encoding="utf-8"?><BlockList><CommittedBlocks /><UncommittedBlocks /></BlockList>`))
	case blob != "" && r.Method == http.MethodHead && comp == "":
		f.count(GetBlobProperties)
		size, ok := f.lookup(cname, blob)
		if !ok {
			f.azError(w, r, http.StatusNotFound, "BlobNotFound")
			return
		}
		h.Set("Content-Length", strconv.FormatInt(size, 10))
		h.Set("Content-Type", "application/octet-stream")
		h.Set("ETag", `"0x8DC0000000000003"`)
		h.Set("Last-Modified", modified.Format(http.TimeFormat))
		h.Set("x-ms-blob-type", "BlockBlob")
		w.WriteHeader(http.StatusOK)
	default:
		f.count(Other)
		f.azError(w, r, http.StatusBadRequest, "UnsupportedHttpVerb")
	}
}

// copySource checks the x-ms-copy-source of a Put Blob or Block From URL
// (a presigned URL of one of the fake's objects) and records the bytes
// Azure would fetch; it returns the object's size, or -1 after answering
// with an error. The source is not fetched.
func (f *Fake) copySource(w http.ResponseWriter, r *http.Request, cname string) int64 {
	if f.container(cname, false) == nil {
		f.azError(w, r, http.StatusNotFound, "ContainerNotFound")
		return -1
	}
	u, err := url.Parse(r.Header.Get("x-ms-copy-source"))
	if err != nil || !u.Query().Has("X-Amz-Signature") {
		f.azError(w, r, http.StatusBadRequest, "InvalidHeaderValue")
		return -1
	}
	bucket, key, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	i := f.object(bucket, key)
	if i < 0 {
		w.Header().Set("x-ms-copy-source-status-code", "404")
		w.Header().Set("x-ms-copy-source-error-code", "NoSuchKey")
		f.azError(w, r, http.StatusNotFound, "CannotVerifyCopySource")
		return -1
	}
	if m := r.Header.Get("x-ms-source-if-match"); m != "" && strings.Trim(m, `"`) != etag(i) {
		f.azError(w, r, http.StatusPreconditionFailed, "SourceConditionNotMet")
		return -1
	}
	size := f.o.Size(i)
	n := size
	if rg := r.Header.Get("x-ms-source-range"); rg != "" {
		a, b, _ := strings.Cut(strings.TrimPrefix(rg, "bytes="), "-")
		s, _ := strconv.ParseInt(a, 10, 64)
		e, err := strconv.ParseInt(b, 10, 64)
		if err != nil {
			e = size - 1
		}
		n = min(e, size-1) - s + 1
	}
	f.fetchBytes.Add(n)
	return size
}

// container returns container name, creating it when create is set; nil
// when it does not exist.
func (f *Fake) container(name string, create bool) *container {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.containers[name]
	if c == nil && create {
		c = &container{extra: map[string]int64{}}
		f.containers[name] = c
	}
	return c
}

// commit records blob as written with size (ignored for Key(i) names,
// which take object i's size).
func (f *Fake) commit(c *container, blob string, size int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i := f.index(blob); i >= 0 {
		if len(c.written) == 0 {
			c.written = make([]uint64, (f.o.Objects+63)/64)
		}
		c.written[i/64] |= 1 << (i % 64)
		return
	}
	c.extra[blob] = size
}

// lookup returns the size of a written blob.
func (f *Fake) lookup(cname, blob string) (int64, bool) {
	c := f.container(cname, false)
	if c == nil {
		return 0, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if i := f.index(blob); i >= 0 {
		if len(c.written) > 0 && c.written[i/64]&(1<<(i%64)) != 0 {
			return f.o.Size(i), true
		}
		return 0, false
	}
	size, ok := c.extra[blob]
	return size, ok
}

// listBlobs answers one List Blobs page (flat) of container c: written
// Key(i) blobs and other names merged in name order. The marker is the
// last name of the previous page.
func (f *Fake) listBlobs(w http.ResponseWriter, cname string, c *container, q url.Values) {
	prefix, marker := q.Get("prefix"), q.Get("marker")
	maxResults := 5000
	if v, err := strconv.Atoi(q.Get("maxresults")); err == nil && v > 0 && v < maxResults {
		maxResults = v
	}
	type item struct {
		name string
		size int64
	}
	var items []item
	c.mu.Lock()
	lo := sort.Search(f.o.Objects, func(i int) bool {
		k := f.Key(i)
		return k >= prefix && k > marker
	})
	for i := lo; i < f.o.Objects && len(c.written) > 0 && len(items) <= maxResults; i++ {
		if c.written[i/64]&(1<<(i%64)) == 0 {
			continue
		}
		k := f.Key(i)
		if !strings.HasPrefix(k, prefix) {
			break
		}
		items = append(items, item{k, f.o.Size(i)})
	}
	for name, size := range c.extra {
		if strings.HasPrefix(name, prefix) && name > marker {
			items = append(items, item{name, size})
		}
	}
	c.mu.Unlock()
	sort.Slice(items, func(a, b int) bool { return items[a].name < items[b].name })
	next := ""
	if len(items) > maxResults {
		items = items[:maxResults]
		next = items[maxResults-1].name
	}
	bp := bufPool.Get().(*[]byte)
	b := append((*bp)[:0], `<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="`...)
	b = append(b, f.AzureURL...)
	b = append(b, `/" ContainerName="`...)
	b = appendText(b, cname, false)
	b = append(b, `"><Prefix>`...)
	b = appendText(b, prefix, false)
	b = append(b, `</Prefix><Marker>`...)
	b = appendText(b, marker, false)
	b = append(b, `</Marker><MaxResults>`...)
	b = strconv.AppendInt(b, int64(maxResults), 10)
	b = append(b, `</MaxResults><Blobs>`...)
	lastMod := modified.Format(http.TimeFormat)
	for _, it := range items {
		b = append(b, `<Blob><Name>`...)
		b = appendText(b, it.name, false)
		b = append(b, `</Name><Properties><Last-Modified>`...)
		b = append(b, lastMod...)
		b = append(b, `</Last-Modified><Etag>0x8DC0000000000003</Etag><Content-Length>`...)
		b = strconv.AppendInt(b, it.size, 10)
		b = append(b, `</Content-Length><Content-Type>application/octet-stream</Content-Type><BlobType>BlockBlob</BlobType><AccessTier>Hot</AccessTier></Properties></Blob>`...)
	}
	b = append(b, `</Blobs><NextMarker>`...)
	b = appendText(b, next, false)
	b = append(b, `</NextMarker></EnumerationResults>`...)
	f.write(w, http.StatusOK, "application/xml", b)
	*bp = b
	bufPool.Put(bp)
}

// azError answers an Azure error with its x-ms-error-code (no body for
// HEAD).
func (f *Fake) azError(w http.ResponseWriter, r *http.Request, status int, code string) {
	w.Header().Set("x-ms-error-code", code)
	if r.Method == http.MethodHead {
		w.WriteHeader(status)
		return
	}
	f.write(w, status, "application/xml", []byte(`<?xml version="1.0" encoding="utf-8"?><Error><Code>`+code+`</Code><Message>`+code+`</Message></Error>`))
}
