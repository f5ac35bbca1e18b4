package pipeline

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/migrate-tool/migrate/providers"
)

// keySource lists a sorted slice of keys, pageSize at a time; its tokens
// are indexes, and it can start after any string.
type keySource struct {
	keys     []string
	pageSize int
	requests atomic.Int64
}

func (s *keySource) page(prefix string, from, max int) providers.Page {
	s.requests.Add(1)
	if max == 0 {
		max = s.pageSize
	}
	var p providers.Page
	i := from
	for ; i < len(s.keys) && len(p.Objects) < max; i++ {
		if !strings.HasPrefix(s.keys[i], prefix) {
			if s.keys[i] > prefix {
				break
			}
			continue
		}
		p.Objects = append(p.Objects, providers.Object{Key: s.keys[i]})
	}
	for ; i < len(s.keys); i++ {
		if strings.HasPrefix(s.keys[i], prefix) {
			p.Next = strconv.Itoa(i)
			break
		}
		if s.keys[i] > prefix {
			break
		}
	}
	return p
}

func (s *keySource) List(_ context.Context, _ string, o providers.ListOptions) (providers.Page, error) {
	from := 0
	if o.Token != "" {
		from, _ = strconv.Atoi(o.Token)
	}
	return s.page(o.Prefix, from, o.MaxResults), nil
}

func (s *keySource) Stat(context.Context, string, string) (providers.ObjectInfo, error) {
	return providers.ObjectInfo{}, providers.ErrNotFound
}

func (s *keySource) ListAfter(_ context.Context, _ string, o providers.ListOptions, after string) (providers.Page, error) {
	return s.page(o.Prefix, sort.SearchStrings(s.keys, after+"\x00"), o.MaxResults), nil
}

// sequentialOnly hides ListAfter.
type sequentialOnly struct{ *keySource }

func (s sequentialOnly) List(ctx context.Context, b string, o providers.ListOptions) (providers.Page, error) {
	return s.keySource.List(ctx, b, o)
}

func TestListPartitioned(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "b", "z", "0", "9", "/", " ", "~", "\x01", "é", "日", "\U0010FFFF", "-", "A"}
	seen := map[string]bool{}
	var keys []string
	for len(keys) < 5000 {
		var b strings.Builder
		for range 1 + r.IntN(8) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		if k := b.String(); !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	for i := range 3000 { // a dense, deep branch
		keys = append(keys, fmt.Sprintf("logs/2024/%05d", i))
	}
	sort.Strings(keys)
	for _, prefix := range []string{"", "logs/", "a", "nothing"} {
		for _, parts := range []int{1, 4, 16} {
			for _, seq := range []bool{false, true} {
				ks := &keySource{keys: keys, pageSize: 100}
				var src providers.Source = ks
				if seq {
					src = sequentialOnly{ks}
				}
				got := map[string]int{}
				err := ListPartitioned(context.Background(), src, "b", prefix, parts, func(p providers.Page) error {
					for _, o := range p.Objects {
						got[o.Key]++
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				want := 0
				for _, k := range keys {
					if strings.HasPrefix(k, prefix) {
						want++
						if got[k] != 1 {
							t.Fatalf("prefix %q parts %d: key %q listed %d times", prefix, parts, k, got[k])
						}
					}
				}
				if len(got) != want {
					t.Fatalf("prefix %q parts %d: %d keys, want %d", prefix, parts, len(got), want)
				}
			}
		}
	}
}

func TestListPartitionedStopsOnError(t *testing.T) {
	keys := make([]string, 2000)
	for i := range keys {
		keys[i] = fmt.Sprintf("%c/%04d", 'a'+i%20, i)
	}
	sort.Strings(keys)
	stop := fmt.Errorf("stop")
	n := 0
	err := ListPartitioned(context.Background(), &keySource{keys: keys, pageSize: 50}, "b", "", 8, func(p providers.Page) error {
		if n++; n == 3 {
			return stop
		}
		return nil
	})
	if err != stop {
		t.Fatalf("err %v", err)
	}
}
