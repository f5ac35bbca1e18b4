// Package metadata turns S3 user metadata into Azure blob metadata under one
// of AzCopy's three policies (ExcludeIfInvalid, FailIfInvalid,
// RenameIfInvalid) and reports a Decision for every key. It is pure: no I/O,
// standard library only, and the same input always gives the same Result.
//
// Azure metadata names must be C# identifiers restricted to ASCII: the first
// character in [A-Za-z_], the rest in [0-9A-Za-z_] (ValidName). Decisions made
// here, and why:
//
//   - Case of names: kept exactly as given. S3 returns names lowercased, and
//     changing them would break round trips for other sources. Azure keeps the
//     case but compares names case-insensitively, so every uniqueness check
//     here is case-insensitive: two names that differ only in case, or a
//     rename target that equals an existing name in another case, fail the
//     object (ErrCollision) under every policy — nothing is overwritten or
//     merged silently.
//   - Values: Azure accepts only ASCII in metadata values (they travel as HTTP
//     headers). A value is carried as-is when every byte is printable ASCII
//     (0x20–0x7E). S3 returns non-ASCII values RFC 2047-encoded
//     ("=?UTF-8?B?...?=" or "=?UTF-8?Q?...?="); that form is ASCII and is kept
//     as-is, not decoded, so the exact S3 value arrives in Azure. Any other
//     value (non-ASCII, tab, other control characters) is treated like an
//     invalid name: dropped under ExcludeIfInvalid, failing the object under
//     FailIfInvalid, and under RenameIfInvalid encoded as one RFC 2047 "B"
//     encoded-word, "=?UTF-8?B?" + base64(value bytes) + "?=" (Action
//     "encoded"; renaming a key cannot fix a value, and the encoding is the
//     one S3 itself uses, so readers can decode it with mime.WordDecoder).
//   - RenameIfInvalid follows AzCopy: every character outside [0-9A-Za-z_]
//     becomes "_" (per Unicode character, so "é" gives one "_"), the value is
//     stored under "rename_<k>" and the original key under "rename_key_<k>"
//     (that value is itself RFC 2047-encoded when the original key is not
//     printable ASCII). Two keys landing on the same name, or a rename target
//     equal (case-insensitively) to a key already present, fail the object.
//   - Total size: Azure allows at most 8 KiB (MaxTotalSize = 8192 bytes) of
//     metadata, counted as the sum of len(name)+len(value) over the pairs
//     sent. An object whose resulting metadata is larger fails (ErrTooLarge)
//     under every policy, not only FailIfInvalid: dropping some user metadata
//     to fit would need an arbitrary choice of what to lose, and losing it
//     quietly is the failure this tool exists to avoid. The user can then
//     decide (exclude the object, or fix the source).
//
// On error Result.Metadata is nil, and Decisions and Warnings still describe
// every key, for the dry-run report and the per-object log.
//
// # Blob index tags
//
// MapTags turns S3 object tags into Azure blob index tags under the same three
// policies, and returns them in Result.Metadata. Azure allows at most 10 tags
// (MaxTags), keys of 1 to 128 characters, values of 0 to 256, and in both only
// ASCII letters, digits, space and + - . / : = _ (ValidTagKey, ValidTagValue).
// S3 allows the same counts and lengths but also "@" and Unicode letters, so
// those are what differ in practice. Decisions made here, and why:
//
//   - Case: Azure documents tag keys and values as case-sensitive ("Manage
//     and find Azure Blob data with blob index tags"), so keys are compared
//     exactly; "Env" and "env" are two tags, both sent. Metadata names, by
//     contrast, Azure compares case-insensitively.
//   - ExcludeIfInvalid drops each invalid tag, with a warning naming them;
//     FailIfInvalid fails the object (ErrInvalid) naming them.
//   - RenameIfInvalid replaces every character Azure does not allow, in the
//     key and in the value, with "_" (one per Unicode character, so
//     "owner@é" becomes "owner__"). There is no AzCopy-style "rename_key_"
//     companion: it would spend a second tag of ten, and the original key is
//     in the Decision. A key renamed onto another tag's key fails the object
//     (ErrCollision) naming both; nothing is overwritten. A tag whose only
//     fault is its length (empty key, key over 128 or value over 256
//     characters, which S3 itself does not allow) cannot be fixed by
//     renaming and is dropped with a warning; truncating would change the
//     tag silently and could make new collisions.
//   - More than 10 tags after the policy: FailIfInvalid fails the object
//     (ErrTooManyTags) naming the tags past the tenth. The other policies
//     keep the first 10 in source-key order (bytewise, as Decisions are
//     sorted), drop the rest (Action "dropped") and warn naming them. S3
//     itself allows at most 10, so only S3-compatible sources that allow more
//     get here.
//
// # Access tiers
//
// TierFor maps an S3 storage class, with the object's x-amz-restore header,
// to an Azure access tier (--preserve-tier):
//
//	S3 storage class                          Azure tier  archived (skip: "archived: restore first")
//	"" (absent), STANDARD,
//	REDUCED_REDUNDANCY, EXPRESS_ONEZONE       Hot         no
//	STANDARD_IA, ONEZONE_IA                   Cool        no
//	INTELLIGENT_TIERING                       Cool        while x-amz-restore says ongoing-request="true"
//	GLACIER_IR                                Cold        no
//	GLACIER, DEEP_ARCHIVE                     Archive     unless x-amz-restore says ongoing-request="false"
//	anything else                             error (ErrStorageClass, naming the class)
//
// An unknown class (OUTPOSTS, SNOW, FSX_*, AWS_BACKUP_*, or a vendor's own)
// is an error rather than Hot: a class we do not know may well be an archive
// one, and guessing Hot would either misfile cold data at the most expensive
// tier or fail later on an unreadable object; the caller names the class and
// can fall back to --blob-tier or the account default. A GLACIER or
// DEEP_ARCHIVE object counts as restored only when the header says
// ongoing-request="false"; no header, a restore in progress, or a header we
// cannot read all mean archived, so the object is skipped rather than failing
// mid-copy. INTELLIGENT_TIERING objects in its opt-in archive access tiers
// also need a restore, but x-amz-restore does not say so until one is asked
// for (x-amz-archive-status does); here they count as archived only while a
// restore is in progress, and otherwise the copy fails with S3's
// InvalidObjectState. ParseTier parses --blob-tier.
//
// # Source information and headers without an Azure equivalent
//
// SourceInfo gives the metadata --preserve-source-info adds: s3_etag,
// s3_last_modified and s3_version_id. Unsupported reports Expires and
// x-amz-website-redirect-location, dropped by default or kept as s3_expires
// and s3_website_redirect. Both results are merged into the user metadata
// with Merge before Map: a user key equal to one of these names,
// case-insensitively, fails the object (ErrCollision) rather than one side
// silently winning. Map then applies the policy and the 8 KiB limit to the
// whole.
package metadata

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// MaxTotalSize is Azure's limit on the sum of len(name)+len(value) over all
// metadata pairs of a blob.
const MaxTotalSize = 8 * 1024

