package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/migrate-tool/migrate/providers"
)

const (
	// MiB is 2^20 bytes.
	MiB = int64(1) << 20
	// DefaultBlockSize is the block size for objects above the put-blob
	// threshold when --block-size is not set, raised for objects so large
	// that this size would need more blocks than the destination allows.
	DefaultBlockSize = 64 * MiB
	// DefaultPutBlobMaxSize is the largest object copied with one Put Blob
	// From URL when --put-blob-max-size is not set.
	DefaultPutBlobMaxSize = 256 * MiB
	// DefaultStreamBlockSize is the block size of streamed objects when
	// --block-size is not set: every block in flight is held in memory.
	DefaultStreamBlockSize = 16 * MiB
	// DefaultStreamMemory caps the block buffers of streaming.
	DefaultStreamMemory = 512 * MiB
)

// AzureLimits are the destination limits assumed when a destination does
// not state its own.
var AzureLimits = providers.Limits{
	MaxPutBlobFromURL: 5000 * MiB,
	MaxBlockSize:      4000 * MiB,
	MaxBlocks:         50000,
}

// BlockPlan says how an object is cut into blocks.
type BlockPlan struct {
	Size      int64 // object size
	BlockSize int64 // every block but the last has this size
	Count     int   // number of blocks
}

// Range returns the byte range of block i.
func (b BlockPlan) Range(i int) providers.Range {
	off := int64(i) * b.BlockSize
	n := b.BlockSize
	if off+n > b.Size {
		n = b.Size - off
	}
	return providers.Range{Offset: off, Count: n}
}

// PlanBlocks chooses the block size of an object of size bytes. requested
// is the user's --block-size (0 = choose): it must fit the destination's
// block size limit and give no more blocks than it allows. Without a
// request the default block size is used, raised (to a whole MiB) when the
// object would otherwise need more blocks than allowed.
func PlanBlocks(size, requested int64, lim providers.Limits) (BlockPlan, error) {
	return planBlocks(size, requested, DefaultBlockSize, lim)
}

// PlanStreamBlocks is PlanBlocks for streamed objects, whose blocks pass
// through memory: the default is DefaultStreamBlockSize.
func PlanStreamBlocks(size, requested int64, lim providers.Limits) (BlockPlan, error) {
	return planBlocks(size, requested, DefaultStreamBlockSize, lim)
}

func planBlocks(size, requested, def int64, lim providers.Limits) (BlockPlan, error) {
	if size <= 0 {
		return BlockPlan{Size: size}, nil
	}
	maxBlocks := int64(lim.MaxBlocks)
	bs := requested
	if bs < 0 {
		return BlockPlan{}, fmt.Errorf("block size %d is negative", bs)
	}
	if bs == 0 {
		bs = def
		if need := ceilDiv(size, maxBlocks); need > bs {
			bs = ceilDiv(need, MiB) * MiB
		}
	}
	if bs > lim.MaxBlockSize {
		return BlockPlan{}, fmt.Errorf("block size %s is larger than the destination's limit of %s", FormatBytes(bs), FormatBytes(lim.MaxBlockSize))
	}
	n := ceilDiv(size, bs)
	if n > 1 && bs < lim.MinBlockSize {
		return BlockPlan{}, fmt.Errorf("block size %s is smaller than the destination's minimum of %s", FormatBytes(bs), FormatBytes(lim.MinBlockSize))
	}
	if n > maxBlocks {
		return BlockPlan{}, fmt.Errorf("object of %s needs %d blocks of %s, more than the destination's limit of %d blocks; use a block size of at least %s",
			FormatBytes(size), n, FormatBytes(bs), maxBlocks, FormatBytes(ceilDiv(ceilDiv(size, maxBlocks), MiB)*MiB))
	}
	return BlockPlan{Size: size, BlockSize: bs, Count: int(n)}, nil
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

// BlockIDs returns the block IDs of an object: deterministic for the same
// object version and block plan (so an interrupted copy can find the blocks
// it already staged), all of the same length (Azure's rule).
func BlockIDs(bucket string, obj providers.Object, plan BlockPlan) []providers.BlockID {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%d\x00%d", bucket, obj.Key, obj.VersionID, obj.ETag, obj.Size, plan.BlockSize)
	tag := hex.EncodeToString(h.Sum(nil))[:16]
	ids := make([]providers.BlockID, plan.Count)
	for i := range ids {
		ids[i] = providers.BlockID(fmt.Sprintf("%s-%06d", tag, i))
	}
	return ids
}

// FormatBytes renders n bytes in binary units (e.g. "64 MiB", "1.5 GiB").
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit && n > -unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit || m <= -unit; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	s := fmt.Sprintf("%.1f", v)
	if len(s) > 2 && s[len(s)-2:] == ".0" {
		s = s[:len(s)-2]
	}
	return s + " " + string("KMGTPE"[exp]) + "iB"
}
