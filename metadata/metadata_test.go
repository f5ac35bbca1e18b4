package metadata

import (
	"errors"
	"maps"
	"mime"
	"slices"
	"strings"
	"testing"
)

func TestValidName(t *testing.T) {
	for s, want := range map[string]bool{
		"a": true, "_": true, "valid_name": true, "A1": true, "_1": true, "rename_key_x": true,
		"": false, "1abc": false, "my-key": false, "has.dot": false, "é": false, "a b": false, "a$": false,
	} {
		if got := ValidName(s); got != want {
			t.Errorf("ValidName(%q) = %v", s, got)
		}
	}
}

func TestParsePolicy(t *testing.T) {
	for s, want := range map[string]Policy{
		"ExcludeIfInvalid": ExcludeIfInvalid, "excludeifinvalid": ExcludeIfInvalid, "": ExcludeIfInvalid,
		"FAILIFINVALID": FailIfInvalid, " RenameIfInvalid ": RenameIfInvalid,
	} {
		got, err := ParsePolicy(s)
		if err != nil || got != want {
			t.Errorf("ParsePolicy(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := ParsePolicy("Rename"); !errors.Is(err, ErrPolicy) {
		t.Errorf("ParsePolicy(Rename) = %v", err)
	}
	for _, p := range []Policy{ExcludeIfInvalid, FailIfInvalid, RenameIfInvalid} {
		b, err := p.MarshalText()
		var q Policy
		if err != nil || q.UnmarshalText(b) != nil || q != p {
			t.Errorf("text round trip of %v: %q %v %v", p, b, err, q)
		}
	}
	if Policy(7).String() != "Policy(7)" {
		t.Error(Policy(7).String())
	}
	if _, err := Map(map[string]string{"a": "b"}, Policy(7)); !errors.Is(err, ErrPolicy) {
		t.Errorf("Map with unknown policy: %v", err)
	}
}

var sample = map[string]string{
	"my-key":     "v1",
	"1abc":       "v2",
	"has.dot":    "v3",
	"valid_name": "v4",
}

func TestMapExclude(t *testing.T) {
	res, err := Map(sample, ExcludeIfInvalid)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"valid_name": "v4"}; !maps.Equal(res.Metadata, want) {
		t.Errorf("metadata %v, want %v", res.Metadata, want)
	}
	wantDecisions := []Decision{
		{Key: "1abc", Action: ActionDropped, Reason: "name is not a C# identifier"},
		{Key: "has.dot", Action: ActionDropped, Reason: "name is not a C# identifier"},
		{Key: "my-key", Action: ActionDropped, Reason: "name is not a C# identifier"},
		{Key: "valid_name", NewKey: "valid_name", Action: ActionKept},
	}
	if !slices.Equal(res.Decisions, wantDecisions) {
		t.Errorf("decisions %+v", res.Decisions)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], `"1abc", "has.dot", "my-key"`) {
		t.Errorf("warnings %q", res.Warnings)
	}
}

func TestMapFail(t *testing.T) {
	res, err := Map(sample, FailIfInvalid)
	var me *Error
	if !errors.As(err, &me) || !errors.Is(err, ErrInvalid) || !slices.Equal(me.Keys, []string{"1abc", "has.dot", "my-key"}) {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), `"1abc", "has.dot", "my-key"`) {
		t.Errorf("message %q does not name the keys", err)
	}
	if res.Metadata != nil || len(res.Decisions) != 4 || res.Decisions[0].Action != ActionFailed || res.Decisions[3].Action != ActionKept {
		t.Errorf("result %+v", res)
	}
	res, err = Map(map[string]string{"ok": "v", "Also_OK": "w"}, FailIfInvalid)
	if err != nil || len(res.Metadata) != 2 || len(res.Warnings) != 0 {
		t.Errorf("valid metadata: %+v, %v", res, err)
	}
}

func TestMapRename(t *testing.T) {
	res, err := Map(map[string]string{"123-invalid": "content", "valid_name": "v", "has.dot": "d"}, RenameIfInvalid)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"rename_123_invalid":     "content",
		"rename_key_123_invalid": "123-invalid",
		"rename_has_dot":         "d",
		"rename_key_has_dot":     "has.dot",
		"valid_name":             "v",
	}
	if !maps.Equal(res.Metadata, want) {
		t.Errorf("metadata %v", res.Metadata)
	}
	if d := res.Decisions[0]; d.Key != "123-invalid" || d.NewKey != "rename_123_invalid" || d.Action != ActionRenamed {
		t.Errorf("decision %+v", d)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], `"123-invalid", "has.dot"`) {
		t.Errorf("warnings %q", res.Warnings)
	}
	// Unicode characters become one "_" each; a non-ASCII key is stored encoded.
	res, err = Map(map[string]string{"clé": "x"}, RenameIfInvalid)
	if err != nil || res.Metadata["rename_cl_"] != "x" || res.Metadata["rename_key_cl_"] != encodeValue("clé") {
		t.Errorf("got %v, %v", res.Metadata, err)
	}
}

