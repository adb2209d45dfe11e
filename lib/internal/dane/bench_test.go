package dane

import "testing"

// BenchmarkVerify covers the two costs: hashing the chain (DANE-EE) and
// checking signatures up to an anchor (DANE-TA, here the root's bare key,
// behind a record that matches nothing).
func BenchmarkVerify(b *testing.B) {
	p := newPKI(b)
	chain := p.chain(false)
	ee := []Record{RecordFor(p.leaf.cert, UsageDANEEE, SelectorSPKI, MatchSHA256)}
	ta := []Record{RecordFor(p.inter.cert, UsageDANEEE, SelectorSPKI, MatchSHA256), RecordFor(p.root.cert, UsageDANETA, SelectorSPKI, MatchFull)}
	b.Run("DANE-EE", func(b *testing.B) {
		for b.Loop() {
			if Verify(ee, chain, mxHost, clock()).Result != Match {
				b.Fatal("no match")
			}
		}
	})
	b.Run("DANE-TA", func(b *testing.B) {
		for b.Loop() {
			if Verify(ta, chain, mxHost, clock()).Result != Match {
				b.Fatal("no match")
			}
		}
	})
}
