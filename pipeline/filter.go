package pipeline

import (
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/migrate-tool/migrate/providers"
)

// Filter selects the objects of a route. The zero Filter selects all.
type Filter struct {
	// Include, when not empty, keeps only keys matching one of its globs;
	// Exclude drops keys matching one of its globs (Exclude wins). A glob
	// matches the key relative to the route's prefix; a glob without "/"
	// matches the last segment (the file name) instead. "*" and "?" do not
	// cross "/", "**" does, "[...]" is a class (path.Match syntax).
	Include, Exclude []string
	// After and Before keep objects last modified at or after After and
	// strictly before Before (zero = no bound).
	After, Before time.Time
	// MinSize and MaxSize keep objects of at least MinSize and at most
	// MaxSize bytes (MaxSize 0 = no bound).
	MinSize, MaxSize int64
}

// Validate reports a malformed glob.
func (f Filter) Validate() error {
	for _, g := range append(append([]string(nil), f.Include...), f.Exclude...) {
		if _, err := matchGlob(g, "x"); err != nil {
			return fmt.Errorf("bad glob %q: %w", g, err)
		}
	}
	if f.MaxSize > 0 && f.MinSize > f.MaxSize {
		return fmt.Errorf("min size %d is above max size %d", f.MinSize, f.MaxSize)
	}
	if !f.After.IsZero() && !f.Before.IsZero() && !f.After.Before(f.Before) {
		return fmt.Errorf("include-after %s is not before include-before %s", f.After.Format(time.RFC3339), f.Before.Format(time.RFC3339))
	}
	return nil
}

// Why returns why obj (whose key relative to the prefix is rel) is filtered
// out, or "" when it is selected.
func (f Filter) Why(rel string, obj providers.Object) string {
	if obj.Size < f.MinSize {
		return "smaller than --min-size"
	}
	if f.MaxSize > 0 && obj.Size > f.MaxSize {
		return "larger than --max-size"
	}
	if !f.After.IsZero() && obj.LastModified.Before(f.After) {
		return "modified before --include-after"
	}
	if !f.Before.IsZero() && !obj.LastModified.Before(f.Before) {
		return "modified at or after --include-before"
	}
	if len(f.Include) > 0 && !matchAny(f.Include, rel) {
		return "not matched by --include"
	}
	if matchAny(f.Exclude, rel) {
		return "matched by --exclude"
	}
	return ""
}

func matchAny(globs []string, rel string) bool {
	for _, g := range globs {
		if ok, _ := matchGlob(g, rel); ok {
			return true
		}
	}
	return false
}

// matchGlob matches rel against g: path.Match per segment, "**" matching
// any number of segments, and a glob without "/" against the last segment.
func matchGlob(g, rel string) (bool, error) {
	if !strings.Contains(g, "/") && !strings.Contains(g, "**") {
		return path.Match(g, path.Base("/"+rel))
	}
	return matchSegments(strings.Split(g, "/"), strings.Split(rel, "/"))
}

func matchSegments(gs, ss []string) (bool, error) {
	for len(gs) > 0 {
		if gs[0] == "**" {
			for i := 0; i <= len(ss); i++ {
				if ok, err := matchSegments(gs[1:], ss[i:]); ok || err != nil {
					return ok, err
				}
			}
			return false, nil
		}
		if len(ss) == 0 {
			return false, nil
		}
		ok, err := path.Match(gs[0], ss[0])
		if !ok || err != nil {
			return false, err
		}
		gs, ss = gs[1:], ss[1:]
	}
	return len(ss) == 0, nil
}
