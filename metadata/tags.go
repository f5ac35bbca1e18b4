package metadata

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"
)

// Azure's limits on blob index tags (Set Blob Tags).
const (
	MaxTags        = 10
	MaxTagKeyLen   = 128 // characters; a key has at least 1
	MaxTagValueLen = 256 // characters; a value may be empty
)

// ActionReplaced is the action of a tag whose key was valid but whose value
// had characters Azure does not allow, replaced with "_" (MapTags,
// RenameIfInvalid).
const ActionReplaced = "replaced"

// ErrTooManyTags is wrapped by MapTags' error under FailIfInvalid when more
// than MaxTags tags would be sent.
var ErrTooManyTags = fmt.Errorf("more than %d blob index tags", MaxTags)

// validTagByte reports whether Azure allows c in a tag key or value: ASCII
// letters, digits, space and + - . / : = _.
func validTagByte(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte(" +-./:=_", c) >= 0
}

func validTagChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if !validTagByte(s[i]) {
			return false
		}
	}
	return true
}

// ValidTagKey reports whether Azure accepts s as a blob index tag key: 1 to
// MaxTagKeyLen characters, each a letter, digit, space or one of + - . / : = _.
func ValidTagKey(s string) bool {
	return len(s) >= 1 && len(s) <= MaxTagKeyLen && validTagChars(s)
}

// ValidTagValue reports whether Azure accepts s as a blob index tag value: 0
// to MaxTagValueLen characters from the same set as keys.
func ValidTagValue(s string) bool {
	return len(s) <= MaxTagValueLen && validTagChars(s)
}

// sanitizeTag replaces every character Azure does not allow in tags with "_",
// one "_" per Unicode character (per byte of invalid UTF-8).
func sanitizeTag(s string) string {
	if validTagChars(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if validTagByte(s[i]) {
			b.WriteByte(s[i])
			i++
			continue
		}
		_, n := utf8.DecodeRuneInString(s[i:])
		b.WriteByte('_')
		i += n
	}
	return b.String()
}

func tagReason(keyOK, valueOK bool) string {
	switch {
	case !keyOK && !valueOK:
		return "tag key and value not allowed by Azure"
	case !keyOK:
		return "tag key not allowed by Azure"
	default:
		return "tag value not allowed by Azure"
	}
}

// MapTags applies policy p to S3 object tags in and returns the blob index
// tags to send in Result.Metadata. It returns an *Error when the object must
// fail: invalid tags under FailIfInvalid (ErrInvalid), more than MaxTags tags
// under FailIfInvalid (ErrTooManyTags), or two tags renamed onto one key under
// RenameIfInvalid (ErrCollision). See the package documentation for the rules.
func MapTags(in map[string]string, p Policy) (Result, error) {
	keys, err := prepare(in, p)
	if err != nil {
		return Result{}, err
	}

	var (
		res      = Result{Decisions: make([]Decision, 0, len(keys))}
		out      = make(map[string]string, len(keys))
		owners   = make(map[string][]string) // tag key sent → source keys writing it
		sent     []int                       // indexes into res.Decisions of tags sent, in Key order
		invalid  []string
		dropped  []string
		renamed  []string
		overflow []string
	)
	for _, k := range keys {
		v := in[k]
		keyOK, valueOK := ValidTagKey(k), ValidTagValue(v)
		d := Decision{Key: k}
		switch {
		case keyOK && valueOK:
			d.NewKey, d.Action = k, ActionKept
		case p == ExcludeIfInvalid:
			d.Action, d.Reason = ActionDropped, tagReason(keyOK, valueOK)
			dropped = append(dropped, k)
		case p == FailIfInvalid:
			d.Action, d.Reason = ActionFailed, tagReason(keyOK, valueOK)
			invalid = append(invalid, k)
		default: // RenameIfInvalid
			nk, nv := sanitizeTag(k), sanitizeTag(v)
			if !ValidTagKey(nk) || !ValidTagValue(nv) {
				// Only the length is left wrong: renaming cannot fix it.
				d.Action = ActionDropped
				d.Reason = fmt.Sprintf("tag key must be 1 to %d characters and value at most %d; renaming cannot fix the length", MaxTagKeyLen, MaxTagValueLen)
				dropped = append(dropped, k)
				break
			}
			var why []string
			if nk != k {
				why = append(why, fmt.Sprintf("key characters Azure does not allow replaced with \"_\": %q", nk))
			}
			if nv != v {
				why = append(why, "value characters Azure does not allow replaced with \"_\"")
			}
			d.NewKey, d.Action, d.Reason = nk, ActionRenamed, strings.Join(why, "; ")
			if nk == k {
				d.Action = ActionReplaced
			}
			v = nv
			renamed = append(renamed, k)
		}
		if d.NewKey != "" {
			owners[d.NewKey] = append(owners[d.NewKey], k)
			out[d.NewKey] = v
			sent = append(sent, len(res.Decisions))
		}
		res.Decisions = append(res.Decisions, d)
	}

	if len(dropped) > 0 {
		res.Warnings = append(res.Warnings, "dropped tags Azure cannot carry: "+quoteList(dropped))
	}
	if len(renamed) > 0 {
		res.Warnings = append(res.Warnings, `replaced characters Azure does not allow in tags with "_": `+quoteList(renamed))
	}
	if len(invalid) > 0 {
		return fail(res, &Error{Kind: ErrInvalid, Keys: invalid, Detail: "blob index tags, policy " + p.String()})
	}

	// Collisions: tag keys are case-sensitive in Azure, so only identical
	// keys collide, and only renaming can make two source keys identical.
	var collision, details []string
	for _, nk := range slices.Sorted(maps.Keys(owners)) {
		if srcs := owners[nk]; len(srcs) > 1 {
			collision = append(collision, srcs...)
			details = append(details, fmt.Sprintf("%q written by %s", nk, quoteList(srcs)))
		}
	}
	if len(collision) > 0 {
		slices.Sort(collision)
		markFailed(&res, collision, "tag key collides with another tag after renaming")
		return fail(res, &Error{Kind: ErrCollision, Keys: collision, Detail: "blob index tags: " + strings.Join(details, "; ")})
	}

	if len(sent) > MaxTags {
		for _, i := range sent[MaxTags:] {
			d := &res.Decisions[i]
			overflow = append(overflow, d.Key)
			delete(out, d.NewKey)
			d.NewKey, d.Reason = "", fmt.Sprintf("more than %d tags: Azure allows %d", MaxTags, MaxTags)
			if p == FailIfInvalid {
				d.Action = ActionFailed
			} else {
				d.Action = ActionDropped
				d.Reason += "; the first in key order are kept"
			}
		}
		if p == FailIfInvalid {
			return fail(res, &Error{Kind: ErrTooManyTags, Keys: overflow,
				Detail: fmt.Sprintf("%d tags, policy %s", len(sent), p)})
		}
		res.Warnings = append(res.Warnings, fmt.Sprintf("dropped tags over Azure's limit of %d: %s", MaxTags, quoteList(overflow)))
	}
	res.Metadata = out
	return res, nil
}
