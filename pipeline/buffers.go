package pipeline

import "sync"

// buffers is a free list of block buffers for streaming. Reusing them keeps
// the heap near the bytes actually in flight: allocating a buffer per block
// would leave up to the GC's slack (GOGC) of garbage on top of the bound.
// It keeps at most max bytes of free buffers.
type buffers struct {
	mu   sync.Mutex
	free [][]byte
	held int64
	max  int64
}

// get returns a buffer of length n, reused when one is big enough.
func (p *buffers) get(n int64) []byte {
	p.mu.Lock()
	for i := len(p.free) - 1; i >= 0; i-- {
		if b := p.free[i]; int64(cap(b)) >= n {
			p.free = append(p.free[:i], p.free[i+1:]...)
			p.held -= int64(cap(b))
			p.mu.Unlock()
			return b[:n]
		}
	}
	p.mu.Unlock()
	return make([]byte, n)
}

// put returns b for reuse; beyond max bytes of free buffers, or when b is
// smaller than every buffer that could need it, it is left to the GC.
func (p *buffers) put(b []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.held+int64(cap(b)) > p.max {
		return
	}
	p.free = append(p.free, b[:0])
	p.held += int64(cap(b))
}
