package truststore

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"testing"
)

// pemBlocks is what pem.Decode finds in data, in comparable form.
func pemBlocks(data []byte) []string {
	var out []string
	for len(data) > 0 {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		out = append(out, fmt.Sprintf("%q headers=%v %x", b.Type, len(b.Headers) > 0, b.Bytes))
	}
	return out
}

// FuzzNextBlock: nextBlock, skipping the blocks whose body does not decode,
// finds exactly the blocks pem.Decode returns.
func FuzzNextBlock(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		var got []string
		for rest := data; len(rest) > 0; {
			b, next, ok := nextBlock(rest)
			if !ok {
				break
			}
			if len(next) >= len(rest) {
				t.Fatal("no progress")
			}
			rest = next
			der := decodeBody(b.body)
			if der == nil {
				continue
			}
			got = append(got, fmt.Sprintf("%q headers=%v %x", b.typ, b.headers, der))
		}
		want := pemBlocks(data)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("blocks differ:\n got %q\nwant %q", got, want)
		}
	})
}

// FuzzSubjectOf: on any DER that x509 parses, the walk finds RawSubject,
// from the whole DER and from any prefix that holds the subject; it never
// panics.
func FuzzSubjectOf(f *testing.F) {
	f.Fuzz(func(t *testing.T, der []byte) {
		subj, ok := subjectOf(der)
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return
		}
		if !ok || !bytes.Equal(subj, c.RawSubject) {
			t.Fatalf("walk: %x %v, want %x", subj, ok, c.RawSubject)
		}
		// subj is der[start:end]: every prefix holding it must do, no
		// shorter one can.
		end := cap(der) - cap(subj) + len(subj)
		for k := len(der); k >= 0; k-- {
			s, ok := subjectOf(der[:k])
			if ok != (k >= end) || ok && !bytes.Equal(s, c.RawSubject) {
				t.Fatalf("prefix %d of %d (subject ends at %d): %x %v", k, len(der), end, s, ok)
			}
		}
	})
}

// FuzzScan: the index of a file holds, in order, the certificates
// AppendCertsFromPEM would add (before removing duplicates), each under
// its own subject.
func FuzzScan(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		var want [][]byte
		for rest := data; len(rest) > 0; {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			if b.Type != "CERTIFICATE" || len(b.Headers) != 0 {
				continue
			}
			if c, err := x509.ParseCertificate(b.Bytes); err == nil {
				want = append(want, c.Raw)
			}
		}
		sc, _ := scan(data, nil)
		idx := newIndex([]scanned{sc})
		var got [][]byte
		for i := range idx.entries {
			e := &idx.entries[i]
			c := e.cert(&idx.parsed)
			if c == nil {
				continue
			}
			if !bytes.Equal(e.subject, c.RawSubject) {
				t.Fatalf("indexed under %x, subject %x", e.subject, c.RawSubject)
			}
			got = append(got, c.Raw)
		}
		if len(got) != len(want) {
			t.Fatalf("%d certificates, want %d", len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("certificate %d differs", i)
			}
		}
	})
}
