package naming

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCheckBlobName(t *testing.T) {
	for _, tc := range []struct {
		name string
		want error
	}{
		{"a", nil},
		{"dir/file.txt", nil},
		{"a//b", nil},
		{"/leading", nil},
		{"folder/", nil},
		{"日本語/ファイル", nil},
		{"a.b/c.d", nil},
		{"a．", nil},
		{strings.Repeat("x", 1024), nil},
		{strings.Repeat("😀", 512), nil}, // 1024 UTF-16 units
		{strings.Repeat("a/", 253) + "a", nil},
		{"", ErrEmptyName},
		{"a\xffb", ErrInvalidUTF8},
		{strings.Repeat("x", 1025), ErrNameTooLong},
		{strings.Repeat("😀", 512) + "x", ErrNameTooLong},
		{strings.Repeat("a/", 254) + "a", ErrTooManySegments},
		{"a\x00b", ErrControlChar},
		{"a\nb", ErrControlChar},
		{"a\x7fb", ErrControlChar},
		{"a\u0085b", ErrControlChar},
		{`a\b`, ErrBackslash},
		{"a.", ErrTrailingDot},
		{"a./b", ErrTrailingDot},
		{"./b", ErrTrailingDot},
		{"a/../b", ErrTrailingDot},
		{"a/b/.", ErrTrailingDot},
		{"a../", ErrTrailingDot},
	} {
		err := CheckBlobName(tc.name)
		if tc.want == nil {
			if err != nil {
				t.Errorf("CheckBlobName(%.40q) = %v", tc.name, err)
			}
			continue
		}
		var be *BlobNameError
		if !errors.Is(err, tc.want) || !errors.As(err, &be) || be.Name != tc.name {
			t.Errorf("CheckBlobName(%.40q) = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestJoinBlobName(t *testing.T) {
	for _, tc := range []struct{ prefix, rel, want string }{
		{"", "a/b", "a/b"},
		{"", "/a", "/a"},
		{"p", "a", "p/a"},
		{"p/", "a", "p/a"},
		{"/p/", "a", "p/a"},
		{"//p//q//", "a", "p/q/a"},
		{"/", "a", "a"},
		{"p", "/a", "p//a"}, // the key's own slash is kept: "a" and "/a" stay distinct
		{"p", "a//b/", "p/a//b/"},
		{"p", "", "p/"},
	} {
		if got := JoinBlobName(tc.prefix, tc.rel); got != tc.want {
			t.Errorf("JoinBlobName(%q, %q) = %q, want %q", tc.prefix, tc.rel, got, tc.want)
		}
	}
}

// weirdKeys in the spirit of go-cloud's escape.WeirdStrings.
var weirdKeys = map[string]string{
	"plain":               "plain",
	"trailing dot":        "a.",
	"segment dot":         "a./b",
	"dots":                "../..",
	"dot only":            ".",
	"backslash":           `a\b`,
	"control":             "a\x00b\x1f\x7f\u0085",
	"fullwidth stop":      "a．b．",
	"fullwidth backslash": "a＼b",
	"escape lookalike":    "__0x41__",
	"escape underscores":  "___0x41__",
	"escape prefix only":  "__0x",
	"escape of escape":    "__0x5f__",
	"escape then control": "__0x\x01",
	"underscore control":  "_\x01_",
	"invalid utf8":        "a\xff\xfeb",
	"truncated rune":      "a\xe6\x97",
	"replacement char":    "\ufffd",
	"mixed":               "dir\\sub./file.\t__0x_．＼",
	"unicode":             "日本語/ファイル.",
	"slashes":             "//a//b//",
	"empty":               "",
}

func TestEncodeBlobName(t *testing.T) {
	for _, tc := range []struct{ key, want string }{
		{"a/b.txt", "a/b.txt"},
		{"a.", "a．"},
		{"a../b", "a.．/b"},
		{"./x", "．/x"},
		{`a\b`, "a＼b"},
		{"a\x00b", "a__0x0__b"},
		{"a\x1fb", "a__0x1f__b"},
		{"\u0085", "__0x85__"},
		{"a．", "a__0xff0e__"},
		{"a＼", "a__0xff3c__"},
		{"__0x41__", "__0x5f___0x41__"},
		{"x\xffy", "x__0x1100ff__y"},
	} {
		got, changed := EncodeBlobName(tc.key)
		if got != tc.want || changed != (tc.key != tc.want) {
			t.Errorf("EncodeBlobName(%q) = %q, %v; want %q", tc.key, got, changed, tc.want)
		}
		if back := DecodeBlobName(got); back != tc.key {
			t.Errorf("DecodeBlobName(%q) = %q, want %q", got, back, tc.key)
		}
	}
	for name, k := range weirdKeys {
		checkEncoding(t, name, k)
	}
}

func TestEncodeBlobNameInjective(t *testing.T) {
	seen := map[string]string{}
	for _, k := range weirdKeys {
		for _, key := range []string{k, k + ".", k + "．", k + `\`, k + "＼", k + "_", "_" + k} {
			enc, _ := EncodeBlobName(key)
			if other, ok := seen[enc]; ok && other != key {
				t.Errorf("%q and %q both encode to %q", other, key, enc)
			}
			seen[enc] = key
		}
	}
}

func checkEncoding(t *testing.T, label, key string) {
	t.Helper()
	enc, changed := EncodeBlobName(key)
	if changed != (enc != key) {
		t.Errorf("%s: EncodeBlobName(%q) = %q, changed=%v", label, key, enc, changed)
	}
	if dec := DecodeBlobName(enc); dec != key {
		t.Errorf("%s: round trip %q → %q → %q", label, key, enc, dec)
	}
	if !utf8.ValidString(enc) {
		t.Errorf("%s: encoded %q is not UTF-8", label, enc)
	}
	err := CheckBlobName(enc)
	if err != nil && !errors.Is(err, ErrNameTooLong) && !errors.Is(err, ErrTooManySegments) && !errors.Is(err, ErrEmptyName) {
		t.Errorf("%s: encoded %q still invalid: %v", label, enc, err)
	}
	if CheckBlobName(key) == nil && changed && !strings.ContainsAny(key, "．＼") && !strings.Contains(key, "__0x") {
		t.Errorf("%s: valid key %q changed to %q", label, key, enc)
	}
}

func FuzzEncodeBlobName(f *testing.F) {
	for _, k := range weirdKeys {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		checkEncoding(t, "fuzz", key)
	})
}
