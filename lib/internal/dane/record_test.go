package dane

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"strings"
	"testing"
)

func TestRecordForComputesEachSelectorAndMatchingType(t *testing.T) {
	p := newPKI(t)
	c := p.leaf.cert
	s256 := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	s512 := sha512.Sum512(c.Raw)
	for _, tc := range []struct {
		sel, mt uint8
		want    []byte
	}{
		{0, 0, c.Raw},
		{1, 0, c.RawSubjectPublicKeyInfo},
		{1, 1, s256[:]},
		{0, 2, s512[:]},
		{2, 1, nil}, // unknown selector
		{1, 3, nil}, // unknown matching type
	} {
		r := RecordFor(c, 3, tc.sel, tc.mt)
		if r.Usage != 3 || r.Selector != tc.sel || r.MatchingType != tc.mt || !bytes.Equal(r.Data, tc.want) {
			t.Errorf("RecordFor(3 %d %d) = %v, want data %x", tc.sel, tc.mt, r, tc.want)
		}
	}
	// Full(0) data is a copy: changing it must not change the certificate.
	r := RecordFor(c, 3, 0, 0)
	r.Data[0] ^= 0xff
	if c.Raw[0] == r.Data[0] {
		t.Error("RecordFor(3 0 0) shares the certificate's bytes")
	}
}

func TestRecordPresentation(t *testing.T) {
	r := Record{Usage: 3, Selector: 1, MatchingType: 1, Data: []byte{0xab, 0x12, 0xcd, 0x34, 0xef, 0x56}}
	if got, want := r.String(), "3 1 1 ab12cd34ef56"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got, want := r.Label(), "DANE-EE 3 1 1"; got != want {
		t.Errorf("Label() = %q, want %q", got, want)
	}
	if got, want := r.Short(), "3 1 1 ab12cd34…"; got != want {
		t.Errorf("Short() = %q, want %q", got, want)
	}
	if got, want := (Record{Usage: 2, Selector: 0, MatchingType: 1, Data: []byte{1, 2}}).Short(), "2 0 1 0102"; got != want {
		t.Errorf("Short() of short data = %q, want %q", got, want)
	}
	if got, want := (Record{Usage: 3, Selector: 1, MatchingType: 1}).String(), "3 1 1"; got != want {
		t.Errorf("String() without data = %q, want %q", got, want)
	}
	for u, want := range map[uint8]string{0: "PKIX-TA 0 1 1", 1: "PKIX-EE 1 1 1", 2: "DANE-TA 2 1 1", 9: "usage 9 1 1"} {
		if got := (Record{Usage: u, Selector: 1, MatchingType: 1}).Label(); got != want {
			t.Errorf("Label() of usage %d = %q, want %q", u, got, want)
		}
	}
}

func TestParseRecord(t *testing.T) {
	data := []byte{0xab, 0x12, 0xcd, 0x34}
	for _, in := range []string{
		"3 1 1 ab12cd34",
		"3 1 1 AB12 CD34",            // dig's form
		"  3\t1 1 ( ab12\n cd34 )  ", // zone file
		"DANE-EE SPKI SHA2-256 ab12cd34",
		"dane-ee spki sha2-256 ab12cd34",
	} {
		r, err := ParseRecord(in)
		if err != nil {
			t.Errorf("ParseRecord(%q): %v", in, err)
			continue
		}
		if r.Usage != 3 || r.Selector != 1 || r.MatchingType != 1 || !bytes.Equal(r.Data, data) {
			t.Errorf("ParseRecord(%q) = %v", in, r)
		}
	}
	r, err := ParseRecord("PKIX-TA Cert Full 00")
	if err != nil || r.Usage != 0 || r.Selector != 0 || r.MatchingType != 0 {
		t.Errorf("ParseRecord(PKIX-TA Cert Full) = %v, %v", r, err)
	}
	r, err = ParseRecord("255 255 255 00")
	if err != nil || r.Usage != 255 || r.Selector != 255 || r.MatchingType != 255 {
		t.Errorf("ParseRecord(255 255 255) = %v, %v", r, err)
	}
	for _, in := range []string{
		"", "3 1 1", "3 1 1 ()", "3 1", "256 1 1 ab", "3 -1 1 ab", "3 1 x ab",
		"3 1 1 abc", "3 1 1 zz", "DANE-XX 1 1 ab",
	} {
		if r, err := ParseRecord(in); err == nil {
			t.Errorf("ParseRecord(%q) = %v, want an error", in, r)
		}
	}
	long := "3 1 1 " + strings.Repeat("q", 500)
	_, err = ParseRecord(long)
	if err == nil || len(err.Error()) > 120 {
		t.Errorf("ParseRecord(long junk) error %v: want a short error", err)
	}
}

