package scale

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// serveS3 answers the path-style S3 requests the s3 provider makes.
func (f *Fake) serveS3(w http.ResponseWriter, r *http.Request) {
	f.wait(r.Context())
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	q := r.URL.Query()
	switch {
	case key == "" && r.Method == http.MethodHead:
		f.count(HeadBucket)
		if bucket != f.o.Bucket {
			f.s3Error(w, r, http.StatusNotFound, "NoSuchBucket")
			return
		}
		w.Header().Set("X-Amz-Bucket-Region", "us-east-1")
		w.WriteHeader(http.StatusOK)
	case key == "" && r.Method == http.MethodGet && q.Get("list-type") == "2":
		f.count(ListObjects)
		if bucket != f.o.Bucket {
			f.s3Error(w, r, http.StatusNotFound, "NoSuchBucket")
			return
		}
		f.listObjects(w, q)
	case key != "" && r.Method == http.MethodHead:
		f.count(HeadObject)
		i := f.object(bucket, key)
		if i < 0 {
			f.s3Error(w, r, http.StatusNotFound, "NoSuchKey")
			return
		}
		f.objectHeaders(w.Header(), i)
		w.Header().Set("Content-Length", strconv.FormatInt(f.o.Size(i), 10))
		w.WriteHeader(http.StatusOK)
	case key != "" && r.Method == http.MethodGet && q.Has("tagging"):
		f.count(GetObjectTagging)
		i := f.object(bucket, key)
		if i < 0 {
			f.s3Error(w, r, http.StatusNotFound, "NoSuchKey")
			return
		}
		bp := bufPool.Get().(*[]byte)
		b := append((*bp)[:0], `<?xml version="1.0" encoding="UTF-8"?><Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet>`...)
		if f.tagged(i) {
			f.tagsTagged.Add(1)
			b = append(b, `<Tag><Key>team</Key><Value>bench</Value></Tag><Tag><Key>index</Key><Value>`...)
			b = strconv.AppendInt(b, int64(i), 10)
			b = append(b, `</Value></Tag>`...)
		} else {
			f.tagsUntagged.Add(1)
		}
		b = append(b, `</TagSet></Tagging>`...)
		f.write(w, http.StatusOK, "application/xml", b)
		*bp = b
		bufPool.Put(bp)
	case key != "" && r.Method == http.MethodGet:
		f.count(GetObject)
		i := f.object(bucket, key)
		if i < 0 {
			f.s3Error(w, r, http.StatusNotFound, "NoSuchKey")
			return
		}
		f.getObject(w, r, i)
	default:
		f.count(Other)
		f.s3Error(w, r, http.StatusBadRequest, "NotImplemented")
	}
}

// object returns the index of bucket/key, -1 when there is no such object.
func (f *Fake) object(bucket, key string) int {
	if bucket != f.o.Bucket {
		return -1
	}
	return f.index(key)
}

func (f *Fake) objectHeaders(h http.Header, i int) {
	h.Set("ETag", `"`+etag(i)+`"`)
	h.Set("Last-Modified", modified.Format(http.TimeFormat))
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Accept-Ranges", "bytes")
	h.Set("X-Amz-Meta-Index", strconv.Itoa(i))
	if f.tagged(i) {
		h.Set("X-Amz-Tagging-Count", "2")
	}
}

// zeros is the payload of every object, served a slice at a time.
var zeros = make([]byte, 256<<10)

func (f *Fake) getObject(w http.ResponseWriter, r *http.Request, i int) {
	size := f.o.Size(i)
	if m := r.Header.Get("If-Match"); m != "" && strings.Trim(m, `"`) != etag(i) {
		f.s3Error(w, r, http.StatusPreconditionFailed, "PreconditionFailed")
		return
	}
	start, end := int64(0), size-1
	status := http.StatusOK
	if rg := r.Header.Get("Range"); rg != "" {
		a, b, ok := strings.Cut(strings.TrimPrefix(rg, "bytes="), "-")
		s, err1 := strconv.ParseInt(a, 10, 64)
		e, err2 := strconv.ParseInt(b, 10, 64)
		if b == "" {
			e, err2 = size-1, nil
		}
		if !ok || err1 != nil || err2 != nil || s > e || s >= size {
			f.s3Error(w, r, http.StatusRequestedRangeNotSatisfiable, "InvalidRange")
			return
		}
		start, end, status = s, min(e, size-1), http.StatusPartialContent
		w.Header().Set("Content-Range", "bytes "+strconv.FormatInt(start, 10)+"-"+strconv.FormatInt(end, 10)+"/"+strconv.FormatInt(size, 10))
	}
	f.objectHeaders(w.Header(), i)
	n := end - start + 1
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	w.WriteHeader(status)
	for n > 0 {
		k, err := w.Write(zeros[:min(n, int64(len(zeros)))])
		f.sentBytes.Add(int64(k))
		if err != nil {
			return
		}
		n -= int64(k)
	}
}

