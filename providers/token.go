package providers

import (
	"bytes"
	"encoding/base64"
)

// KeyToken is a listing token that names the last key a page returned: a
// listing continues strictly after it, so the token stays valid across
// writes and restarts and may be journaled. tag ("l1:", "m1:") tells one
// provider's tokens from another's and from garbage.
func KeyToken(tag, lastKey string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(tag + lastKey))
}

// KeyFromToken is the key a KeyToken with this tag names; false when tok is
// not one.
func KeyFromToken(tag, tok string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || !bytes.HasPrefix(b, []byte(tag)) {
		return "", false
	}
	return string(b[len(tag):]), true
}
