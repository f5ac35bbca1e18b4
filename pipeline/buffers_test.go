package pipeline

import "testing"

func TestBuffersReuseWithinTheirBound(t *testing.T) {
	p := buffers{max: 10}
	a := p.get(4)
	if len(a) != 4 {
		t.Fatalf("len %d", len(a))
	}
	p.put(a)
	if b := p.get(3); &b[:1][0] != &a[:1][0] || len(b) != 3 {
		t.Error("a free buffer big enough was not reused")
	}
	p.put(make([]byte, 6))
	p.put(make([]byte, 6)) // would hold 12 > 10: dropped
	if p.held != 6 || len(p.free) != 1 {
		t.Errorf("held %d bytes in %d buffers, want 6 in 1", p.held, len(p.free))
	}
	if b := p.get(8); cap(b) < 8 || p.held != 6 {
		t.Error("a request larger than every free buffer must allocate and leave the list alone")
	}
}
