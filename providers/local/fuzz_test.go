package local

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// fuzzAlphabet are the characters fuzzed names are made of: '-', '.' and
// ' ' sort before '/', 'é' after every ASCII byte.
var fuzzAlphabet = []string{"a", "b", "-", ".", "/", " ", "\u00e9"}

// fuzzTree turns data into at most 40 paths: each byte picks a character,
// and a byte that is 7 mod 8 ends a path. A path ending in '/' is an empty
// directory. Paths with "." or ".." elements, or that would need a file and
// a directory of the same name, are dropped.
func fuzzTree(data []byte) (files, dirs []string) {
	isFile := map[string]bool{}
	isDir := map[string]bool{}
	var b strings.Builder
	add := func(p string) {
		dir := strings.HasSuffix(p, "/")
		p = strings.Trim(p, "/")
		for strings.Contains(p, "//") {
			p = strings.ReplaceAll(p, "//", "/")
		}
		if p == "" || !validKey(p) || len(files)+len(dirs) >= 40 {
			return
		}
		els := strings.Split(p, "/")
		for i := 1; i < len(els); i++ {
			if isFile[strings.Join(els[:i], "/")] {
				return
			}
		}
		if isFile[p] || isDir[p] {
			return
		}
		for i := 1; i < len(els); i++ {
			isDir[strings.Join(els[:i], "/")] = true
		}
		if dir {
			isDir[p] = true
			dirs = append(dirs, p+"/")
		} else {
			isFile[p] = true
			files = append(files, p)
		}
	}
	for _, c := range data {
		if c%8 == 7 {
			add(b.String())
			b.Reset()
			continue
		}
		if b.Len() < 16 {
			b.WriteString(fuzzAlphabet[int(c%8)%len(fuzzAlphabet)])
		}
	}
	add(b.String())
	slices.Sort(files)
	return files, dirs
}

// FuzzList builds a small tree from the input and checks that the listing
// is sorted, complete and without duplicates, the same whatever the page
// size, and that a prefix taken from the input lists exactly the keys
// that start with it.
func FuzzList(f *testing.F) {
	f.Add([]byte{0, 4, 1, 7, 0, 2, 2, 7, 0, 3, 1, 7, 0, 5, 1, 7, 0, 6, 7, 0, 1}, uint8(3)) // a/b, a--, a.b, "a b", aé, ab
	f.Add([]byte{0, 4, 0, 4, 0, 7, 0, 2, 7, 0, 4, 4, 7}, uint8(2))
	f.Add([]byte("deep/er/and/deeper/files"), uint8(5))
	f.Add([]byte{6, 4, 6, 7, 6, 7, 6, 2, 0, 7, 5, 4, 7, 3, 4, 0}, uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, cut uint8) {
		keys, dirs := fuzzTree(data)
		root := build(t, append(slices.Clone(keys), dirs...)...)
		s := New(Options{})
		var first []string
		for _, max := range []int{1, 2, 3, 7, 0} {
			got := keysOf(listAll(t, s, root, "", max))
			if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
				t.Fatalf("max %d: not sorted and unique: %q", max, got)
			}
			checkKeys(t, fmt.Sprintf("max %d", max), got, keys)
			if max == 1 {
				first = got
			} else if !slices.Equal(got, first) {
				t.Fatalf("max %d differs from max 1", max)
			}
		}
		if len(keys) == 0 {
			return
		}
		k := keys[int(cut)%len(keys)]
		prefix := k[:int(cut)%(len(k)+1)]
		var want []string
		for _, k := range keys {
			if strings.HasPrefix(k, prefix) {
				want = append(want, k)
			}
		}
		for _, max := range []int{1, 3, 0} {
			checkKeys(t, fmt.Sprintf("prefix %q max %d", prefix, max), keysOf(listAll(t, s, root, prefix, max)), want)
		}
	})
}
