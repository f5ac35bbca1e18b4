package providertest

import (
	"slices"
	"strings"
	"testing"
)

func TestTamperSignature(t *testing.T) {
	for _, c := range []struct{ in, sig, want string }{
		{"https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F2024&X-Amz-Signature=abc123&X-Amz-SignedHeaders=host",
			"abc123", "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F2024&X-Amz-Signature=bbc123&X-Amz-SignedHeaders=host"},
		{"http://h/acct/c/b?sv=2024&sig=%2Bz9%3D&se=x", "%2Bz9%3D", "http://h/acct/c/b?sv=2024&sig=%2Ba9%3D&se=x"},
		{"http://h/x?a=1&tok=Z9", "Z9", "http://h/x?a=1&tok=A9"},
	} {
		got, sig, err := TamperSignature(c.in)
		if err != nil || sig != c.sig || got != c.want {
			t.Errorf("TamperSignature(%q) = %q, %q, %v; want %q, %q", c.in, got, sig, err, c.want, c.sig)
		}
	}
	if _, _, err := TamperSignature("http://h/x"); err == nil {
		t.Error("TamperSignature of a URL without a query: no error")
	}
}

func TestAwkwardKeys(t *testing.T) {
	ks := AwkwardKeys()
	if len(LongKey()) != 1024 {
		t.Errorf("LongKey is %d bytes", len(LongKey()))
	}
	if len(sortedUnique(ks)) != len(ks) {
		t.Error("AwkwardKeys has duplicates")
	}
	for _, k := range ks {
		for _, seg := range strings.Split(k, "/") {
			if len(seg) > 255 {
				t.Errorf("key %q has a segment of %d bytes", k, len(seg))
			}
		}
	}
	if !slices.ContainsFunc(ks, func(k string) bool { return !DestinationSafe(k) }) {
		t.Error("no key a destination must skip")
	}
}