// Name prefixes used by RenameIfInvalid (AzCopy's).
const (
	RenamePrefix    = "rename_"
	RenameKeyPrefix = "rename_key_"
)

// Decision actions.
const (
	ActionKept    = "kept"
	ActionDropped = "dropped"
	ActionRenamed = "renamed"
	ActionEncoded = "encoded" // name kept, value RFC 2047-encoded (RenameIfInvalid)
	ActionFailed  = "failed"  // the key makes the object fail (FailIfInvalid)
)

// Policy says what to do with metadata Azure cannot carry.
type Policy int

const (
	// ExcludeIfInvalid drops invalid keys and warns (the default).
	ExcludeIfInvalid Policy = iota
	// FailIfInvalid fails the object, naming the invalid keys.
	FailIfInvalid
	// RenameIfInvalid renames invalid keys AzCopy's way.
	RenameIfInvalid
)

var policyNames = [...]string{"ExcludeIfInvalid", "FailIfInvalid", "RenameIfInvalid"}

// String returns AzCopy's name of the policy.
func (p Policy) String() string {
	if p >= 0 && int(p) < len(policyNames) {
		return policyNames[p]
	}
	return "Policy(" + strconv.Itoa(int(p)) + ")"
}

// ErrPolicy is wrapped by ParsePolicy's error.
var ErrPolicy = errors.New("unknown metadata policy")

