package metadata

import (
	"errors"
	"strings"
	"testing"
)

func TestTierFor(t *testing.T) {
	const (
		restored  = `ongoing-request="false", expiry-date="Fri, 21 Dec 2012 00:00:00 GMT"`
		restoring = `ongoing-request="true"`
	)
	for _, tc := range []struct {
		class, restore string
		tier           string
		archived       bool
	}{
		{"", "", TierHot, false},
		{"STANDARD", "", TierHot, false},
		{"REDUCED_REDUNDANCY", "", TierHot, false},
		{"EXPRESS_ONEZONE", "", TierHot, false},
		{"standard", "", TierHot, false},
		{" STANDARD ", "", TierHot, false},
		{"STANDARD", restoring, TierHot, false}, // restore means nothing here
		{"STANDARD_IA", "", TierCool, false},
		{"ONEZONE_IA", "", TierCool, false},
		{"INTELLIGENT_TIERING", "", TierCool, false},
		{"INTELLIGENT_TIERING", restoring, TierCool, true},
		{"INTELLIGENT_TIERING", restored, TierCool, false},
		{"GLACIER_IR", "", TierCold, false},
		{"GLACIER", "", TierArchive, true},
		{"GLACIER", restoring, TierArchive, true},
		{"GLACIER", restored, TierArchive, false},
		{"DEEP_ARCHIVE", "", TierArchive, true},
		{"DEEP_ARCHIVE", restoring, TierArchive, true},
		{"DEEP_ARCHIVE", restored, TierArchive, false},
		{"DEEP_ARCHIVE", `ongoing-request = false`, TierArchive, false},
		{"DEEP_ARCHIVE", `Ongoing-Request="FALSE"`, TierArchive, false},
		{"DEEP_ARCHIVE", `ongoing-request="falsey"`, TierArchive, true},
		{"DEEP_ARCHIVE", `expiry-date="Fri, 21 Dec 2012 00:00:00 GMT"`, TierArchive, true},
		{"DEEP_ARCHIVE", `ongoing-request`, TierArchive, true},
		{"DEEP_ARCHIVE", `garbage`, TierArchive, true},
	} {
		tier, archived, err := TierFor(tc.class, tc.restore)
		if err != nil || tier != tc.tier || archived != tc.archived {
			t.Errorf("TierFor(%q, %q) = %q, %v, %v; want %q, %v", tc.class, tc.restore, tier, archived, err, tc.tier, tc.archived)
		}
	}
	for _, class := range []string{"OUTPOSTS", "SNOW", "FSX_ONTAP", "AWS_BACKUP_WARM", "COLDLINE", "HOT"} {
		tier, archived, err := TierFor(class, "")
		if !errors.Is(err, ErrStorageClass) || !strings.Contains(err.Error(), `"`+class+`"`) || tier != "" || archived {
			t.Errorf("TierFor(%q) = %q, %v, %v", class, tier, archived, err)
		}
	}
}

func TestParseTier(t *testing.T) {
	for s, want := range map[string]string{
		"Hot": TierHot, "hot": TierHot, " HOT ": TierHot,
		"cool": TierCool, "Cold": TierCold, "ARCHIVE": TierArchive,
	} {
		if got, err := ParseTier(s); err != nil || got != want {
			t.Errorf("ParseTier(%q) = %q, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "Premium", "P10", "hot1", "Cool,Hot"} {
		if got, err := ParseTier(s); !errors.Is(err, ErrTier) || got != "" || !strings.Contains(err.Error(), "Hot, Cool, Cold, Archive") {
			t.Errorf("ParseTier(%q) = %q, %v", s, got, err)
		}
	}
	// Every tier TierFor returns parses back to itself.
	for class := range tierOf {
		tier, _, _ := TierFor(class, "")
		if got, err := ParseTier(tier); err != nil || got != tier {
			t.Errorf("tier %q of %q does not parse: %q, %v", tier, class, got, err)
		}
	}
}

func FuzzTierFor(f *testing.F) {
	f.Add("GLACIER", `ongoing-request="false", expiry-date="Fri, 21 Dec 2012 00:00:00 GMT"`)
	f.Add("DEEP_ARCHIVE", `ongoing-request="true"`)
	f.Add("INTELLIGENT_TIERING", `ongoing-request=`)
	f.Add("", "")
	f.Add("\xff", "ongoing-request")
	f.Fuzz(func(t *testing.T, class, restore string) {
		tier, archived, err := TierFor(class, restore)
		if err != nil {
			if !errors.Is(err, ErrStorageClass) || tier != "" || archived {
				t.Fatalf("TierFor(%q, %q) = %q, %v, %v", class, restore, tier, archived, err)
			}
			return
		}
		if got, perr := ParseTier(tier); perr != nil || got != tier {
			t.Fatalf("tier %q is not canonical", tier)
		}
		if archived && tier != TierArchive && tier != TierCool {
			t.Fatalf("archived in tier %q", tier)
		}
		if _, err := ParseTier(class); err == nil {
			t.Fatalf("tier name %q accepted as a storage class", class)
		}
	})
}
