package pipeline

import (
	"strings"
	"testing"

	"github.com/migrate-tool/migrate/providers"
)

func TestPlanBlocks(t *testing.T) {
	const GiB, TiB = 1024 * MiB, 1024 * 1024 * MiB
	tests := []struct {
		name      string
		size, req int64
		wantBS    int64
		wantN     int
		wantErr   string
	}{
		{"zero bytes", 0, 0, 0, 0, ""},
		{"one byte", 1, 0, DefaultBlockSize, 1, ""},
		{"1 GiB default", GiB, 0, DefaultBlockSize, 16, ""},
		{"1 GiB requested 100 MiB", GiB, 100 * MiB, 100 * MiB, 11, ""},
		{"400 GiB default", 400 * GiB, 0, DefaultBlockSize, 6400, ""},
		{"5 TiB grows the block", 5 * TiB, 0, 105 * MiB, 49933, ""},
		{"48.8 TiB grows the block", 53654745318195, 0, 1024 * MiB, 49970, ""},
		{"190.7 TiB at the limit", 50000 * 4000 * MiB, 0, 4000 * MiB, 50000, ""},
		{"too big for Azure", 50000*4000*MiB + 1, 0, 0, 0, "larger than the destination's limit"},
		{"requested too small", GiB, 1024, 0, 0, "more than the destination's limit of 50000 blocks"},
		{"requested too large", GiB, 4001 * MiB, 0, 0, "larger than the destination's limit"},
		{"small test blocks", 3*1024 + 1, 1024, 1024, 4, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := PlanBlocks(tc.size, tc.req, AzureLimits)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.BlockSize != tc.wantBS || p.Count != tc.wantN {
				t.Fatalf("plan = %d blocks of %d, want %d of %d", p.Count, p.BlockSize, tc.wantN, tc.wantBS)
			}
			// The ranges tile the object exactly.
			var next int64
			for i := 0; i < p.Count; i++ {
				r := p.Range(i)
				if r.Offset != next || r.Count <= 0 || r.Count > p.BlockSize {
					t.Fatalf("block %d range %+v after %d", i, r, next)
				}
				next += r.Count
			}
			if next != tc.size {
				t.Fatalf("blocks cover %d bytes, want %d", next, tc.size)
			}
		})
	}
}

func TestBlockIDsDeterministicAndEqualLength(t *testing.T) {
	obj := providers.Object{Key: "k", Size: 10 * MiB, ETag: "abc"}
	plan, _ := PlanBlocks(obj.Size, MiB, AzureLimits)
	a, b := BlockIDs("b", obj, plan), BlockIDs("b", obj, plan)
	seen := map[providers.BlockID]bool{}
	for i := range a {
		if a[i] != b[i] || len(a[i]) != len(a[0]) || len(a[i]) > 48 || seen[a[i]] {
			t.Fatalf("block ids not deterministic, equal-length and unique: %q", a)
		}
		seen[a[i]] = true
	}
	obj.ETag = "changed"
	if c := BlockIDs("b", obj, plan); c[0] == a[0] {
		t.Fatal("a changed object must get different block ids")
	}
}

func TestFormatBytes(t *testing.T) {
	for in, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1 KiB", 1536: "1.5 KiB", 64 * MiB: "64 MiB", 5000 * MiB: "4.9 GiB"} {
		if got := FormatBytes(in); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", in, got, want)
		}
	}
}