func TestMapCollisions(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   map[string]string
		p    Policy
		keys []string // keys named in the error
	}{
		{"a-b and a_b", map[string]string{"a-b": "1", "a_b": "2", "x": "3"}, RenameIfInvalid, nil},
		{"a-b and a.b", map[string]string{"a-b": "1", "a.b": "2", "x": "3"}, RenameIfInvalid, []string{"a-b", "a.b"}},
		{"target exists", map[string]string{"a-b": "1", "rename_a_b": "2"}, RenameIfInvalid, []string{"a-b", "rename_a_b"}},
		{"target exists in another case", map[string]string{"a-b": "1", "Rename_A_B": "2"}, RenameIfInvalid, []string{"Rename_A_B", "a-b"}},
		{"companion exists", map[string]string{"a-b": "1", "rename_key_a_b": "2"}, RenameIfInvalid, []string{"a-b", "rename_key_a_b"}},
		{"companion of one is the target of another", map[string]string{"key-ab": "1", "key_ab!": "2", "ab!": "3"}, RenameIfInvalid, nil},
		{"case only, exclude", map[string]string{"Foo": "1", "foo": "2"}, ExcludeIfInvalid, []string{"Foo", "foo"}},
		{"case only, fail", map[string]string{"Foo": "1", "foo": "2"}, FailIfInvalid, []string{"Foo", "foo"}},
		{"case only, rename", map[string]string{"Foo": "1", "foo": "2"}, RenameIfInvalid, []string{"Foo", "foo"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Map(tc.in, tc.p)
			if tc.keys == nil {
				// a-b and a_b: "a_b" is valid and kept, "a-b" → rename_a_b: no clash.
				// key-ab → rename_key_ab; ab! → rename_ab_ / rename_key_ab_; key_ab! → rename_key_ab_ (clash).
				if tc.name == "a-b and a_b" {
					if err != nil || res.Metadata["a_b"] != "2" || res.Metadata["rename_a_b"] != "1" {
						t.Errorf("got %v, %v", res.Metadata, err)
					}
					return
				}
				if !errors.Is(err, ErrCollision) {
					t.Errorf("got %v, %v", res.Metadata, err)
				}
				return
			}
			var me *Error
			if !errors.As(err, &me) || !errors.Is(err, ErrCollision) || !slices.Equal(me.Keys, tc.keys) {
				t.Fatalf("err = %v, want collision of %q", err, tc.keys)
			}
			if res.Metadata != nil {
				t.Errorf("metadata on error: %v", res.Metadata)
			}
			for _, d := range res.Decisions {
				if slices.Contains(tc.keys, d.Key) && d.Action != ActionFailed {
					t.Errorf("decision %+v", d)
				}
			}
		})
	}
	// AzCopy's own example of a collision through sanitising: a-b and a_b
	// renamed both land on rename_a_b when both are invalid, e.g. "a-b" and "a+b".
	_, err := Map(map[string]string{"a-b": "1", "a+b": "2"}, RenameIfInvalid)
	if !errors.Is(err, ErrCollision) || !strings.Contains(err.Error(), `"rename_a_b"`) {
		t.Errorf("err = %v", err)
	}
}

func TestMapValues(t *testing.T) {
	rfc2047 := "=?UTF-8?B?w6l0w6k=?="
	in := map[string]string{"enc": rfc2047, "utf8": "été", "tab": "a\tb", "ok": "plain value"}
	res, err := Map(in, ExcludeIfInvalid)
	if err != nil || !maps.Equal(res.Metadata, map[string]string{"enc": rfc2047, "ok": "plain value"}) {
		t.Errorf("exclude: %v, %v", res.Metadata, err)
	}
	if _, err := Map(in, FailIfInvalid); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `"tab", "utf8"`) {
		t.Errorf("fail: %v", err)
	}
	res, err = Map(in, RenameIfInvalid)
	if err != nil {
		t.Fatal(err)
	}
	dec := new(mime.WordDecoder)
	for k, want := range map[string]string{"utf8": "été", "tab": "a\tb"} {
		got, derr := dec.DecodeHeader(res.Metadata[k])
		if derr != nil || got != want || !ValidValue(res.Metadata[k]) {
			t.Errorf("%s: %q decodes to %q, %v", k, res.Metadata[k], got, derr)
		}
	}
	if res.Metadata["enc"] != rfc2047 {
		t.Errorf("RFC 2047 value altered: %q", res.Metadata["enc"])
	}
}

