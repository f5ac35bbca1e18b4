package s3

import (
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/migrate-tool/migrate/providers"
)

const plainETag = "900150983cd24fb0d6963f7d28e17f72" // MD5 of "abc"

func TestHeadInfo(t *testing.T) {
	md5, _ := hex.DecodeString(plainETag)
	modified := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	// base is the answer for a plain STANDARD object: no class header, no
	// tag count, no encryption.
	base := func() *s3sdk.HeadObjectOutput {
		return &s3sdk.HeadObjectOutput{
			ContentLength: aws.Int64(3),
			ETag:          aws.String(`"` + plainETag + `"`),
			LastModified:  aws.Time(modified),
			ContentType:   aws.String("text/plain"),
		}
	}
	want := func(f func(*providers.ObjectInfo)) providers.ObjectInfo {
		info := providers.ObjectInfo{
			Object:     providers.Object{Key: "k", Size: 3, ETag: plainETag, LastModified: modified},
			Properties: providers.Properties{ContentType: "text/plain", ContentMD5: md5},
		}
		if f != nil {
			f(&info)
		}
		return info
	}
	const restored = `ongoing-request="false", expiry-date="Fri, 21 Dec 2012 00:00:00 GMT"`
	for _, c := range []struct {
		name string
		out  func(*s3sdk.HeadObjectOutput)
		want providers.ObjectInfo
	}{
		{"plain STANDARD", nil, want(nil)},
		{"SSE-S3 keeps the MD5", func(o *s3sdk.HeadObjectOutput) {
			o.ServerSideEncryption = types.ServerSideEncryptionAes256
		}, want(func(i *providers.ObjectInfo) { i.Encryption = "AES256" })},
		{"KMS", func(o *s3sdk.HeadObjectOutput) {
			o.ServerSideEncryption = types.ServerSideEncryptionAwsKms
			o.SSEKMSKeyId = aws.String("arn:aws:kms:us-east-1:111122223333:key/abc")
		}, want(func(i *providers.ObjectInfo) { i.Encryption = "aws:kms"; i.ContentMD5 = nil })},
		{"DSSE-KMS", func(o *s3sdk.HeadObjectOutput) {
			o.ServerSideEncryption = types.ServerSideEncryptionAwsKmsDsse
		}, want(func(i *providers.ObjectInfo) { i.Encryption = "aws:kms:dsse"; i.ContentMD5 = nil })},
		{"SSE-C", func(o *s3sdk.HeadObjectOutput) {
			o.SSECustomerAlgorithm = aws.String("AES256")
			o.SSECustomerKeyMD5 = aws.String("ZjQrne1X/iTcskbY2m3example==")
		}, want(func(i *providers.ObjectInfo) { i.Encryption = "SSE-C"; i.ContentMD5 = nil })},
		{"SSE-C wins over an SSE header", func(o *s3sdk.HeadObjectOutput) {
			o.SSECustomerAlgorithm = aws.String("AES256")
			o.ServerSideEncryption = types.ServerSideEncryptionAes256
		}, want(func(i *providers.ObjectInfo) { i.Encryption = "SSE-C"; i.ContentMD5 = nil })},
		{"an unknown encryption gives no MD5", func(o *s3sdk.HeadObjectOutput) {
			o.ServerSideEncryption = "aws:future"
		}, want(func(i *providers.ObjectInfo) { i.Encryption = "aws:future"; i.ContentMD5 = nil })},
		{"GLACIER, not restored", func(o *s3sdk.HeadObjectOutput) {
			o.StorageClass = types.StorageClassGlacier
		}, want(func(i *providers.ObjectInfo) { i.StorageClass = "GLACIER" })},
		{"GLACIER, restore ongoing", func(o *s3sdk.HeadObjectOutput) {
			o.StorageClass = types.StorageClassGlacier
			o.Restore = aws.String(`ongoing-request="true"`)
		}, want(func(i *providers.ObjectInfo) { i.StorageClass = "GLACIER"; i.Restore = `ongoing-request="true"` })},
		{"DEEP_ARCHIVE, restored", func(o *s3sdk.HeadObjectOutput) {
			o.StorageClass = types.StorageClassDeepArchive
			o.Restore = aws.String(restored)
		}, want(func(i *providers.ObjectInfo) { i.StorageClass = "DEEP_ARCHIVE"; i.Restore = restored })},
		{"STANDARD_IA", func(o *s3sdk.HeadObjectOutput) {
			o.StorageClass = types.StorageClassStandardIa
		}, want(func(i *providers.ObjectInfo) { i.StorageClass = "STANDARD_IA" })},
		{"tags, Expires, redirect, version", func(o *s3sdk.HeadObjectOutput) {
			o.TagCount = aws.Int32(3)
			o.ExpiresString = aws.String("Thu, 01 Dec 1994 16:00:00 GMT")
			o.Expires = aws.Time(time.Date(1994, 12, 1, 16, 0, 0, 0, time.UTC))
			o.WebsiteRedirectLocation = aws.String("https://example.com/x")
			o.VersionId = aws.String("3HL4kqtJlcpXroDTDmjVBH40Nrjfkd")
		}, want(func(i *providers.ObjectInfo) {
			i.TagCount = 3
			i.Expires = "Thu, 01 Dec 1994 16:00:00 GMT"
			i.WebsiteRedirect = "https://example.com/x"
			i.VersionID = "3HL4kqtJlcpXroDTDmjVBH40Nrjfkd"
		})},
		{"Expires is kept raw, even when not a date", func(o *s3sdk.HeadObjectOutput) {
			o.ExpiresString = aws.String("0")
		}, want(func(i *providers.ObjectInfo) { i.Expires = "0" })},
		{"Expires from the parsed field alone", func(o *s3sdk.HeadObjectOutput) {
			o.Expires = aws.Time(time.Date(2030, 1, 2, 3, 4, 5, 0, time.FixedZone("CET", 3600)))
		}, want(func(i *providers.ObjectInfo) { i.Expires = "Wed, 02 Jan 2030 02:04:05 GMT" })},
		{"the unversioned version id null", func(o *s3sdk.HeadObjectOutput) {
			o.VersionId = aws.String("null")
		}, want(nil)},
		{"multipart ETag", func(o *s3sdk.HeadObjectOutput) {
			o.ETag = aws.String(`"` + plainETag + `-2"`)
		}, want(func(i *providers.ObjectInfo) { i.ETag = plainETag + "-2"; i.ContentMD5 = nil })},
		{"metadata and headers", func(o *s3sdk.HeadObjectOutput) {
			o.Metadata = map[string]string{"color": "blue"}
			o.ContentEncoding = aws.String("gzip")
			o.ContentDisposition = aws.String("attachment")
			o.ContentLanguage = aws.String("fr")
			o.CacheControl = aws.String("no-store")
		}, want(func(i *providers.ObjectInfo) {
			i.Metadata = map[string]string{"color": "blue"}
			i.ContentEncoding, i.ContentDisposition, i.ContentLanguage, i.CacheControl = "gzip", "attachment", "fr", "no-store"
		})},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := base()
			if c.out != nil {
				c.out(out)
			}
			got := headInfo("k", out)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("headInfo =\n %+v\nwant\n %+v", got, c.want)
			}
		})
	}
}

