package truststore

import (
	"bytes"
	"crypto/x509"
	"sync"
	"testing"
	"time"
)

// chainsOf lists the chains to check: each leaf alone and with every one
// or two of the intermediates (the leaves under Root M, whose verification
// tries forty roots per step, with their own intermediates).
func (w *world) chainsOf() [][]*x509.Certificate {
	var out [][]*x509.Certificate
	for _, l := range w.leaves {
		inters := w.inters
		if l.cert.Issuer.CommonName == "Root M" {
			inters = w.mInters
		}
		out = append(out, []*x509.Certificate{l.cert})
		for i, a := range inters {
			out = append(out, []*x509.Certificate{l.cert, a.cert})
			for _, b := range inters[i+1:] {
				out = append(out, []*x509.Certificate{l.cert, a.cert, b.cert})
			}
		}
	}
	return out
}

// checkTimes are the verification times: everything valid but E; B expired
// too; nothing valid yet.
var checkTimes = [...]time.Time{epoch, epoch.AddDate(0, 2, 0), epoch.AddDate(-2, 0, 0)}

// TestSameVerdictAsFullPool is the equivalence: for every chain and time,
// Verify against Roots(chain) finds the same chains, or fails with the same
// error, as against the pool of every certificate of the store. One Store
// serves all chains, from two goroutines, as in domain mode.
func TestSameVerdictAsFullPool(t *testing.T) {
	w := newWorld(t)
	full := referencePool(t, w.files, w.dirs, w.extraPEM)
	store := newStore(w.files, w.dirs).WithExtra(w.extraPEM)
	chains := w.chainsOf()

	var (
		mu       sync.Mutex
		outcomes = map[string]int{}
		wg       sync.WaitGroup
	)
	for part := range 2 {
		wg.Go(func() {
			for i := part; i < len(chains); i += 2 {
				chain := chains[i]
				pool, err := store.Roots(chain)
				if err != nil {
					t.Errorf("Roots: %v", err)
					return
				}
				for _, at := range checkTimes {
					want := verdict(verify(chain, full, at))
					got := verdict(verify(chain, pool, at))
					if got != want {
						t.Errorf("chain %s at %s:\n got: %s\nwant: %s", describeChain(chain), at.Format(time.DateOnly), got, want)
					}
					mu.Lock()
					outcomes[firstLine(want)]++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	// The chains must exercise the verifier's outcomes, or the equality
	// proves little.
	t.Logf("%d chains × %d times; outcomes:", len(chains), len(checkTimes))
	for k, n := range outcomes {
		t.Logf("%6d  %q", n, k)
	}
	need := []string{"chain:", "unknown authority", "possibly because", "expired", "incompatible",
		"not permitted", "signature check attempts limit"}
	for _, n := range need {
		found := false
		for k := range outcomes {
			if bytes.Contains([]byte(k), []byte(n)) {
				found = true
			}
		}
		if !found {
			t.Errorf("no chain had the outcome %q", n)
		}
	}
}

func describeChain(chain []*x509.Certificate) string {
	var b bytes.Buffer
	for i, c := range chain {
		if i > 0 {
			b.WriteString(" <- ")
		}
		b.WriteString(c.Subject.CommonName)
		b.WriteString("/")
		b.WriteString(c.Issuer.CommonName)
	}
	return b.String()
}

func firstLine(s string) string {
	if i := bytes.IndexByte([]byte(s), '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 160 {
		s = s[:160]
	}
	return s
}
