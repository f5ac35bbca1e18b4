package naming

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Blob name limits (Azure Blob Storage).
const (
	MaxBlobNameLen  = 1024 // UTF-16 code units
	MaxBlobSegments = 254
)

// Reasons CheckBlobName gives; test with errors.Is.
var (
	ErrEmptyName       = errors.New("empty name")
	ErrInvalidUTF8     = errors.New("not valid UTF-8")
	ErrNameTooLong     = fmt.Errorf("longer than %d characters", MaxBlobNameLen)
	ErrTooManySegments = fmt.Errorf("more than %d path segments", MaxBlobSegments)
	ErrControlChar     = errors.New("contains a control character")
	ErrBackslash       = errors.New(`contains "\"`)
	ErrTrailingDot     = errors.New(`a path segment ends in "."`)
)

// BlobNameError is the error CheckBlobName returns.
type BlobNameError struct {
	Name   string
	Reason error // one of the Err* reasons above
	Detail string
}

func (e *BlobNameError) Error() string {
	s := fmt.Sprintf("blob name %q: %v", truncateForMessage(e.Name), e.Reason)
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

func (e *BlobNameError) Unwrap() error { return e.Reason }

func truncateForMessage(s string) string {
	const max = 200
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// CheckBlobName returns nil when Azure can hold and address name as a blob
// name unchanged, or a *BlobNameError whose Reason is one of ErrEmptyName,
// ErrInvalidUTF8, ErrNameTooLong, ErrTooManySegments, ErrControlChar,
// ErrBackslash, ErrTrailingDot — the first that applies, in that order.
func CheckBlobName(name string) error {
	fail := func(reason error, detail string) error {
		return &BlobNameError{Name: name, Reason: reason, Detail: detail}
	}
	if name == "" {
		return fail(ErrEmptyName, "")
	}
	if !utf8.ValidString(name) {
		return fail(ErrInvalidUTF8, "")
	}
	if n := utf16Len(name); n > MaxBlobNameLen {
		return fail(ErrNameTooLong, fmt.Sprintf("%d characters", n))
	}
	if n := strings.Count(name, "/") + 1; n > MaxBlobSegments {
		return fail(ErrTooManySegments, fmt.Sprintf("%d segments", n))
	}
	for i, r := range name {
		if unicode.IsControl(r) {
			return fail(ErrControlChar, fmt.Sprintf("%U at byte %d", r, i))
		}
	}
	if i := strings.IndexByte(name, '\\'); i >= 0 {
		return fail(ErrBackslash, fmt.Sprintf("at byte %d", i))
	}
	for seg := range strings.SplitSeq(name, "/") {
		if strings.HasSuffix(seg, ".") {
			return fail(ErrTrailingDot, fmt.Sprintf("segment %q", truncateForMessage(seg)))
		}
	}
	return nil
}

// utf16Len counts s in UTF-16 code units, the unit Azure's limits use.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// JoinBlobName joins a destination prefix and a key (or key relative to a
// source prefix). The prefix loses leading and trailing "/" and its runs of
// "/" collapse to one; a single "/" joins a non-empty prefix to rel. rel is
// never altered, so the join is injective in rel: a leading "/" of rel is
// kept, and with an empty prefix the result is rel itself.
func JoinBlobName(prefix, rel string) string {
	var parts []string
	for p := range strings.SplitSeq(prefix, "/") {
		if p != "" {
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		return rel
	}
	return strings.Join(parts, "/") + "/" + rel
}

const (
	fullwidthStop      = '\uFF0E' // "．" stands for a segment's trailing "."
	fullwidthBackslash = '\uFF3C' // "＼" stands for "\"
	rawByteBase        = 0x110000 // hex escape of an invalid byte b is rawByteBase+b
	escapePrefix       = "__0x"
	escapeSuffix       = "__"
)

// EncodeBlobName applies the reversible encoding described in the package
// documentation and reports whether the name changed. The result contains no
// control character, no "\" and no segment ending in "."; it may still be too
// long or have too many segments for Azure. Encode every key of a run, not
// only the invalid ones (see the package documentation).
func EncodeBlobName(key string) (string, bool) {
	var b strings.Builder
	changed := false
	for i := 0; i < len(key); {
		r, w := utf8.DecodeRuneInString(key[i:])
		switch {
		case r == utf8.RuneError && w == 1:
			writeHexEscape(&b, rawByteBase+rune(key[i]))
		case unicode.IsControl(r), r == fullwidthStop, r == fullwidthBackslash,
			r == '_' && strings.HasPrefix(key[i:], escapePrefix):
			writeHexEscape(&b, r)
		case r == '\\':
			b.WriteRune(fullwidthBackslash)
		case r == '.' && (i+1 == len(key) || key[i+1] == '/'):
			b.WriteRune(fullwidthStop)
		default:
			b.WriteString(key[i : i+w])
			i += w
			continue
		}
		changed = true
		i += w
	}
	if !changed {
		return key, false
	}
	return b.String(), true
}

func writeHexEscape(b *strings.Builder, r rune) {
	b.WriteString(escapePrefix)
	b.WriteString(strconv.FormatInt(int64(r), 16))
	b.WriteString(escapeSuffix)
}

// DecodeBlobName reverses EncodeBlobName: DecodeBlobName(EncodeBlobName(k))
// == k for every k. On names EncodeBlobName did not produce it still maps
// every "．" to "." and every "＼" to "\", and decodes every well-formed
// "__0x<hex>__" whose value is a Unicode scalar value or 0x110000–0x1100ff.
func DecodeBlobName(name string) string {
	if !strings.ContainsRune(name, fullwidthStop) && !strings.ContainsRune(name, fullwidthBackslash) &&
		!strings.Contains(name, escapePrefix) {
		return name
	}
	var b strings.Builder
	for i := 0; i < len(name); {
		if strings.HasPrefix(name[i:], escapePrefix) {
			if v, n, ok := parseHexEscape(name[i:]); ok {
				if v >= rawByteBase {
					b.WriteByte(byte(v - rawByteBase))
				} else {
					b.WriteRune(v)
				}
				i += n
				continue
			}
		}
		r, w := utf8.DecodeRuneInString(name[i:])
		switch {
		case r == fullwidthStop:
			b.WriteByte('.')
		case r == fullwidthBackslash:
			b.WriteByte('\\')
		default:
			b.WriteString(name[i : i+w])
		}
		i += w
	}
	return b.String()
}

// parseHexEscape reads "__0x<hex>__" at the start of s and returns its value
// and length. It accepts lowercase hex digits without leading zeros (the form
// EncodeBlobName writes) and values that are scalar values or raw bytes.
func parseHexEscape(s string) (rune, int, bool) {
	j := len(escapePrefix)
	k := j
	for k < len(s) && k-j < 7 && (s[k] >= '0' && s[k] <= '9' || s[k] >= 'a' && s[k] <= 'f') {
		k++
	}
	if k == j || !strings.HasPrefix(s[k:], escapeSuffix) || (s[j] == '0' && k-j > 1) {
		return 0, 0, false
	}
	v, err := strconv.ParseUint(s[j:k], 16, 32)
	if err != nil {
		return 0, 0, false
	}
	r := rune(v)
	if !utf8.ValidRune(r) && (r < rawByteBase || r > rawByteBase+0xff) {
		return 0, 0, false
	}
	return r, k + len(escapeSuffix), true
}
