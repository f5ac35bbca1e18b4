package metadata

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

func TestValidTag(t *testing.T) {
	for _, tc := range []struct {
		s          string
		key, value bool
	}{
		{"Project", true, true},
		{"a b+c-d.e/f:g=h_i", true, true},
		{"0", true, true},
		{"", false, true},
		{strings.Repeat("k", MaxTagKeyLen), true, true},
		{strings.Repeat("k", MaxTagKeyLen+1), false, true},
		{strings.Repeat("v", MaxTagValueLen), false, true},
		{strings.Repeat("v", MaxTagValueLen+1), false, false},
		{"user@example.com", false, false}, // "@": S3 allows it, Azure does not
		{"clé", false, false},
		{"a\tb", false, false},
		{"a*b", false, false},
		{"a,b", false, false},
	} {
		if got := ValidTagKey(tc.s); got != tc.key {
			t.Errorf("ValidTagKey(%.20q) = %v", tc.s, got)
		}
		if got := ValidTagValue(tc.s); got != tc.value {
			t.Errorf("ValidTagValue(%.20q) = %v", tc.s, got)
		}
	}
}

// s3Tags is a tag set S3 accepts: "@" and Unicode letters are allowed there.
var s3Tags = map[string]string{
	"Project":     "Contoso",
	"owner@team":  "ops",
	"contact":     "a@b.example",
	"région":      "eu-west",
	"path/to:x=y": "1 + 2",
}

func TestMapTags(t *testing.T) {
	for _, tc := range []struct {
		name      string
		in        map[string]string
		p         Policy
		want      map[string]string // nil when err
		decisions []Decision
		warnings  []string // substrings, one per warning
		err       error
		errKeys   []string
	}{
		{
			name: "exclude", in: s3Tags, p: ExcludeIfInvalid,
			want: map[string]string{"Project": "Contoso", "path/to:x=y": "1 + 2"},
			decisions: []Decision{
				{Key: "Project", NewKey: "Project", Action: ActionKept},
				{Key: "contact", Action: ActionDropped, Reason: "tag value not allowed by Azure"},
				{Key: "owner@team", Action: ActionDropped, Reason: "tag key not allowed by Azure"},
				{Key: "path/to:x=y", NewKey: "path/to:x=y", Action: ActionKept},
				{Key: "région", Action: ActionDropped, Reason: "tag key not allowed by Azure"},
			},
			warnings: []string{`dropped tags Azure cannot carry: "contact", "owner@team", "région"`},
		},
		{
			name: "fail", in: s3Tags, p: FailIfInvalid,
			decisions: []Decision{
				{Key: "Project", NewKey: "Project", Action: ActionKept},
				{Key: "contact", Action: ActionFailed, Reason: "tag value not allowed by Azure"},
				{Key: "owner@team", Action: ActionFailed, Reason: "tag key not allowed by Azure"},
				{Key: "path/to:x=y", NewKey: "path/to:x=y", Action: ActionKept},
				{Key: "région", Action: ActionFailed, Reason: "tag key not allowed by Azure"},
			},
			err: ErrInvalid, errKeys: []string{"contact", "owner@team", "région"},
		},
		{
			name: "rename", in: s3Tags, p: RenameIfInvalid,
			want: map[string]string{
				"Project": "Contoso", "path/to:x=y": "1 + 2",
				"contact": "a_b.example", "owner_team": "ops", "r_gion": "eu-west",
			},
			decisions: []Decision{
				{Key: "Project", NewKey: "Project", Action: ActionKept},
				{Key: "contact", NewKey: "contact", Action: ActionReplaced, Reason: `value characters Azure does not allow replaced with "_"`},
				{Key: "owner@team", NewKey: "owner_team", Action: ActionRenamed, Reason: `key characters Azure does not allow replaced with "_": "owner_team"`},
				{Key: "path/to:x=y", NewKey: "path/to:x=y", Action: ActionKept},
				{Key: "région", NewKey: "r_gion", Action: ActionRenamed, Reason: `key characters Azure does not allow replaced with "_": "r_gion"`},
			},
			warnings: []string{`replaced characters Azure does not allow in tags with "_": "contact", "owner@team", "région"`},
		},
		{
			name: "rename key and value", in: map[string]string{"a@b": "é"}, p: RenameIfInvalid,
			want: map[string]string{"a_b": "_"},
			decisions: []Decision{{Key: "a@b", NewKey: "a_b", Action: ActionRenamed,
				Reason: `key characters Azure does not allow replaced with "_": "a_b"; value characters Azure does not allow replaced with "_"`}},
			warnings: []string{`"a@b"`},
		},
		{
			name: "case differs: two tags", in: map[string]string{"Env": "1", "env": "2"}, p: FailIfInvalid,
			want: map[string]string{"Env": "1", "env": "2"},
			decisions: []Decision{
				{Key: "Env", NewKey: "Env", Action: ActionKept},
				{Key: "env", NewKey: "env", Action: ActionKept},
			},
		},
		{
			name: "rename onto an existing key", in: map[string]string{"a@b": "1", "a_b": "2", "c": "3"}, p: RenameIfInvalid,
			decisions: []Decision{
				{Key: "a@b", Action: ActionFailed, Reason: "tag key collides with another tag after renaming"},
				{Key: "a_b", Action: ActionFailed, Reason: "tag key collides with another tag after renaming"},
				{Key: "c", NewKey: "c", Action: ActionKept},
			},
			warnings: []string{`"a@b"`},
			err:      ErrCollision, errKeys: []string{"a@b", "a_b"},
		},
		{
			name: "two renames onto one key", in: map[string]string{"a@b": "1", "a*b": "2"}, p: RenameIfInvalid,
			warnings: []string{`"a*b", "a@b"`},
			err:      ErrCollision, errKeys: []string{"a*b", "a@b"},
		},
		{
			name: "length cannot be renamed", p: RenameIfInvalid,
			in:   map[string]string{"": "v", "long": strings.Repeat("é", MaxTagValueLen+1), "ok": "v"},
			want: map[string]string{"ok": "v"},
			decisions: []Decision{
				{Key: "", Action: ActionDropped, Reason: "tag key must be 1 to 128 characters and value at most 256; renaming cannot fix the length"},
				{Key: "long", Action: ActionDropped, Reason: "tag key must be 1 to 128 characters and value at most 256; renaming cannot fix the length"},
				{Key: "ok", NewKey: "ok", Action: ActionKept},
			},
			warnings: []string{`dropped tags Azure cannot carry: "", "long"`},
		},
		{
			name: "Unicode counts per character when renamed", p: RenameIfInvalid,
			in:       map[string]string{strings.Repeat("é", MaxTagKeyLen): strings.Repeat("😀", MaxTagValueLen)},
			want:     map[string]string{strings.Repeat("_", MaxTagKeyLen): strings.Repeat("_", MaxTagValueLen)},
			warnings: []string{"replaced characters"},
		},
		{name: "empty", in: nil, p: FailIfInvalid, want: map[string]string{}, decisions: []Decision{}},
		{name: "unknown policy", in: s3Tags, p: Policy(3), err: ErrPolicy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := MapTags(tc.in, tc.p)
			if tc.err != nil {
				var me *Error
				if !errors.Is(err, tc.err) || !errors.As(err, &me) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				if tc.errKeys != nil && !slices.Equal(me.Keys, tc.errKeys) {
					t.Errorf("error keys %q, want %q", me.Keys, tc.errKeys)
				}
				for _, k := range tc.errKeys {
					if !strings.Contains(err.Error(), fmt.Sprintf("%q", k)) {
						t.Errorf("message %q does not name %q", err, k)
					}
				}
				if res.Metadata != nil {
					t.Errorf("tags on error: %v", res.Metadata)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if !maps.Equal(res.Metadata, tc.want) || res.Metadata == nil {
					t.Errorf("tags %q, want %q", res.Metadata, tc.want)
				}
			}
			if tc.decisions != nil && !slices.Equal(res.Decisions, tc.decisions) {
				t.Errorf("decisions\n%+v\nwant\n%+v", res.Decisions, tc.decisions)
			}
			if len(res.Warnings) != len(tc.warnings) {
				t.Fatalf("warnings %q, want %q", res.Warnings, tc.warnings)
			}
			for i, w := range tc.warnings {
				if !strings.Contains(res.Warnings[i], w) {
					t.Errorf("warning %q does not contain %q", res.Warnings[i], w)
				}
			}
		})
	}
}

