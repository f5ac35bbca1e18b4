package main

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/migrate-tool/migrate/providers/providertest"
)

// TestFiltersSelectExactlyWhatTheySay runs each filter against the rig and
// compares the blobs that arrive with the keys the filter describes.
func TestFiltersSelectExactlyWhatTheySay(t *testing.T) {
	w := newWorld(t)
	const bucket = "e2e-filters"
	objs := map[string]int{
		"logs/2024/a.gz": 10, "logs/2024/b.txt": 2000, "logs/c.gz": 300,
		"data/x.csv": 50, "data/y.csv": 5000, "data/deep/z.csv": 700, "readme.txt": 1,
	}
	var seeds []seed
	for k, n := range objs {
		seeds = append(seeds, seed{key: k, data: providertest.Data(n, uint32(n))})
	}
	w.seed(t, bucket, seeds)
	seeded := time.Now()
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"include by name", []string{"--include", "*.csv"}, []string{"data/deep/z.csv", "data/x.csv", "data/y.csv"}},
		{"include by path, one level", []string{"--include", "data/*.csv"}, []string{"data/x.csv", "data/y.csv"}},
		{"exclude a tree", []string{"--exclude", "logs/**"}, []string{"data/deep/z.csv", "data/x.csv", "data/y.csv", "readme.txt"}},
		{"include and exclude", []string{"--include", "*.gz", "--include", "*.txt", "--exclude", "logs/2024/**"}, []string{"logs/c.gz", "readme.txt"}},
		{"size bounds", []string{"--min-size", "50", "--max-size", "2000"}, []string{"data/deep/z.csv", "data/x.csv", "logs/2024/b.txt", "logs/c.gz"}},
		{"modified before the seeding", []string{"--include-before", seeded.Add(-time.Hour).UTC().Format(time.RFC3339)}, nil},
		{"modified after a past date", []string{"--include-after", "2020-01-01"}, []string{"data/deep/z.csv", "data/x.csv", "data/y.csv", "logs/2024/a.gz", "logs/2024/b.txt", "logs/c.gz", "readme.txt"}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			container := "filters-" + string(rune('a'+i))
			args := append([]string{"copy", "s3://" + bucket, w.az.Endpoint + "/" + container, "--s3-endpoint", w.proxy.URL}, tc.args...)
			code, stdout, stderr := w.run(t, args...)
			if code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
			}
			var got []string
			for k := range w.listBlobs(t, container) {
				got = append(got, k)
			}
			sort.Strings(got)
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("copied %v, want %v", got, tc.want)
			}
			if filtered := len(objs) - len(tc.want); filtered > 0 && !strings.Contains(stdout, "filtered out:") {
				t.Errorf("the summary does not count the %d filtered objects:\n%s", filtered, stdout)
			}
		})
	}
}