// listObjects answers one ListObjectsV2 page: keys under prefix, after
// start-after or the continuation token (an index), at most max-keys.
func (f *Fake) listObjects(w http.ResponseWriter, q url.Values) {
	prefix, startAfter, token := q.Get("prefix"), q.Get("start-after"), q.Get("continuation-token")
	maxKeys := 1000
	if v := q.Get("max-keys"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 && n < 1000 {
			maxKeys = n
		}
	}
	n := f.o.Objects
	var kb [32]byte
	lo := sort.Search(n, func(i int) bool { return string(f.appendKey(kb[:0], i)) >= prefix })
	if token != "" {
		t, err := strconv.Atoi(strings.TrimPrefix(token, "t"))
		if err != nil || t < 0 {
			f.s3Error(w, nil, http.StatusBadRequest, "InvalidArgument")
			return
		}
		lo = max(lo, t)
	} else if startAfter != "" {
		lo = max(lo, sort.Search(n, func(i int) bool { return string(f.appendKey(kb[:0], i)) > startAfter }))
	}
	encode := q.Get("encoding-type") == "url"
	bp := bufPool.Get().(*[]byte)
	b := append((*bp)[:0], `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>`...)
	b = append(b, f.o.Bucket...)
	b = append(b, "</Name><Prefix>"...)
	b = appendText(b, prefix, encode)
	b = append(b, "</Prefix>"...)
	if startAfter != "" {
		b = append(b, "<StartAfter>"...)
		b = appendText(b, startAfter, encode)
		b = append(b, "</StartAfter>"...)
	}
	if token != "" {
		b = append(b, "<ContinuationToken>"...)
		b = appendText(b, token, false)
		b = append(b, "</ContinuationToken>"...)
	}
	b = append(b, "<MaxKeys>"...)
	b = strconv.AppendInt(b, int64(maxKeys), 10)
	b = append(b, "</MaxKeys>"...)
	if encode {
		b = append(b, "<EncodingType>url</EncodingType>"...)
	}
	count, i := 0, lo
	lastMod := modified.Format("2006-01-02T15:04:05.000Z")
	for ; i < n && count < maxKeys; i++ {
		k := f.appendKey(kb[:0], i)
		if !strings.HasPrefix(string(k), prefix) {
			break
		}
		b = append(b, "<Contents><Key>"...)
		b = append(b, k...) // [a-z0-9/]: nothing to escape or encode
		b = append(b, "</Key><LastModified>"...)
		b = append(b, lastMod...)
		b = append(b, "</LastModified><ETag>&quot;"...)
		b = append(b, etag(i)...)
		b = append(b, "&quot;</ETag><Size>"...)
		b = strconv.AppendInt(b, f.o.Size(i), 10)
		b = append(b, "</Size><StorageClass>STANDARD</StorageClass></Contents>"...)
		count++
	}
	truncated := i < n && strings.HasPrefix(string(f.appendKey(kb[:0], i)), prefix)
	b = append(b, "<KeyCount>"...)
	b = strconv.AppendInt(b, int64(count), 10)
	b = append(b, "</KeyCount><IsTruncated>"...)
	b = strconv.AppendBool(b, truncated)
	b = append(b, "</IsTruncated>"...)
	if truncated {
		b = append(b, "<NextContinuationToken>t"...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, "</NextContinuationToken>"...)
	}
	b = append(b, "</ListBucketResult>"...)
	f.write(w, http.StatusOK, "application/xml", b)
	*bp = b
	bufPool.Put(bp)
}

// appendText appends s escaped for XML text, URL-encoded first when
// encode is set (S3's encoding-type=url).
func appendText(b []byte, s string, encode bool) []byte {
	if encode {
		s = strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '<':
			b = append(b, "&lt;"...)
		case '>':
			b = append(b, "&gt;"...)
		case '&':
			b = append(b, "&amp;"...)
		case '"':
			b = append(b, "&quot;"...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// s3Error answers an S3 error (no body for HEAD).
func (f *Fake) s3Error(w http.ResponseWriter, r *http.Request, status int, code string) {
	if r != nil && r.Method == http.MethodHead {
		w.WriteHeader(status)
		return
	}
	f.write(w, status, "application/xml", []byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>`+code+`</Code><Message>`+code+`</Message></Error>`))
}