// ParsePolicy parses AzCopy's names, case-insensitively and ignoring
// surrounding spaces; the empty string means the default, ExcludeIfInvalid.
func ParsePolicy(s string) (Policy, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return ExcludeIfInvalid, nil
	}
	for i, n := range policyNames {
		if strings.EqualFold(s, n) {
			return Policy(i), nil
		}
	}
	return 0, fmt.Errorf("%w %q (want %s)", ErrPolicy, s, strings.Join(policyNames[:], ", "))
}

// Set implements pflag.Value and flag.Value.
func (p *Policy) Set(s string) error {
	v, err := ParsePolicy(s)
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// Type implements pflag.Value.
func (p *Policy) Type() string { return "policy" }

// MarshalText implements encoding.TextMarshaler.
func (p Policy) MarshalText() ([]byte, error) {
	if p < 0 || int(p) >= len(policyNames) {
		return nil, fmt.Errorf("%w %d", ErrPolicy, int(p))
	}
	return []byte(p.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *Policy) UnmarshalText(b []byte) error { return p.Set(string(b)) }

// Decision records what happened to one source key.
type Decision struct {
	Key    string // the source key
	NewKey string // the name in Azure; "" when dropped or failed
	Action string // ActionKept, ActionDropped, ActionRenamed, ActionEncoded, ActionFailed
	Reason string // why, for people; "" when kept
}

// Result is the metadata (for MapTags, the tags) to send and the account of
// how it was made.
type Result struct {
	Metadata  map[string]string // nil on error; the blob index tags for MapTags
	Decisions []Decision        // one per source key, sorted by Key
	Warnings  []string
}

// Errors an *Error wraps; test with errors.Is.
var (
	ErrInvalid   = errors.New("metadata Azure cannot carry")
	ErrCollision = errors.New("metadata name collision")
	ErrTooLarge  = fmt.Errorf("metadata larger than %d bytes", MaxTotalSize)
)

// Error is the error Map, MapTags and Merge return when the object must fail.
type Error struct {
	Kind   error    // ErrInvalid, ErrCollision, ErrTooLarge or ErrTooManyTags; also ErrPolicy
	Keys   []string // the source keys involved, sorted
	Detail string
}

func (e *Error) Error() string {
	s := "metadata: " + e.Kind.Error()
	if len(e.Keys) > 0 {
		s += ": " + quoteList(e.Keys)
	}
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

func (e *Error) Unwrap() error { return e.Kind }

// ValidName reports whether s is a valid Azure metadata name.
func ValidName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// ValidValue reports whether Azure can carry s as a metadata value unchanged:
// every byte printable ASCII.
func ValidValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// sanitize is AzCopy's rename: every character outside [0-9A-Za-z_] → "_".
func sanitize(k string) string {
	var b strings.Builder
	for _, r := range k {
		if r == '_' || r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// encodeValue is one RFC 2047 "B" encoded-word carrying v's bytes.
func encodeValue(v string) string {
	return "=?UTF-8?B?" + base64.StdEncoding.EncodeToString([]byte(v)) + "?="
}

// Map applies policy p to the source metadata in. It returns an *Error when
// the object must fail: invalid keys or values under FailIfInvalid
// (ErrInvalid), names that collide case-insensitively (ErrCollision), or a
// result over MaxTotalSize (ErrTooLarge). See the package documentation for
// the rules.
func Map(in map[string]string, p Policy) (Result, error) {
	keys, err := prepare(in, p)
	if err != nil {
		return Result{}, err
	}

	var (
		res       = Result{Decisions: make([]Decision, 0, len(keys))}
		out       = make(map[string]string, len(keys))
		owners    = make(map[string][]string) // lower(name) → source keys writing it
		invalid   []string                    // keys failing under FailIfInvalid
		dropped   []string
		renamed   []string
		encoded   []string
		collision []string
	)
	put := func(name, value, src string) {
		l := strings.ToLower(name)
		owners[l] = append(owners[l], src)
		out[name] = value
	}
	for _, k := range keys {
		v := in[k]
		nameOK, valueOK := ValidName(k), ValidValue(v)
		d := Decision{Key: k}
		switch {
		case nameOK && valueOK:
			d.NewKey, d.Action = k, ActionKept
			put(k, v, k)
		case p == ExcludeIfInvalid:
			d.Action, d.Reason = ActionDropped, invalidReason(nameOK, valueOK)
			dropped = append(dropped, k)
		case p == FailIfInvalid:
			d.Action, d.Reason = ActionFailed, invalidReason(nameOK, valueOK)
			invalid = append(invalid, k)
		case nameOK: // RenameIfInvalid, bad value
			d.NewKey, d.Action = k, ActionEncoded
			d.Reason = "value has non-ASCII or control characters: RFC 2047-encoded"
			put(k, encodeValue(v), k)
			encoded = append(encoded, k)
		default: // RenameIfInvalid, bad name
			s := sanitize(k)
			d.NewKey, d.Action = RenamePrefix+s, ActionRenamed
			d.Reason = fmt.Sprintf("name is not a C# identifier: value stored under %q, original name under %q", RenamePrefix+s, RenameKeyPrefix+s)
			if !valueOK {
				v = encodeValue(v)
				d.Reason += "; value has non-ASCII or control characters: RFC 2047-encoded"
			}
			orig := k
			if !ValidValue(orig) {
				orig = encodeValue(orig)
				d.Reason += "; original name RFC 2047-encoded"
			}
			put(RenamePrefix+s, v, k)
			put(RenameKeyPrefix+s, orig, k)
			renamed = append(renamed, k)
		}
		res.Decisions = append(res.Decisions, d)
	}

	if len(dropped) > 0 {
		res.Warnings = append(res.Warnings, "dropped metadata Azure cannot carry: "+quoteList(dropped))
	}
	if len(renamed) > 0 {
		res.Warnings = append(res.Warnings, "renamed metadata keys that are not C# identifiers: "+quoteList(renamed))
	}
	if len(encoded) > 0 {
		res.Warnings = append(res.Warnings, "RFC 2047-encoded metadata values with non-ASCII or control characters: "+quoteList(encoded))
	}
	if len(invalid) > 0 {
		return fail(res, &Error{Kind: ErrInvalid, Keys: invalid, Detail: "policy " + p.String()})
	}

	var details []string
	lowers := make([]string, 0, len(owners))
	for l := range owners {
		lowers = append(lowers, l)
	}
	slices.Sort(lowers)
	for _, l := range lowers {
		srcs := owners[l]
		if len(srcs) < 2 {
			continue
		}
		var names []string
		for n := range out {
			if strings.ToLower(n) == l {
				names = append(names, n)
			}
		}
		slices.Sort(names)
		srcs = slices.Compact(slices.Sorted(slices.Values(srcs)))
		if len(srcs) < 2 && len(names) < 2 {
			continue // one key writing one name twice cannot happen; defensive
		}
		collision = append(collision, srcs...)
		details = append(details, fmt.Sprintf("%s written by %s", quoteList(names), quoteList(srcs)))
	}
	if len(collision) > 0 {
		collision = slices.Compact(slices.Sorted(slices.Values(collision)))
		markFailed(&res, collision, "name collides with another key (Azure compares metadata names case-insensitively)")
		return fail(res, &Error{Kind: ErrCollision, Keys: collision,
			Detail: "Azure compares metadata names case-insensitively; " + strings.Join(details, "; ")})
	}

	total := 0
	for n, v := range out {
		total += len(n) + len(v)
	}
	if total > MaxTotalSize {
		return fail(res, &Error{Kind: ErrTooLarge, Detail: fmt.Sprintf("%d bytes of names and values after policy %s; nothing is dropped to make it fit", total, p)})
	}
	res.Metadata = out
	return res, nil
}

func invalidReason(nameOK, valueOK bool) string {
	switch {
	case !nameOK && !valueOK:
		return "name is not a C# identifier and value has non-ASCII or control characters"
	case !nameOK:
		return "name is not a C# identifier"
	default:
		return "value has non-ASCII or control characters"
	}
}

func markFailed(res *Result, keys []string, why string) {
	for i := range res.Decisions {
		d := &res.Decisions[i]
		if _, ok := slices.BinarySearch(keys, d.Key); ok {
			d.Action, d.NewKey, d.Reason = ActionFailed, "", why
		}
	}
}

func fail(res Result, err *Error) (Result, error) {
	res.Metadata = nil
	return res, err
}

func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

// prepare checks the policy and returns the keys of in, sorted: the start
// of Map and MapTags.
func prepare(in map[string]string, p Policy) ([]string, error) {
	if p < ExcludeIfInvalid || p > RenameIfInvalid {
		return nil, &Error{Kind: ErrPolicy, Detail: p.String()}
	}
	keys := make([]string, 0, len(in))
	for k := range in {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys, nil
}
