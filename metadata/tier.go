package metadata

import (
	"errors"
	"fmt"
	"strings"
)

// Azure access tiers, spelled as the Blob service spells them.
const (
	TierHot     = "Hot"
	TierCool    = "Cool"
	TierCold    = "Cold"
	TierArchive = "Archive"
)

var tiers = [...]string{TierHot, TierCool, TierCold, TierArchive}

// Errors TierFor and ParseTier wrap; test with errors.Is.
var (
	ErrStorageClass = errors.New("unknown S3 storage class")
	ErrTier         = errors.New("unknown access tier")
)

// tierOf is the table in the package documentation.
var tierOf = map[string]string{
	"":                    TierHot,
	"STANDARD":            TierHot,
	"REDUCED_REDUNDANCY":  TierHot,
	"EXPRESS_ONEZONE":     TierHot,
	"STANDARD_IA":         TierCool,
	"ONEZONE_IA":          TierCool,
	"INTELLIGENT_TIERING": TierCool,
	"GLACIER_IR":          TierCold,
	"GLACIER":             TierArchive,
	"DEEP_ARCHIVE":        TierArchive,
}

// TierFor maps an S3 storage class (x-amz-storage-class; "" means STANDARD)
// and the object's x-amz-restore header to an Azure access tier. archived
// reports that the object cannot be read until it is restored, so the caller
// skips it ("archived: restore first"): true for GLACIER and DEEP_ARCHIVE
// unless restore says ongoing-request="false", and for INTELLIGENT_TIERING
// while restore says ongoing-request="true". An unknown class returns an
// error wrapping ErrStorageClass that names it, and tier "". The class is
// matched case-insensitively, ignoring surrounding spaces.
func TierFor(storageClass, restore string) (tier string, archived bool, err error) {
	class := strings.ToUpper(strings.TrimSpace(storageClass))
	tier, ok := tierOf[class]
	if !ok {
		return "", false, fmt.Errorf("%w %q: no access tier for it; use --blob-tier, or leave the tier to the account default", ErrStorageClass, storageClass)
	}
	switch class {
	case "GLACIER", "DEEP_ARCHIVE":
		archived = restoreState(restore) != restoreDone
	case "INTELLIGENT_TIERING":
		// Its archive access tiers also need a restore; x-amz-restore only
		// tells while a restore is asked for or done (see the package doc).
		archived = restoreState(restore) == restoreOngoing
	}
	return tier, archived, nil
}

type restoreStatus int

const (
	restoreNone    restoreStatus = iota // no header, or no ongoing-request in it
	restoreOngoing                      // ongoing-request="true"
	restoreDone                         // ongoing-request="false"
)

// restoreState reads ongoing-request from an x-amz-restore header such as
// `ongoing-request="false", expiry-date="Fri, 21 Dec 2012 00:00:00 GMT"`.
// Only an explicit "false" means restored; anything unreadable is
// restoreNone, so an archived object whose header cannot be read is skipped
// rather than failing mid-copy.
func restoreState(h string) restoreStatus {
	l := strings.ToLower(h)
	const key = "ongoing-request"
	i := strings.Index(l, key)
	if i < 0 {
		return restoreNone
	}
	rest := strings.TrimLeft(l[i+len(key):], " \t")
	rest, ok := strings.CutPrefix(rest, "=")
	if !ok {
		return restoreNone
	}
	rest = strings.TrimLeft(rest, " \t")
	rest = strings.TrimPrefix(rest, `"`)
	word := func(w string) bool {
		after, ok := strings.CutPrefix(rest, w)
		return ok && (after == "" || strings.IndexByte(`", ;`, after[0]) >= 0)
	}
	switch {
	case word("true"):
		return restoreOngoing
	case word("false"):
		return restoreDone
	}
	return restoreNone
}

// ParseTier parses an access tier name (Hot, Cool, Cold, Archive),
// case-insensitively and ignoring surrounding spaces, and returns Azure's
// spelling. The empty string is an error: "no tier" (the account default) is
// the caller's state, not a tier.
func ParseTier(s string) (string, error) {
	t := strings.TrimSpace(s)
	for _, n := range tiers {
		if strings.EqualFold(t, n) {
			return n, nil
		}
	}
	return "", fmt.Errorf("%w %q (want %s)", ErrTier, s, strings.Join(tiers[:], ", "))
}
