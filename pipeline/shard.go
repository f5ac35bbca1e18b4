package pipeline

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// Shard is one part of a job split among independent processes: the
// process with Index i of Count handles exactly the objects whose
// ShardOf(bucket, key, Count) is i. The zero Shard (Count 0) is the whole
// job.
//
// The split is by a hash of bucket and key, not by bucket or by prefix, so
// one huge bucket is shared among all shards, the parts are balanced
// whatever the key layout, and the same object always falls in the same
// shard (a resumed or re-run shard sees the same objects). Every shard
// still lists the whole source: listing is cheap next to copying (1 LIST
// per 1,000 objects against at least one HEAD and one copy each).
type Shard struct {
	Index, Count int
}

// ParseShard reads "I/N" (0 ≤ I < N).
func ParseShard(s string) (Shard, error) {
	is, ns, ok := strings.Cut(s, "/")
	if !ok {
		return Shard{}, fmt.Errorf("%q is not INDEX/COUNT (e.g. 0/4)", s)
	}
	i, err1 := strconv.Atoi(strings.TrimSpace(is))
	n, err2 := strconv.Atoi(strings.TrimSpace(ns))
	if err1 != nil || err2 != nil {
		return Shard{}, fmt.Errorf("%q is not INDEX/COUNT (e.g. 0/4)", s)
	}
	if n < 1 {
		return Shard{}, fmt.Errorf("shard count must be at least 1, got %d", n)
	}
	sh := Shard{Index: i, Count: n}
	return sh, sh.Validate()
}

// Validate reports an index outside [0, Count) or a Count below 1 (the
// zero Shard is valid: no sharding).
func (s Shard) Validate() error {
	if s == (Shard{}) {
		return nil
	}
	if s.Count < 1 {
		return fmt.Errorf("shard count must be at least 1, got %d", s.Count)
	}
	if s.Index < 0 || s.Index >= s.Count {
		return fmt.Errorf("shard index must be between 0 and %d, got %d", s.Count-1, s.Index)
	}
	return nil
}

// String is "I/N", or "" for the whole job.
func (s Shard) String() string {
	if s.Count == 0 {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

// Owns reports whether the object (bucket, key) belongs to this shard.
// The zero Shard owns everything.
func (s Shard) Owns(bucket, key string) bool {
	return s.Count <= 1 || ShardOf(bucket, key, s.Count) == s.Index
}

// ShardOf is the shard of (bucket, key) among n: FNV-1a 64 of the bucket,
// a 0 byte (no bucket name holds one, so ("a", "bc") and ("ab", "c")
// differ) and the key, passed through MurmurHash3's 64-bit finalizer, modulo
// n. The finalizer matters: FNV-1a's low bits depend only on the low bits
// of the input bytes (its last step is a multiplication by an odd number),
// so "mod 4" of the raw hash would split keys by their characters' parity.
// It is part of the job's contract: it must never change, or shards of one
// job run by two versions would overlap.
func ShardOf(bucket, key string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(bucket))
	h.Write([]byte{0})
	h.Write([]byte(key))
	x := h.Sum64()
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return int(x % uint64(n))
}
