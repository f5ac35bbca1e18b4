package testenv

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// signSharedKey sets req's Authorization to a SharedKey signature of the
// request as it is now (method, standard headers, x-ms-* headers, path and
// query), following
// https://learn.microsoft.com/rest/api/storageservices/authorize-with-shared-key
// and the way azblob v1.8.1 builds its string to sign
// (internal/exported/shared_key_credential.go), so that Azurite, which
// accepts azblob's signatures, accepts ours. contentLength is the body size
// the request will carry.
func signSharedKey(req *http.Request, account string, key []byte, contentLength int64) error {
	h := req.Header
	cl := ""
	if contentLength > 0 {
		cl = strconv.FormatInt(contentLength, 10)
	}
	res, err := canonicalizedResource(account, req.URL)
	if err != nil {
		return err
	}
	sts := strings.Join([]string{
		req.Method,
		h.Get("Content-Encoding"),
		h.Get("Content-Language"),
		cl,
		h.Get("Content-Md5"),
		h.Get("Content-Type"),
		"", // Date: x-ms-date is used instead
		h.Get("If-Modified-Since"),
		h.Get("If-Match"),
		h.Get("If-None-Match"),
		h.Get("If-Unmodified-Since"),
		h.Get("Range"),
		canonicalizedHeaders(h),
		res,
	}, "\n")
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(sts))
	req.Header.Set("Authorization", "SharedKey "+account+":"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	return nil
}

func canonicalizedHeaders(h http.Header) string {
	cm := map[string][]string{}
	for k, v := range h {
		name := strings.TrimSpace(strings.ToLower(k))
		if strings.HasPrefix(name, "x-ms-") {
			cm[name] = v
		}
	}
	keys := make([]string, 0, len(cm))
	for k := range cm {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return compareHeaderNames(keys[i], keys[j]) < 0 })
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(k)
		b.WriteByte(':')
		b.WriteString(strings.Join(cm[k], ","))
	}
	return b.String()
}

func canonicalizedResource(account string, u *url.URL) (string, error) {
	var b strings.Builder
	b.WriteString("/" + account)
	if p := u.EscapedPath(); p != "" {
		b.WriteString(p)
	} else {
		b.WriteString("/")
	}
	params, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return "", fmt.Errorf("testenv: parse query: %w", err)
	}
	names := make([]string, 0, len(params))
	for n := range params {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		vs := append([]string(nil), params[n]...)
		sort.Strings(vs)
		b.WriteString("\n" + strings.ToLower(n) + ":" + strings.Join(vs, ","))
	}
	return b.String(), nil
}

// compareHeaderNames orders x-ms-* header names the way the storage service
// does (a culture-aware comparison in which '-' weighs nothing at the first
// level). It is azblob v1.8.1's compareHeaders with its weight tables, MIT
// licensed, Copyright (c) Microsoft Corporation.
func compareHeaderNames(lhs, rhs string) int {
	tables := [2]*[128]int{&headerWeightLv0, &headerWeightLv2}
	weight := func(level int, s string, i int) int {
		if i >= len(s) {
			return 0x1
		}
		c := s[i]
		if c >= 128 {
			return 0xffff // not in the tables: sort after everything known
		}
		return tables[level][c]
	}
	level, i, j := 0, 0, 0
	for level < len(tables) {
		if level == len(tables)-1 && i != j {
			switch {
			case i > j:
				return -1
			case i < j:
				return 1
			}
			return 0
		}
		w1, w2 := weight(level, lhs, i), weight(level, rhs, j)
		switch {
		case w1 == 0x1 && w2 == 0x1:
			i, j = 0, 0
			level++
		case w1 == w2:
			i++
			j++
		case w1 == 0:
			i++
		case w2 == 0:
			j++
		case w1 < w2:
			return -1
		default:
			return 1
		}
	}
	return 0
}

var headerWeightLv0 = [128]int{
	0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0,
	0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0,
	0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x71c, 0x0, 0x71f, 0x721, 0x723, 0x725,
	0x0, 0x0, 0x0, 0x72d, 0x803, 0x0, 0x0, 0x733, 0x0, 0xd03, 0xd1a, 0xd1c, 0xd1e,
	0xd20, 0xd22, 0xd24, 0xd26, 0xd28, 0xd2a, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0,
	0xe02, 0xe09, 0xe0a, 0xe1a, 0xe21, 0xe23, 0xe25, 0xe2c, 0xe32, 0xe35, 0xe36, 0xe48, 0xe51,
	0xe70, 0xe7c, 0xe7e, 0xe89, 0xe8a, 0xe91, 0xe99, 0xe9f, 0xea2, 0xea4, 0xea6, 0xea7, 0xea9,
	0x0, 0x0, 0x0, 0x743, 0x744, 0x748, 0xe02, 0xe09, 0xe0a, 0xe1a, 0xe21, 0xe23, 0xe25,
	0xe2c, 0xe32, 0xe35, 0xe36, 0xe48, 0xe51, 0xe70, 0xe7c, 0xe7e, 0xe89, 0xe8a, 0xe91, 0xe99,
	0xe9f, 0xea2, 0xea4, 0xea6, 0xea7, 0xea9, 0x0, 0x74c, 0x0, 0x750, 0x0,
}

var headerWeightLv2 = [128]int{
	0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0,
	0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0,
	0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x8012, 0x0, 0x0, 0x0, 0x0, 0x0, 0x8212, 0x0, 0x0,
	0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0,
	0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0,
	0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0,
	0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0,
	0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0,
}