func TestMapTagsLimit(t *testing.T) {
	// 12 valid tags k00..k11, plus one invalid that sorts first.
	in := map[string]string{"a@": "x"}
	for i := range 12 {
		in[fmt.Sprintf("k%02d", i)] = "v"
	}
	res, err := MapTags(in, FailIfInvalid)
	if !errors.Is(err, ErrInvalid) { // invalid tags are reported before the count
		t.Fatalf("fail with an invalid tag: %v", err)
	}
	delete(in, "a@")
	res, err = MapTags(in, FailIfInvalid)
	var me *Error
	if !errors.Is(err, ErrTooManyTags) || !errors.As(err, &me) || !slices.Equal(me.Keys, []string{"k10", "k11"}) ||
		!strings.Contains(err.Error(), "12 tags") || res.Metadata != nil {
		t.Fatalf("fail over the limit: %v, %v", err, res.Metadata)
	}
	if d := res.Decisions[11]; d.Action != ActionFailed || d.NewKey != "" {
		t.Errorf("decision %+v", d)
	}

	in["a@"] = "x" // sorts first, renamed to a_: it takes a place, k09..k11 go
	for _, tc := range []struct {
		p       Policy
		dropped []string
		kept    string // one tag that must be sent
	}{
		{ExcludeIfInvalid, []string{"k10", "k11"}, "k09"},
		{RenameIfInvalid, []string{"k09", "k10", "k11"}, "a_"},
	} {
		res, err := MapTags(in, tc.p)
		if err != nil || len(res.Metadata) != MaxTags {
			t.Fatalf("%v: %d tags, %v", tc.p, len(res.Metadata), err)
		}
		if _, ok := res.Metadata[tc.kept]; !ok {
			t.Errorf("%v: %q not sent: %v", tc.p, tc.kept, res.Metadata)
		}
		var dropped []string
		for _, d := range res.Decisions {
			if d.Action == ActionDropped && strings.HasPrefix(d.Reason, "more than 10 tags") {
				dropped = append(dropped, d.Key)
				if _, ok := res.Metadata[d.Key]; ok || d.NewKey != "" {
					t.Errorf("%v: dropped %+v still sent", tc.p, d)
				}
			}
		}
		if !slices.Equal(dropped, tc.dropped) {
			t.Errorf("%v: dropped %q, want %q", tc.p, dropped, tc.dropped)
		}
		last := res.Warnings[len(res.Warnings)-1]
		if !strings.Contains(last, "limit of 10: "+quoteList(tc.dropped)) {
			t.Errorf("%v: warnings %q", tc.p, res.Warnings)
		}
	}

	// Exactly 10 is fine under every policy.
	delete(in, "a@")
	delete(in, "k10")
	delete(in, "k11")
	for _, p := range []Policy{ExcludeIfInvalid, FailIfInvalid, RenameIfInvalid} {
		if res, err := MapTags(in, p); err != nil || len(res.Metadata) != 10 || len(res.Warnings) != 0 {
			t.Errorf("%v with 10 tags: %v, %v", p, res, err)
		}
	}
}

