package naming

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Container name limits (Azure Blob Storage).
const (
	MinContainerLen = 3
	MaxContainerLen = 63
)

const (
	maxSuffix    = 999 // highest collision suffix tried: "-999"
	truncateLen  = 50  // legacy names longer than 63 are cut to this …
	hashHexChars = 8   // … and get "-" plus this many hex digits of SHA-256
)

// Errors a Mapping's Err wraps; test with errors.Is.
var (
	// ErrInvalidContainerName: the name breaks an Azure container rule.
	ErrInvalidContainerName = errors.New("invalid container name")
	// ErrCannotMap: no valid container name can be derived from the bucket.
	ErrCannotMap = errors.New("cannot map bucket")
	// ErrCollision: the container is already taken, by another bucket of the
	// set or by an existing container in the destination.
	ErrCollision = errors.New("container name collision")
	// ErrInvalidOverride: the override target is not a valid container name.
	ErrInvalidOverride = errors.New("invalid container override")
)

// Mapping is the decision for one bucket.
type Mapping struct {
	Bucket string
	// Container is the destination container; empty when Err is set.
	Container string
	// Changed is true when Container differs from Bucket.
	Changed bool
	// Reason says, for people, why the name changed; empty when unchanged.
	Reason string
	// Err says why the bucket cannot be mapped; the bucket must be skipped.
	Err error
}

// MapOptions tunes MapBuckets.
type MapOptions struct {
	// Overrides maps bucket → container and wins over the derived name.
	// Targets are validated; overrides for buckets not in the set are ignored.
	Overrides map[string]string
	// Existing reports containers that already exist in the destination; nil
	// means none are known. It must be deterministic for the duration of the
	// call. A job resuming into containers it created itself should set
	// AllowExisting (or leave those containers out of Existing).
	Existing func(container string) bool
	// AllowExisting says merging into existing containers is intended.
	AllowExisting bool
}

// ValidContainerName returns nil when s is a valid Azure container name, or
// an error wrapping ErrInvalidContainerName that names the broken rule.
func ValidContainerName(s string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w %q: %s", ErrInvalidContainerName, s, why)
	}
	switch {
	case len(s) < MinContainerLen:
		return bad(fmt.Sprintf("shorter than %d characters", MinContainerLen))
	case len(s) > MaxContainerLen:
		return bad(fmt.Sprintf("longer than %d characters", MaxContainerLen))
	}
	for _, r := range s {
		if !isLowerAlnum(r) && r != '-' {
			return bad(fmt.Sprintf("contains %q; only lowercase letters, digits and hyphens are allowed", r))
		}
	}
	switch {
	case s[0] == '-':
		return bad("starts with a hyphen")
	case s[len(s)-1] == '-':
		return bad("ends with a hyphen")
	case strings.Contains(s, "--"):
		return bad("contains consecutive hyphens")
	}
	return nil
}

func isLowerAlnum(r rune) bool { return r >= 'a' && r <= 'z' || r >= '0' && r <= '9' }

// derive computes the container name a bucket asks for before collisions,
// with the reasons for each change; name == bucket means no change.
func derive(bucket string) (name string, reasons []string, err error) {
	if bucket == "" {
		return "", nil, fmt.Errorf("%w: empty bucket name", ErrCannotMap)
	}
	legacy := len(bucket) > MaxContainerLen
	for _, r := range bucket {
		switch {
		case isLowerAlnum(r), r == '-', r == '.':
		case r >= 'A' && r <= 'Z', r == '_':
			legacy = true
		default:
			return "", nil, fmt.Errorf("%w %q: contains %q, which S3 bucket names never contain", ErrCannotMap, bucket, r)
		}
	}
	if !legacy {
		if !strings.Contains(bucket, ".") && !strings.Contains(bucket, "--") {
			return bucket, nil, nil // passes through; validated by the caller
		}
		s := bucket
		if strings.Contains(s, ".") {
			s = strings.ReplaceAll(s, ".", "-")
			reasons = append(reasons, `"." replaced by "-"`)
		}
		if strings.Contains(s, "--") {
			s = expandHyphenRuns(s)
			reasons = append(reasons, `runs of k hyphens replaced by "-k-"`)
		}
		return s, reasons, nil
	}

	s := bucket
	if strings.ToLower(s) != s {
		s = strings.ToLower(s)
		reasons = append(reasons, "lowercased")
	}
	for _, sep := range []string{"_", "."} {
		if strings.Contains(s, sep) {
			s = strings.ReplaceAll(s, sep, "-")
			reasons = append(reasons, strconv.Quote(sep)+` replaced by "-"`)
		}
	}
	if t := strings.Trim(s, "-"); t != s {
		s = t
		reasons = append(reasons, "leading and trailing separators removed")
	}
	if strings.Contains(s, "--") {
		s = expandHyphenRuns(s)
		reasons = append(reasons, `runs of k hyphens replaced by "-k-"`)
	}
	if len(s) > MaxContainerLen {
		sum := sha256.Sum256([]byte(bucket))
		s = strings.TrimRight(s[:truncateLen], "-") + "-" + hex.EncodeToString(sum[:])[:hashHexChars]
		reasons = append(reasons, fmt.Sprintf("longer than %d characters: cut to %d and a hash of the bucket name appended", MaxContainerLen, truncateLen))
	}
	return s, append([]string{"legacy bucket name"}, reasons...), nil
}