func TestMapSizeLimit(t *testing.T) {
	// One pair "k" + value: exactly 8192 bytes, then 8193.
	at := map[string]string{"k": strings.Repeat("v", MaxTotalSize-1)}
	over := map[string]string{"k": strings.Repeat("v", MaxTotalSize)}
	for _, p := range []Policy{ExcludeIfInvalid, FailIfInvalid, RenameIfInvalid} {
		if _, err := Map(at, p); err != nil {
			t.Errorf("%v at the limit: %v", p, err)
		}
		res, err := Map(over, p)
		if !errors.Is(err, ErrTooLarge) || res.Metadata != nil || !strings.Contains(err.Error(), "8193 bytes") {
			t.Errorf("%v over the limit: %v", p, err)
		}
	}
	// The limit applies to what is sent: renaming can push it over, dropping
	// can bring it under.
	in := map[string]string{"a-b": strings.Repeat("v", MaxTotalSize-len("rename_a_b")-len("rename_key_a_b")-len("a-b"))}
	if _, err := Map(in, RenameIfInvalid); err != nil {
		t.Errorf("rename exactly at the limit: %v", err)
	}
	in["x"] = ""
	if _, err := Map(in, RenameIfInvalid); !errors.Is(err, ErrTooLarge) {
		t.Errorf("rename one over: %v", err)
	}
	if res, err := Map(in, ExcludeIfInvalid); err != nil || len(res.Metadata) != 1 {
		t.Errorf("exclude: %v, %v", res.Metadata, err)
	}
}

func TestMapEmpty(t *testing.T) {
	for _, in := range []map[string]string{nil, {}} {
		res, err := Map(in, RenameIfInvalid)
		if err != nil || res.Metadata == nil || len(res.Metadata) != 0 || len(res.Decisions) != 0 {
			t.Errorf("Map(%v) = %+v, %v", in, res, err)
		}
	}
}

// parsePairs turns "k=v\nk2=v2" into a map (later keys win).
func parsePairs(s string) map[string]string {
	m := map[string]string{}
	for line := range strings.SplitSeq(s, "\n") {
		k, v, _ := strings.Cut(line, "=")
		m[k] = v
	}
	return m
}

func FuzzMap(f *testing.F) {
	f.Add("my-key=a\n1abc=b\nhas.dot=c\nvalid_name=d", uint8(0))
	f.Add("a-b=1\na_b=2\na.b=3\nrename_a_b=4", uint8(2))
	f.Add("Foo=1\nfoo=2", uint8(1))
	f.Add("utf8=été\nenc==?UTF-8?B?w6l0w6k=?=\ntab=a\tb", uint8(2))
	f.Add("clé=x\nk="+strings.Repeat("v", 8190), uint8(2))
	f.Fuzz(func(t *testing.T, pairs string, pol uint8) {
		in := parsePairs(pairs)
		p := Policy(pol % 3)
		res, err := Map(in, p)
		if len(res.Decisions) != len(in) || !slices.IsSortedFunc(res.Decisions, func(a, b Decision) int { return strings.Compare(a.Key, b.Key) }) {
			t.Fatalf("decisions %+v for %d keys", res.Decisions, len(in))
		}
		if err != nil {
			var me *Error
			if !errors.As(err, &me) || res.Metadata != nil {
				t.Fatalf("error %v (%T), metadata %v", err, err, res.Metadata)
			}
			if p != FailIfInvalid && errors.Is(err, ErrInvalid) {
				t.Fatalf("ErrInvalid under %v", p)
			}
			return
		}
		total := 0
		lower := map[string]bool{}
		for k, v := range res.Metadata {
			if !ValidName(k) || !ValidValue(v) {
				t.Fatalf("invalid pair %q=%q", k, v)
			}
			if lower[strings.ToLower(k)] {
				t.Fatalf("duplicate name %q", k)
			}
			lower[strings.ToLower(k)] = true
			total += len(k) + len(v)
		}
		if total > MaxTotalSize {
			t.Fatalf("total %d", total)
		}
		for _, d := range res.Decisions {
			switch d.Action {
			case ActionKept:
				if res.Metadata[d.Key] != in[d.Key] || d.NewKey != d.Key {
					t.Fatalf("kept %+v", d)
				}
			case ActionDropped:
				if p != ExcludeIfInvalid {
					t.Fatalf("dropped under %v", p)
				}
			case ActionRenamed, ActionEncoded:
				if p != RenameIfInvalid {
					t.Fatalf("renamed under %v", p)
				}
				if _, ok := res.Metadata[d.NewKey]; !ok {
					t.Fatalf("renamed %+v but missing", d)
				}
			default:
				t.Fatalf("decision %+v without error", d)
			}
		}
	})
}
