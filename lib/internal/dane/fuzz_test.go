package dane

import (
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"os"
	"slices"
	"strings"
	"testing"
)

// FuzzParseRecord: no input panics, and what parses prints back to itself.
// Seeds: testdata/fuzz/FuzzParseRecord.
func FuzzParseRecord(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRecord(s)
		if err != nil {
			return
		}
		again, err := ParseRecord(r.String())
		if err != nil {
			t.Fatalf("ParseRecord(%q) = %v, whose String() does not parse: %v", s, r, err)
		}
		if again.String() != r.String() {
			t.Fatalf("round trip %q -> %q", r.String(), again.String())
		}
	})
}

// fuzzChain is the fixed leaf, intermediate and root of testdata (valid
// from 2026 to 2036, for mx.example.org), so that seeds can carry records
// that match it.
func fuzzChain(f testing.TB) []*x509.Certificate {
	b, err := os.ReadFile("testdata/fuzz-chain.pem")
	if err != nil {
		f.Fatal(err)
	}
	var chain []*x509.Certificate
	for {
		var blk *pem.Block
		if blk, b = pem.Decode(b); blk == nil {
			break
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			f.Fatal(err)
		}
		chain = append(chain, c)
	}
	if len(chain) != 3 {
		f.Fatalf("testdata/fuzz-chain.pem has %d certificates, want 3", len(chain))
	}
	return chain
}

// decodeRRset reads the fuzzer's bytes as TLSA records, each usage,
// selector, matching type, a 2-byte data length and the data.
func decodeRRset(b []byte) []Record {
	var rs []Record
	for len(b) >= 5 {
		n := int(binary.BigEndian.Uint16(b[3:5]))
		r := Record{Usage: b[0], Selector: b[1], MatchingType: b[2]}
		b = b[5:]
		n = min(n, len(b))
		r.Data, b = b[:n], b[n:]
		rs = append(rs, r)
	}
	return rs
}

// FuzzVerify: no RRset and no shape of the fixed chain makes Verify panic
// or break its promises. Seeds (testdata/fuzz/FuzzVerify) hold records that
// match the fixed chain in each way, malformed ones and unusable ones.
func FuzzVerify(f *testing.F) {
	fixed := fuzzChain(f)
	leaf, inter, root := fixed[0], fixed[1], fixed[2]
	f.Fuzz(func(t *testing.T, shape byte, rrset []byte) {
		// shape picks the presented chain: bit 0 the intermediate, bit 1
		// the root, bit 2 issuers in reverse, bit 3 a nil entry, bit 4 no leaf.
		var chain []*x509.Certificate
		if shape&16 == 0 {
			chain = append(chain, leaf)
		}
		var up []*x509.Certificate
		if shape&1 != 0 {
			up = append(up, inter)
		}
		if shape&2 != 0 {
			up = append(up, root)
		}
		if shape&4 != 0 {
			slices.Reverse(up)
		}
		if shape&8 != 0 {
			chain = append(chain, nil)
		}
		chain = append(chain, up...)

		records := decodeRRset(rrset)
		v := Verify(records, chain, mxHost, clock())
		usable := 0
		for _, r := range records {
			if r.Usable() {
				usable++
			}
		}
		switch {
		case v.Usable != usable:
			t.Fatalf("Usable %d, want %d", v.Usable, usable)
		case (len(records) == 0) != (v.Result == None):
			t.Fatalf("result %v for %d records", v.Result, len(records))
		case (v.Result == Match) != (v.Matched != nil):
			t.Fatalf("result %v, matched %v", v.Result, v.Matched)
		case v.Matched != nil && !v.Matched.Usable():
			t.Fatalf("matched an unusable record %v", v.Matched)
		case v.Result == Unusable && usable != 0:
			t.Fatalf("unusable with %d usable records", usable)
		}
		if d := v.Describe(25, mxHost); strings.ContainsAny(d, ";|\n") {
			t.Fatalf("Describe = %q", d)
		}
	})
}
