package metadata

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSourceInfo(t *testing.T) {
	lm := time.Date(2024, 5, 1, 12, 30, 0, 0, time.FixedZone("CEST", 2*3600))
	for _, tc := range []struct {
		name      string
		etag      string
		lm        time.Time
		versionID string
		want      map[string]string
	}{
		{"all", `"d41d8cd98f00b204e9800998ecf8427e"`, lm, "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY",
			map[string]string{NameETag: "d41d8cd98f00b204e9800998ecf8427e", NameLastModified: "2024-05-01T10:30:00Z", NameVersionID: "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"}},
		{"multipart etag unquoted, no version", "9b2cf535f27731c974343645a3985328-3", lm, "",
			map[string]string{NameETag: "9b2cf535f27731c974343645a3985328-3", NameLastModified: "2024-05-01T10:30:00Z"}},
		{"milliseconds kept", "e", lm.Add(250 * time.Millisecond), "null",
			map[string]string{NameETag: "e", NameLastModified: "2024-05-01T10:30:00.25Z", NameVersionID: "null"}},
		{"nothing", `""`, time.Time{}, "", map[string]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := SourceInfo(tc.etag, tc.lm, tc.versionID)
			if !maps.Equal(got, tc.want) || got == nil {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			if lm, ok := got[NameLastModified]; ok {
				if p, err := time.Parse(time.RFC3339, lm); err != nil || !p.Equal(tc.lm) {
					t.Errorf("%q does not parse back: %v, %v", lm, p, err)
				}
			}
			// What SourceInfo gives always survives Map under the strictest policy.
			if res, err := Map(got, FailIfInvalid); err != nil || !maps.Equal(res.Metadata, got) {
				t.Errorf("Map: %v, %v", res.Metadata, err)
			}
		})
	}
	for _, n := range []string{NameETag, NameLastModified, NameVersionID, NameExpires, NameWebsiteRedirect} {
		if !ValidName(n) {
			t.Errorf("%q is not a valid metadata name", n)
		}
	}
}

func TestMerge(t *testing.T) {
	extra := SourceInfo("e", time.Unix(0, 0), "v")
	for _, tc := range []struct {
		name string
		user map[string]string
		keys []string // nil: no error
	}{
		{"disjoint", map[string]string{"owner": "me", "s3-etag": "x"}, nil},
		{"nil user", nil, nil},
		{"same name", map[string]string{"s3_etag": "mine"}, []string{"s3_etag"}},
		{"other case", map[string]string{"S3_ETag": "mine", "s3_Version_ID": "v1", "ok": "1"}, []string{"S3_ETag", "s3_Version_ID", "s3_etag", "s3_version_id"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Merge(tc.user, extra)
			if tc.keys == nil {
				if err != nil || len(got) != len(tc.user)+len(extra) {
					t.Fatalf("got %v, %v", got, err)
				}
				for k, v := range tc.user {
					if got[k] != v {
						t.Errorf("user %q lost", k)
					}
				}
				for k, v := range extra {
					if got[k] != v {
						t.Errorf("extra %q lost", k)
					}
				}
				return
			}
			var me *Error
			if !errors.As(err, &me) || !errors.Is(err, ErrCollision) || !slices.Equal(me.Keys, tc.keys) || got != nil {
				t.Fatalf("got %v, %v; want collision of %q", got, err, tc.keys)
			}
			for _, k := range tc.keys {
				if !strings.Contains(err.Error(), `"`+k+`"`) {
					t.Errorf("message %q does not name %q", err, k)
				}
			}
		})
	}
	// Merge does not modify its inputs.
	user := map[string]string{"a": "1"}
	if _, err := Merge(user, extra); err != nil || len(user) != 1 || len(extra) != 3 {
		t.Errorf("inputs changed: %v %v %v", user, extra, err)
	}
	// A manual merge that differs only in case is still caught by Map.
	if _, err := Map(map[string]string{"S3_ETAG": "mine", "s3_etag": "e"}, RenameIfInvalid); !errors.Is(err, ErrCollision) {
		t.Errorf("Map with a case collision: %v", err)
	}
}

func TestUnsupported(t *testing.T) {
	const (
		exp = "Wed, 21 Oct 2026 07:28:00 GMT"
		red = "/other/page.html"
	)
	for _, tc := range []struct {
		name      string
		expires   string
		redirect  string
		keep      bool
		meta      map[string]string
		decisions []Decision
	}{
		{"none", "", "", false, map[string]string{}, nil},
		{"none, keep", "", "", true, map[string]string{}, nil},
		{"both dropped", exp, red, false, map[string]string{}, []Decision{
			{Key: HeaderExpires, Action: ActionDropped, Reason: "no Azure equivalent"},
			{Key: HeaderWebsiteRedirect, Action: ActionDropped, Reason: "no Azure equivalent"},
		}},
		{"both kept", exp, red, true, map[string]string{NameExpires: exp, NameWebsiteRedirect: red}, []Decision{
			{Key: HeaderExpires, NewKey: NameExpires, Action: ActionKept, Reason: "no Azure equivalent: kept as metadata"},
			{Key: HeaderWebsiteRedirect, NewKey: NameWebsiteRedirect, Action: ActionKept, Reason: "no Azure equivalent: kept as metadata"},
		}},
		{"redirect only", "", red, false, map[string]string{}, []Decision{
			{Key: HeaderWebsiteRedirect, Action: ActionDropped, Reason: "no Azure equivalent"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			meta, ds := Unsupported(tc.expires, tc.redirect, tc.keep)
			if meta == nil || !maps.Equal(meta, tc.meta) {
				t.Errorf("meta %q, want %q", meta, tc.meta)
			}
			if !slices.Equal(ds, tc.decisions) {
				t.Errorf("decisions %+v, want %+v", ds, tc.decisions)
			}
			if !slices.IsSortedFunc(ds, func(a, b Decision) int { return strings.Compare(a.Key, b.Key) }) {
				t.Errorf("decisions not sorted: %+v", ds)
			}
		})
	}
	// The pipeline's whole path: user metadata, source info and kept headers
	// merged, then mapped.
	kept, _ := Unsupported(exp, red, true)
	extra, err := Merge(SourceInfo(`"e"`, time.Unix(1, 0), ""), kept)
	if err != nil {
		t.Fatal(err)
	}
	all, err := Merge(map[string]string{"my-key": "v"}, extra)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Map(all, RenameIfInvalid)
	if err != nil || res.Metadata[NameExpires] != exp || res.Metadata[NameWebsiteRedirect] != red ||
		res.Metadata["rename_my_key"] != "v" || res.Metadata[NameETag] != "e" {
		t.Errorf("pipeline path: %v, %v", res.Metadata, err)
	}
}