func TestUsableEveryCombination(t *testing.T) {
	p := newPKI(t)
	for usage := range 256 {
		for sel := range uint8(3) {
			for mt := range uint8(4) {
				r := RecordFor(p.leaf.cert, uint8(usage), sel, mt)
				if r.Data == nil { // unknown selector or matching type
					r.Data = make([]byte, 32)
				}
				want := (usage == 2 || usage == 3) && sel <= 1 && mt <= 2
				if got := r.Usable(); got != want {
					t.Errorf("%v Usable() = %v, want %v (%s)", r.Label(), got, want, r.problem())
				}
			}
		}
	}
}

func TestUsableRejectsMalformedData(t *testing.T) {
	p := newPKI(t)
	good256 := RecordFor(p.leaf.cert, 3, 1, 1)
	good512 := RecordFor(p.leaf.cert, 3, 1, 2)
	for _, tc := range []struct {
		name string
		r    Record
		why  string
	}{
		{"SHA-256 31 bytes", Record{3, 1, 1, good256.Data[:31]}, "SHA-256 data must be 32 bytes, it has 31"},
		{"SHA-256 33 bytes", Record{3, 1, 1, append(bytes.Clone(good256.Data), 0)}, "it has 33"},
		{"SHA-256 empty", Record{3, 1, 1, nil}, "it has 0"},
		{"SHA-512 63 bytes", Record{2, 0, 2, good512.Data[:63]}, "SHA-512 data must be 64 bytes, it has 63"},
		{"SHA-256 digest as SHA-512", Record{3, 1, 2, good256.Data}, "it has 32"},
		{"full cert junk", Record{3, 0, 0, []byte("not a certificate")}, "not a DER certificate"},
		{"full cert truncated", Record{2, 0, 0, p.root.cert.Raw[:len(p.root.cert.Raw)-1]}, "not a DER certificate"},
		{"full cert trailing", Record{2, 0, 0, append(bytes.Clone(p.root.cert.Raw), 0)}, "not a DER certificate"},
		{"full cert is an SPKI", Record{2, 0, 0, p.root.cert.RawSubjectPublicKeyInfo}, "not a DER certificate"},
		{"full key junk", Record{2, 1, 0, []byte{0x30, 0x00}}, "not a DER SubjectPublicKeyInfo"},
		{"full key empty", Record{3, 1, 0, nil}, "not a DER SubjectPublicKeyInfo"},
	} {
		if tc.r.Usable() {
			t.Errorf("%s: usable, want unusable", tc.name)
		}
		if p := tc.r.problem(); !strings.Contains(p, tc.why) {
			t.Errorf("%s: problem %q, want it to say %q", tc.name, p, tc.why)
		}
	}
	for _, r := range []Record{
		RecordFor(p.root.cert, 2, 0, 0), RecordFor(p.root.cert, 2, 1, 0),
		RecordFor(p.leaf.cert, 3, 0, 0), good256, good512,
	} {
		if !r.Usable() {
			t.Errorf("%v: unusable (%s), want usable", r.Label(), r.problem())
		}
	}
}

func TestUnusableReasons(t *testing.T) {
	for _, tc := range []struct {
		r   Record
		why string
	}{
		{Record{0, 1, 1, make([]byte, 32)}, "PKIX usages are not used for SMTP"},
		{Record{1, 1, 1, make([]byte, 32)}, "PKIX usages are not used for SMTP"},
		{Record{4, 1, 1, make([]byte, 32)}, "unknown certificate usage 4"},
		{Record{3, 2, 1, make([]byte, 32)}, "unknown selector 2"},
		{Record{3, 1, 3, make([]byte, 32)}, "unknown matching type 3"},
	} {
		if got := tc.r.problem(); !strings.Contains(got, tc.why) {
			t.Errorf("%v: problem %q, want %q", tc.r.Label(), got, tc.why)
		}
	}
}