// expandHyphenRuns replaces every run of k ≥ 2 hyphens with "-k-", AzCopy's
// step. A trailing run is expanded too (AzCopy panics there; S3 names never
// end in "-", and validation rejects the result).
func expandHyphenRuns(s string) string {
	var b strings.Builder
	run := 0
	flush := func() {
		switch {
		case run == 1:
			b.WriteByte('-')
		case run > 1:
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(run))
			b.WriteByte('-')
		}
		run = 0
	}
	for i := 0; i < len(s); i++ {
		if s[i] == '-' {
			run++
			continue
		}
		flush()
		b.WriteByte(s[i])
	}
	flush()
	return b.String()
}

// MapBuckets maps every distinct bucket of buckets to a container, following
// the steps in the package documentation. It returns one Mapping per distinct
// bucket, sorted by bucket name; the result does not depend on the order of
// buckets. Two Mappings without Err never share a Container, and every such
// Container passes ValidContainerName.
func MapBuckets(buckets []string, o MapOptions) []Mapping {
	names := slices.Clone(buckets)
	slices.Sort(names)
	names = slices.Compact(names)

	out := make([]Mapping, len(names))
	original := make(map[string]bool, len(names))
	for i, b := range names {
		out[i].Bucket = b
		original[b] = true
	}
	taken := make(map[string]string, len(names)) // container → bucket

	// Derived names, computed up front: overrides must know which buckets
	// keep their own name.
	type plan struct {
		name    string
		reasons []string
		err     error
	}
	plans := make([]plan, len(names))
	overridden := make([]bool, len(names))
	for i, b := range names {
		if _, ok := o.Overrides[b]; ok {
			overridden[i] = true
			continue
		}
		n, r, err := derive(b)
		plans[i] = plan{n, r, err}
	}

	// Step 2: names kept as they are.
	for i, b := range names {
		p := plans[i]
		if overridden[i] || p.err != nil || p.name != b {
			continue
		}
		if err := ValidContainerName(b); err != nil {
			out[i].Err = fmt.Errorf("%w %q: %w", ErrCannotMap, b, err)
			continue
		}
		out[i].Container = b
		taken[b] = b
	}

	// Step 1: overrides (after the kept names, which they may not take).
	targets := make(map[string][]string)
	for i, b := range names {
		if !overridden[i] {
			continue
		}
		c := o.Overrides[b]
		if err := ValidContainerName(c); err != nil {
			out[i].Err = fmt.Errorf("%w for bucket %q: %w", ErrInvalidOverride, b, err)
			continue
		}
		targets[c] = append(targets[c], b)
	}
	for i, b := range names {
		if !overridden[i] || out[i].Err != nil {
			continue
		}
		c := o.Overrides[b]
		if others := targets[c]; len(others) > 1 {
			out[i].Err = fmt.Errorf("%w: buckets %s all override to container %q", ErrCollision, quoteList(others), c)
			continue
		}
		if holder, ok := taken[c]; ok {
			out[i].Err = fmt.Errorf("%w: override of bucket %q to %q: that is the unchanged name of bucket %q", ErrCollision, b, c, holder)
			continue
		}
		out[i].Container = c
		taken[c] = b
		if c != b {
			out[i].Reason = "override"
		}
	}

	// Steps 3–6: derived names, in sorted bucket order.
	for i, b := range names {
		p := plans[i]
		if overridden[i] || out[i].Container != "" || out[i].Err != nil {
			continue
		}
		if p.err != nil {
			out[i].Err = p.err
			continue
		}
		if err := ValidContainerName(p.name); err != nil {
			out[i].Err = fmt.Errorf("%w %q: %w", ErrCannotMap, b, err)
			continue
		}
		c, reasons := p.name, p.reasons
		if original[c] || taken[c] != "" {
			why := "the name of another bucket"
			if !original[c] {
				why = fmt.Sprintf("the container of bucket %q", taken[c])
			}
			c = ""
			for n := 2; n <= maxSuffix; n++ {
				cand := p.name + "-" + strconv.Itoa(n)
				if len(cand) > MaxContainerLen {
					out[i].Err = fmt.Errorf("%w %q: %q collides with %s and %q is longer than %d characters", ErrCannotMap, b, p.name, why, cand, MaxContainerLen)
					break
				}
				if !original[cand] && taken[cand] == "" {
					c = cand
					reasons = append(reasons, fmt.Sprintf("%q collides with %s: suffix -%d added", p.name, why, n))
					break
				}
			}
			if c == "" {
				if out[i].Err == nil {
					out[i].Err = fmt.Errorf("%w %q: %q and all its suffixes up to -%d are taken", ErrCannotMap, b, p.name, maxSuffix)
				}
				continue
			}
		}
		out[i].Container = c
		out[i].Reason = strings.Join(reasons, "; ")
		taken[c] = b
	}

	// Step 7: existing containers.
	for i := range out {
		m := &out[i]
		if m.Err == nil && o.Existing != nil && !o.AllowExisting && o.Existing(m.Container) {
			m.Err = fmt.Errorf("%w: bucket %q maps to container %q, which already exists in the destination (merging into existing containers was not allowed)", ErrCollision, m.Bucket, m.Container)
		}
		if m.Err != nil {
			m.Container, m.Reason = "", ""
		}
		m.Changed = m.Err == nil && m.Container != m.Bucket
	}
	return out
}

func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}