// The headers versitygw cannot produce reach Stat through the SDK's own
// parsing: a fake S3 answers HEAD as AWS does for an archived, restored
// object encrypted with a customer key, and for a KMS object with tags.
func TestStatHeadersFromFake(t *testing.T) {
	const restore = `ongoing-request="false", expiry-date="Fri, 21 Dec 2012 00:00:00 GMT"`
	headers := map[string]map[string]string{
		"/b/archived": {
			"x-amz-storage-class": "DEEP_ARCHIVE",
			"x-amz-restore":       restore,
			"x-amz-server-side-encryption-customer-algorithm": "AES256",
			"x-amz-server-side-encryption-customer-key-MD5":   "ZjQrne1X/iTcskbY2m3example==",
			"Expires":                         "0",
			"x-amz-website-redirect-location": "/elsewhere",
		},
		"/b/kms": {
			"x-amz-server-side-encryption":                "aws:kms",
			"x-amz-server-side-encryption-aws-kms-key-id": "arn:aws:kms:us-east-1:111122223333:key/abc",
			"x-amz-tagging-count":                         "4",
			"Expires":                                     "Thu, 01 Dec 1994 16:00:00 GMT",
		},
		"/b/plain": {},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, ok := headers[r.URL.Path]
		if r.Method != http.MethodHead || !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		for k, v := range h {
			w.Header().Set(k, v)
		}
		w.Header().Set("ETag", `"`+plainETag+`"`)
		w.Header().Set("Content-Length", "3")
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	s, err := New(t.Context(), Options{Endpoint: srv.URL, Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")})
	if err != nil {
		t.Fatal(err)
	}
	stat := func(key string) providers.ObjectInfo {
		t.Helper()
		info, err := s.Stat(t.Context(), "b", key)
		if err != nil {
			t.Fatalf("Stat %s: %v", key, err)
		}
		return info
	}
	a := stat("archived")
	if a.StorageClass != "DEEP_ARCHIVE" || a.Restore != restore || a.Encryption != "SSE-C" || a.ContentMD5 != nil ||
		a.Expires != "0" || a.WebsiteRedirect != "/elsewhere" || a.TagCount != 0 {
		t.Errorf("archived: %+v", a)
	}
	k := stat("kms")
	if k.StorageClass != "" || k.Encryption != "aws:kms" || k.ContentMD5 != nil || k.TagCount != 4 ||
		k.Expires != "Thu, 01 Dec 1994 16:00:00 GMT" || k.Restore != "" {
		t.Errorf("kms: %+v", k)
	}
	p := stat("plain")
	if p.StorageClass != "" || p.Encryption != "" || len(p.ContentMD5) != 16 || p.TagCount != 0 || p.Expires != "" {
		t.Errorf("plain: %+v", p)
	}
	if _, err := s.Stat(t.Context(), "b", "missing"); providers.KindOf(err) != providers.KindNotFound {
		t.Errorf("Stat missing: %v, want NotFound", err)
	}
}