func FuzzMapTags(f *testing.F) {
	f.Add("Project=Contoso\nowner@team=ops\nrégion=eu", uint8(0))
	f.Add("a@b=1\na_b=2\na*b=3", uint8(2))
	f.Add("Env=1\nenv=2", uint8(1))
	f.Add("k0=\nk1=\nk2=\nk3=\nk4=\nk5=\nk6=\nk7=\nk8=\nk9=\nk10=\n@=x", uint8(2))
	f.Add("=v\nx="+strings.Repeat("é", 300), uint8(2))
	f.Add("\xff\xfe=\x00", uint8(2))
	f.Fuzz(func(t *testing.T, pairs string, pol uint8) {
		in := parsePairs(pairs)
		p := Policy(pol % 3)
		res, err := MapTags(in, p)
		if len(res.Decisions) != len(in) || !slices.IsSortedFunc(res.Decisions, func(a, b Decision) int { return strings.Compare(a.Key, b.Key) }) {
			t.Fatalf("decisions %+v for %d keys", res.Decisions, len(in))
		}
		again, err2 := MapTags(in, p)
		if !maps.Equal(res.Metadata, again.Metadata) || !slices.Equal(res.Decisions, again.Decisions) ||
			!slices.Equal(res.Warnings, again.Warnings) || fmt.Sprint(err) != fmt.Sprint(err2) {
			t.Fatalf("not deterministic")
		}
		if err != nil {
			var me *Error
			if !errors.As(err, &me) || res.Metadata != nil || len(me.Keys) == 0 {
				t.Fatalf("error %v (%T), tags %v", err, err, res.Metadata)
			}
			switch {
			case errors.Is(err, ErrInvalid), errors.Is(err, ErrTooManyTags):
				if p != FailIfInvalid {
					t.Fatalf("%v under %v", err, p)
				}
			case errors.Is(err, ErrCollision):
				if p != RenameIfInvalid {
					t.Fatalf("%v under %v", err, p)
				}
			default:
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if len(res.Metadata) > MaxTags {
			t.Fatalf("%d tags", len(res.Metadata))
		}
		sent := 0
		for _, d := range res.Decisions {
			switch d.Action {
			case ActionKept:
				if res.Metadata[d.Key] != in[d.Key] || d.NewKey != d.Key {
					t.Fatalf("kept %+v", d)
				}
			case ActionDropped:
				if p == FailIfInvalid {
					t.Fatalf("dropped under %v", p)
				}
				if d.NewKey != "" {
					t.Fatalf("dropped %+v", d)
				}
				continue
			case ActionRenamed, ActionReplaced:
				if p != RenameIfInvalid {
					t.Fatalf("renamed under %v", p)
				}
			default:
				t.Fatalf("decision %+v without error", d)
			}
			if _, ok := res.Metadata[d.NewKey]; !ok {
				t.Fatalf("%+v but not sent", d)
			}
			sent++
		}
		if sent != len(res.Metadata) {
			t.Fatalf("%d decisions send a tag, %d tags", sent, len(res.Metadata))
		}
		for k, v := range res.Metadata {
			if !ValidTagKey(k) || !ValidTagValue(v) {
				t.Fatalf("invalid tag %q=%q", k, v)
			}
		}
		if len(res.Metadata) < len(in) && len(res.Warnings) == 0 {
			t.Fatalf("tags lost without a warning")
		}
	})
}
