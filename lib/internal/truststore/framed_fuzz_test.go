package truststore

import (
	"bytes"
	"testing"
)

// FuzzFramedBody: every body framedBody accepts, in the whole file or in
// any window of it, is the body of a block scan would consider (type
// CERTIFICATE, no headers, not empty); a window accepts no more than the
// whole file does.
func FuzzFramedBody(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		found := map[[2]int]bool{}
		for rest := data; len(rest) > 0; {
			b, next, ok := nextBlock(rest)
			if !ok {
				break
			}
			rest = next
			if string(b.typ) == "CERTIFICATE" && !b.headers && len(b.body) > 0 {
				found[[2]int{cap(data) - cap(b.body), len(b.body)}] = true
			}
		}
		// Candidates: every line start, with the body up to the next END
		// marker or to every later newline.
		for s := 1; s <= len(data); s++ {
			if data[s-1] != '\n' {
				continue
			}
			var ns []int
			if e := bytes.Index(data[s-1:], []byte("\n-----END ")); e > 0 {
				ns = append(ns, e-1)
			}
			for i := s; i < len(data) && len(ns) < 8; i++ {
				if data[i] == '\n' {
					ns = append(ns, i-s)
				}
			}
			for _, n := range ns {
				whole := framedBody(data, s, n, true, true)
				if whole && !found[[2]int{s, n}] {
					t.Fatalf("framedBody accepts [%d, %d), which scan does not find", s, s+n)
				}
				for _, cut := range [...]int{s / 2, s - 1} {
					for _, end := range [...]int{len(data), s + n + (len(data)-s-n)/2} {
						w := data[cut:end]
						if framedBody(w, s-cut, n, cut == 0, end == len(data)) && !whole {
							t.Fatalf("the window [%d, %d) accepts [%d, %d), the whole file does not", cut, end, s, s+n)
						}
					}
				}
			}
		}
	})
}

// TestFramedBody: the framings framedBody accepts and refuses.
func TestFramedBody(t *testing.T) {
	c := makeCert(t, certSpec{subject: name("Root F")})
	p := pemOf(c.cert)
	body := func(data []byte) (int, int) {
		b := bytes.Index(data, []byte("-----BEGIN"))
		s := b + bytes.IndexByte(data[b:], '\n') + 1
		return s, bytes.Index(data[s-1:], []byte("\n-----END ")) - 1
	}
	for _, tc := range []struct {
		name string
		data []byte
		want bool
	}{
		{"plain", p, true},
		{"after-another", append([]byte("junk\n"), p...), true},
		{"crlf", bytes.ReplaceAll(p, []byte("\n"), []byte("\r\n")), true},
		{"blanks-after-lines", bytes.ReplaceAll(p, []byte("-----\n"), []byte("----- \t\n")), true},
		{"no-final-newline", bytes.TrimSuffix(p, []byte("\n")), true},
		{"end-line-junk", bytes.Replace(p, []byte("END CERTIFICATE-----\n"), []byte("END CERTIFICATE----- x\n"), 1), false},
		{"begin-mid-line", append([]byte("x"), p...), false},
		{"trusted", bytes.ReplaceAll(p, []byte("CERTIFICATE"), []byte("TRUSTED CERTIFICATE")), false},
		{"headers", bytes.Replace(p, []byte("-----\n"), []byte("-----\nProc-Type: 4,ENCRYPTED\n\n"), 1), false},
	} {
		s, n := body(tc.data)
		if got := framedBody(tc.data, s, n, true, true); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	// A window that starts inside the BEGIN line, or ends inside the END
	// line, cannot tell.
	s, n := body(p)
	if framedBody(p[3:], s-3, n, false, true) {
		t.Error("accepted without the start of the BEGIN line")
	}
	if framedBody(p[:len(p)-3], s, n, true, false) {
		t.Error("accepted without the end of the END line")
	}
	if !framedBody(append([]byte("\n"), p...)[0:], s+1, n, false, true) {
		t.Error("refused a window that starts at a line start")
	}
}
