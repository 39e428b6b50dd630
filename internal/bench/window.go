package bench

// windowBits is how far below the highest seq a subscription still tells
// a late event from a duplicate: with --rate 0 and many publishers, one
// stalled publish request lets the others publish hundreds of events
// before it, so 64 (IPsec's usual window) is too few. 1024 bits are 128
// bytes per subscription, 1.9 MB for a worker's 15,000.
const windowBits = 1024

// seenWindow detects duplicates the way IPsec's anti-replay window does:
// seqs arrive nearly in order (publishers run several requests in
// parallel), so the highest seq seen and a bitmap of the windowBits below
// it suffice. The bitmap is a ring indexed by seq % windowBits. Not safe
// for concurrent use; the zero value has seen nothing.
type seenWindow struct {
	last uint64
	bits [windowBits / 64]uint64
}

// add records seq (from 1) and reports whether it was seen before, or is
// too far below the highest seq to tell (then it counts as seen).
func (w *seenWindow) add(seq uint64) (dup bool) {
	if seq > w.last {
		if seq-w.last >= windowBits {
			w.bits = [windowBits / 64]uint64{}
		} else {
			for s := w.last + 1; s < seq; s++ {
				w.bits[s%windowBits/64] &^= 1 << (s % 64)
			}
		}
		w.last = seq
		w.bits[seq%windowBits/64] |= 1 << (seq % 64)
		return false
	}
	if w.last-seq >= windowBits {
		return true
	}
	word, bit := &w.bits[seq%windowBits/64], uint64(1)<<(seq%64)
	if *word&bit != 0 {
		return true
	}
	*word |= bit
	return false
}
