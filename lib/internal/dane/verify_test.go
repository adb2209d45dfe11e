package dane

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"strings"
	"testing"
	"time"
)

// mustMatch fails unless v is a match by want.
func mustMatch(t *testing.T, v Verdict, want Record) {
	t.Helper()
	if v.Result != Match {
		t.Fatalf("%v: result %v, want match (reasons %q, ignored %q)", want.Label(), v.Result, v.Reasons, v.Ignored)
	}
	if v.Matched == nil || v.Matched.String() != want.String() {
		t.Fatalf("matched %v, want %v", v.Matched, want)
	}
}

func mustMismatch(t *testing.T, v Verdict) {
	t.Helper()
	if v.Result != Mismatch {
		t.Fatalf("result %v (matched %v), want mismatch", v.Result, v.Matched)
	}
	if v.Matched != nil {
		t.Fatalf("a mismatch names matched record %v", v.Matched)
	}
}

func reasonsContain(t *testing.T, v Verdict, want string) {
	t.Helper()
	for _, r := range v.Reasons {
		if strings.Contains(r, want) {
			return
		}
	}
	t.Errorf("reasons %q: none says %q", v.Reasons, want)
}

func TestNoRecords(t *testing.T) {
	p := newPKI(t)
	v := Verify(nil, p.chain(false), mxHost, clock())
	if v.Result != None || v.Usable != 0 || v.Matched != nil {
		t.Fatalf("Verify(no records) = %+v, want result none", v)
	}
	if got, want := v.Describe(25, mxHost), "no TLSA records at _25._tcp.mx.example.org"; got != want {
		t.Errorf("Describe = %q, want %q", got, want)
	}
}

func TestDANEEEEveryCombination(t *testing.T) {
	p := newPKI(t)
	for sel := range uint8(2) {
		for mt := range uint8(3) {
			r := RecordFor(p.leaf.cert, UsageDANEEE, sel, mt)
			t.Run(r.numbers(), func(t *testing.T) {
				v := Verify([]Record{r}, p.chain(false), mxHost, clock())
				mustMatch(t, v, r)
				if v.Usable != 1 || v.Anchor != "" {
					t.Errorf("usable %d anchor %q, want 1 and none", v.Usable, v.Anchor)
				}
				if got, want := v.Describe(25, mxHost), "DANE-EE "+r.numbers()+" matches"; got != want {
					t.Errorf("Describe = %q, want %q", got, want)
				}
				// DANE-EE is about the leaf only: the same kind of record for
				// an issuer matches nothing.
				other := RecordFor(p.inter.cert, UsageDANEEE, sel, mt)
				mustMismatch(t, Verify([]Record{other}, p.chain(true), mxHost, clock()))
			})
		}
	}
}

func TestDANETAEveryCombination(t *testing.T) {
	p := newPKI(t)
	for _, ta := range []*node{p.inter, p.root} {
		for sel := range uint8(2) {
			for mt := range uint8(3) {
				r := RecordFor(ta.cert, UsageDANETA, sel, mt)
				t.Run(ta.cert.Subject.CommonName+" "+r.numbers(), func(t *testing.T) {
					v := Verify([]Record{r}, p.chain(true), mxHost, clock())
					mustMatch(t, v, r)
					if want := "CN=" + ta.cert.Subject.CommonName; v.Anchor != want {
						t.Errorf("anchor %q, want %q", v.Anchor, want)
					}
					if got, want := v.Describe(25, mxHost), "DANE-TA "+r.numbers()+" matches via CN="+ta.cert.Subject.CommonName; got != want {
						t.Errorf("Describe = %q, want %q", got, want)
					}
				})
			}
		}
	}
}

func TestDANETAAbsentFromChain(t *testing.T) {
	p := newPKI(t)
	chain := p.chain(false) // leaf and intermediate, no root

	// The root's full key (2 1 0) signed the topmost presented certificate.
	key := RecordFor(p.root.cert, UsageDANETA, SelectorSPKI, MatchFull)
	v := Verify([]Record{key}, chain, mxHost, clock())
	mustMatch(t, v, key)
	if v.Anchor != "the public key in the record" {
		t.Errorf("anchor %q", v.Anchor)
	}
	// So did the root's full certificate (2 0 0).
	cert := RecordFor(p.root.cert, UsageDANETA, SelectorCert, MatchFull)
	v = Verify([]Record{cert}, chain, mxHost, clock())
	mustMatch(t, v, cert)
	if v.Anchor != "CN=Test Root from the record" {
		t.Errorf("anchor %q", v.Anchor)
	}
	// The intermediate's key, with the leaf alone presented.
	ikey := RecordFor(p.inter.cert, UsageDANETA, SelectorSPKI, MatchFull)
	mustMatch(t, Verify([]Record{ikey}, chain[:1], mxHost, clock()), ikey)

	// A digest of an absent root cannot be checked: no match, and no
	// DANE-TA attempt to explain.
	for _, mt := range []uint8{MatchSHA256, MatchSHA512} {
		for sel := range uint8(2) {
			r := RecordFor(p.root.cert, UsageDANETA, sel, mt)
			v := Verify([]Record{r}, chain, mxHost, clock())
			mustMismatch(t, v)
			if len(v.Reasons) != 0 {
				t.Errorf("%v: reasons %q, want none", r, v.Reasons)
			}
		}
	}

	// A key that signed nothing presented is no anchor.
	stranger := newPKI(t)
	skey := RecordFor(stranger.root.cert, UsageDANETA, SelectorSPKI, MatchFull)
	v = Verify([]Record{skey}, chain, mxHost, clock())
	mustMismatch(t, v)
	if len(v.Reasons) != 0 {
		t.Errorf("unrelated key: reasons %q, want none", v.Reasons)
	}
	scert := RecordFor(stranger.root.cert, UsageDANETA, SelectorCert, MatchFull)
	mustMismatch(t, Verify([]Record{scert}, chain, mxHost, clock()))
}

func TestDANETAWrongName(t *testing.T) {
	p := newPKI(t)
	leaf := issue(t, spec{cn: "other.example.org", dnsNames: []string{"other.example.org"}}, p.inter, false)
	chain := []*x509.Certificate{leaf.cert, p.inter.cert}
	r := RecordFor(p.inter.cert, UsageDANETA, SelectorSPKI, MatchSHA256)
	v := Verify([]Record{r}, chain, mxHost, clock())
	mustMismatch(t, v)
	want := "DANE-TA 2 1 1 matched CN=Test Intermediate but the leaf is not valid for mx.example.org"
	if len(v.Reasons) != 1 || v.Reasons[0] != want {
		t.Errorf("reasons %q, want [%q]", v.Reasons, want)
	}
	d := v.Describe(25, mxHost)
	if !strings.Contains(d, want) || strings.Contains(d, "renewed") {
		t.Errorf("Describe = %q, want the reason and no renewal guess", d)
	}
	// Under DANE-EE the name is not judged (RFC 7672 section 3.1.1).
	ee := RecordFor(leaf.cert, UsageDANEEE, SelectorSPKI, MatchSHA256)
	mustMatch(t, Verify([]Record{r, ee}, chain, mxHost, clock()), ee)
}

func TestNameCheck(t *testing.T) {
	p := newPKI(t)
	ta := RecordFor(p.inter.cert, UsageDANETA, SelectorSPKI, MatchSHA256)
	for _, tc := range []struct {
		name  string
		s     spec
		host  string
		match bool
	}{
		{"exact", spec{cn: "x", dnsNames: []string{mxHost}}, mxHost, true},
		{"trailing dot", spec{cn: "x", dnsNames: []string{mxHost}}, mxHost + ".", true},
		{"case", spec{cn: "x", dnsNames: []string{"MX.Example.ORG"}}, mxHost, true},
		{"second SAN", spec{cn: "x", dnsNames: []string{"a.example.org", mxHost}}, mxHost, true},
		{"wildcard", spec{cn: "x", dnsNames: []string{"*.example.org"}}, mxHost, true},
		{"wildcard one label only", spec{cn: "x", dnsNames: []string{"*.example.org"}}, "a.mx.example.org", false},
		{"CN without SAN", spec{cn: mxHost, noSAN: true}, mxHost, true},
		{"CN ignored with a DNS SAN", spec{cn: mxHost, dnsNames: []string{"other.example.org"}}, mxHost, false},
		{"CN without SAN, other name", spec{cn: "other.example.org", noSAN: true}, mxHost, false},
		{"empty host", spec{cn: mxHost, dnsNames: []string{mxHost}}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leaf := issue(t, tc.s, p.inter, false)
			v := Verify([]Record{ta}, []*x509.Certificate{leaf.cert, p.inter.cert}, tc.host, clock())
			if got := v.Result == Match; got != tc.match {
				t.Errorf("match %v, want %v (reasons %q)", got, tc.match, v.Reasons)
			}
		})
	}
}

func TestDANEEEIgnoresDates(t *testing.T) {
	p := newPKI(t)
	old := clock().Add(-400 * 24 * time.Hour)
	expired := issue(t, spec{cn: mxHost, notBefore: old, notAfter: clock().Add(-time.Hour)}, p.inter, false)
	future := issue(t, spec{cn: mxHost, notBefore: clock().Add(time.Hour)}, p.inter, false)
	for _, leaf := range []*node{expired, future} {
		chain := []*x509.Certificate{leaf.cert, p.inter.cert}
		ee := RecordFor(leaf.cert, UsageDANEEE, SelectorCert, MatchSHA256)
		mustMatch(t, Verify([]Record{ee}, chain, mxHost, clock()), ee)
		// Under DANE-TA the leaf's dates count.
		ta := RecordFor(p.inter.cert, UsageDANETA, SelectorSPKI, MatchSHA256)
		v := Verify([]Record{ta}, chain, mxHost, clock())
		mustMismatch(t, v)
		if leaf == expired {
			reasonsContain(t, v, "but the leaf expired on "+leaf.cert.NotAfter.UTC().Format(time.RFC3339))
		} else {
			reasonsContain(t, v, "but the leaf is not valid before ")
		}
	}
}

func TestDANETAExpiredIntermediate(t *testing.T) {
	p := newPKI(t)
	old := clock().Add(-400 * 24 * time.Hour)
	inter := issue(t, spec{cn: "Expired Intermediate", notBefore: old, notAfter: clock().Add(-24 * time.Hour)}, p.root, true)
	leaf := issue(t, spec{cn: mxHost}, inter, false)
	chain := []*x509.Certificate{leaf.cert, inter.cert, p.root.cert}
	for _, r := range []Record{
		RecordFor(p.root.cert, UsageDANETA, SelectorSPKI, MatchSHA256),
		RecordFor(p.root.cert, UsageDANETA, SelectorSPKI, MatchFull),
	} {
		v := Verify([]Record{r}, chain, mxHost, clock())
		mustMismatch(t, v)
		reasonsContain(t, v, "DANE-TA "+r.numbers()+" matched CN=Test Root but CN=Expired Intermediate expired on ")
	}
	// Without the root in the chain, the root's key is the anchor.
	r := RecordFor(p.root.cert, UsageDANETA, SelectorSPKI, MatchFull)
	v := Verify([]Record{r}, chain[:2], mxHost, clock())
	mustMismatch(t, v)
	reasonsContain(t, v, "DANE-TA 2 1 0 (the public key in the record) signed the chain but CN=Expired Intermediate expired on ")
}

// TestTrustAnchorDates pins what OpenSSL does (TestOpenSSLAgrees checks it
// there): a root anchor's dates count, an intermediate anchor's do not.
func TestTrustAnchorDates(t *testing.T) {
	old := clock().Add(-400 * 24 * time.Hour)
	root := issue(t, spec{cn: "Expired Root", notBefore: old, notAfter: clock().Add(-time.Hour)}, nil, true)
	inter := issue(t, spec{cn: "Intermediate"}, root, true)
	leaf := issue(t, spec{cn: mxHost}, inter, false)
	for _, r := range []Record{
		RecordFor(root.cert, UsageDANETA, SelectorCert, MatchSHA256),
		RecordFor(root.cert, UsageDANETA, SelectorCert, MatchFull),
	} {
		v := Verify([]Record{r}, []*x509.Certificate{leaf.cert, inter.cert, root.cert}, mxHost, clock())
		mustMismatch(t, v)
		reasonsContain(t, v, "the trust anchor expired on ")
		// The root sent only in the record counts the same.
		v = Verify([]Record{r}, []*x509.Certificate{leaf.cert, inter.cert}, mxHost, clock())
		if r.MatchingType == MatchFull {
			mustMismatch(t, v)
			reasonsContain(t, v, "(CN=Expired Root from the record) signed the chain but the trust anchor expired on ")
		}
	}
	// A bare key has no dates.
	key := RecordFor(root.cert, UsageDANETA, SelectorSPKI, MatchFull)
	mustMatch(t, Verify([]Record{key}, []*x509.Certificate{leaf.cert, inter.cert}, mxHost, clock()), key)

	p := newPKI(t)
	for _, s := range []spec{
		{cn: "Expired Intermediate", notBefore: old, notAfter: clock().Add(-time.Hour)},
		{cn: "Future Intermediate", notBefore: clock().Add(time.Hour)},
	} {
		ta := issue(t, s, p.root, true)
		leaf := issue(t, spec{cn: mxHost}, ta, false)
		r := RecordFor(ta.cert, UsageDANETA, SelectorSPKI, MatchSHA256)
		mustMatch(t, Verify([]Record{r}, []*x509.Certificate{leaf.cert, ta.cert}, mxHost, clock()), r)
	}
}

func TestDANETAOnTheLeafIsNoTrustAnchor(t *testing.T) {
	p := newPKI(t)
	self := issue(t, spec{cn: mxHost}, nil, true)
	for _, tc := range []struct {
		leaf  *node
		chain []*x509.Certificate
	}{
		{p.leaf, p.chain(false)},
		{self, []*x509.Certificate{self.cert}},
	} {
		for _, r := range []Record{
			RecordFor(tc.leaf.cert, UsageDANETA, SelectorSPKI, MatchSHA256),
			RecordFor(tc.leaf.cert, UsageDANETA, SelectorCert, MatchFull),
			RecordFor(tc.leaf.cert, UsageDANETA, SelectorSPKI, MatchFull),
		} {
			v := Verify([]Record{r}, tc.chain, mxHost, clock())
			mustMismatch(t, v)
			reasonsContain(t, v, r.Label()+" matches the leaf certificate itself, which cannot be a trust anchor (publish it with usage 3, DANE-EE)")
		}
	}
}

func TestDANETANotACA(t *testing.T) {
	p := newPKI(t)
	notCA := issue(t, spec{cn: "Not a CA", notCA: true}, p.root, true)
	leaf := issue(t, spec{cn: mxHost}, notCA, false)
	r := RecordFor(notCA.cert, UsageDANETA, SelectorSPKI, MatchSHA256)
	v := Verify([]Record{r}, []*x509.Certificate{leaf.cert, notCA.cert}, mxHost, clock())
	mustMismatch(t, v)
	reasonsContain(t, v, "DANE-TA 2 1 1 matched CN=Not a CA but it may not sign certificates (not a CA)")
	// A certificate that has nothing to do with the leaf.
	stranger := newPKI(t)
	r = RecordFor(stranger.inter.cert, UsageDANETA, SelectorSPKI, MatchSHA256)
	v = Verify([]Record{r}, []*x509.Certificate{p.leaf.cert, stranger.inter.cert}, mxHost, clock())
	mustMismatch(t, v)
	reasonsContain(t, v, "matched CN=Test Intermediate but the leaf does not chain to it")
}

func TestChainOrderDoesNotMatter(t *testing.T) {
	p := newPKI(t)
	r := RecordFor(p.root.cert, UsageDANETA, SelectorSPKI, MatchSHA256)
	extra := newPKI(t)
	chain := []*x509.Certificate{p.leaf.cert, extra.inter.cert, p.root.cert, nil, extra.root.cert, p.inter.cert}
	mustMatch(t, Verify([]Record{r}, chain, mxHost, clock()), r)
}

// TestCrossSignedPathAvoidsExpiredIntermediate: two intermediates with the
// same name and key, one expired: the valid one carries the path.
func TestCrossSignedPathAvoidsExpiredIntermediate(t *testing.T) {
	p := newPKI(t)
	old := clock().Add(-400 * 24 * time.Hour)
	expired := issue(t, spec{cn: "Test Intermediate", key: p.inter.key, notBefore: old, notAfter: clock().Add(-time.Hour)}, p.root, true)
	r := RecordFor(p.root.cert, UsageDANETA, SelectorSPKI, MatchSHA256)
	chain := []*x509.Certificate{p.leaf.cert, expired.cert, p.inter.cert, p.root.cert}
	mustMatch(t, Verify([]Record{r}, chain, mxHost, clock()), r)
	v := Verify([]Record{r}, []*x509.Certificate{p.leaf.cert, expired.cert, p.root.cert}, mxHost, clock())
	mustMismatch(t, v)
	reasonsContain(t, v, "CN=Test Intermediate expired on ")
}

func TestMaxChain(t *testing.T) {
	// root, then MaxChain-1 intermediates, then the leaf: the presented
	// chain is the leaf, the intermediates and the root, MaxChain+1 in all.
	root := issue(t, spec{cn: "Deep Root"}, nil, true)
	parent := root
	var inters []*x509.Certificate
	for i := range MaxChain - 1 {
		parent = issue(t, spec{cn: fmt.Sprintf("Intermediate %d", i)}, parent, true)
		inters = append([]*x509.Certificate{parent.cert}, inters...)
	}
	leaf := issue(t, spec{cn: mxHost}, parent, false)
	long := append(append([]*x509.Certificate{leaf.cert}, inters...), root.cert)
	if len(long) != MaxChain+1 {
		t.Fatalf("chain of %d", len(long))
	}
	r := RecordFor(root.cert, UsageDANETA, SelectorSPKI, MatchSHA256)
	// The root is the (MaxChain+1)th certificate: not considered.
	mustMismatch(t, Verify([]Record{r}, long, mxHost, clock()))
	// One intermediate lower is still in reach.
	top := RecordFor(inters[0], UsageDANETA, SelectorSPKI, MatchSHA256)
	mustMatch(t, Verify([]Record{top}, long, mxHost, clock()), top)
	// Nil entries do not count towards the limit.
	withNil := append([]*x509.Certificate{long[0], nil}, long[1:MaxChain]...)
	mustMatch(t, Verify([]Record{top}, withNil, mxHost, clock()), top)
}

func TestOnlyUnusableRecords(t *testing.T) {
	p := newPKI(t)
	records := []Record{
		RecordFor(p.leaf.cert, UsagePKIXEE, SelectorSPKI, MatchSHA256),
		RecordFor(p.root.cert, UsagePKIXTA, SelectorCert, MatchSHA256),
	}
	v := Verify(records, p.chain(true), mxHost, clock())
	if v.Result != Unusable || v.Usable != 0 || v.Matched != nil || len(v.Ignored) != 2 {
		t.Fatalf("Verify(PKIX only) = %+v, want unusable with 2 ignored", v)
	}
	d := v.Describe(25, mxHost)
	for _, want := range []string{
		"no usable TLSA record at _25._tcp.mx.example.org, DANE senders fall back to unauthenticated TLS",
		"PKIX-EE " + records[0].Short() + " (PKIX usages are not used for SMTP",
		"PKIX-TA " + records[1].Short(),
	} {
		if !strings.Contains(d, want) {
			t.Errorf("Describe = %q, want %q in it", d, want)
		}
	}
}

func TestMixedUsableAndUnusable(t *testing.T) {
	p := newPKI(t)
	ee := RecordFor(p.leaf.cert, UsageDANEEE, SelectorSPKI, MatchSHA256)
	records := []Record{
		RecordFor(p.leaf.cert, UsagePKIXEE, SelectorSPKI, MatchSHA256),
		{Usage: 3, Selector: 1, MatchingType: 1, Data: ee.Data[:31]},
		RecordFor(p.inter.cert, UsageDANETA, SelectorSPKI, MatchSHA256),
		{Usage: 4, Selector: 1, MatchingType: 1, Data: ee.Data},
		ee,
	}
	v := Verify(records, p.chain(false), mxHost, clock())
	if v.Usable != 2 || len(v.Ignored) != 3 || len(v.Published) != 2 {
		t.Fatalf("usable %d ignored %d published %d, want 2, 3, 2", v.Usable, len(v.Ignored), len(v.Published))
	}
	mustMatch(t, v, ee) // DANE-EE is tried first, whatever the order
	if v.Anchor != "" {
		t.Errorf("anchor %q for a DANE-EE match", v.Anchor)
	}
	// The same count on a mismatch.
	other := newPKI(t)
	v = Verify(records, other.chain(false), mxHost, clock())
	mustMismatch(t, v)
	if v.Usable != 2 {
		t.Errorf("usable %d on a mismatch, want 2", v.Usable)
	}
	if d := v.Describe(25, mxHost); !strings.Contains(d, "ignored PKIX-EE 1 1 1") || !strings.Contains(d, "(SHA-256 data must be 32 bytes, it has 31)") {
		t.Errorf("Describe = %q: want the ignored records and why", d)
	}
}

func TestMalformedDigestNeverMatches(t *testing.T) {
	p := newPKI(t)
	good := RecordFor(p.leaf.cert, UsageDANEEE, SelectorSPKI, MatchSHA256)
	for _, data := range [][]byte{good.Data[:31], append(bytes.Clone(good.Data), 0), good.Data[:0]} {
		r := Record{Usage: 3, Selector: 1, MatchingType: 1, Data: data}
		v := Verify([]Record{r}, p.chain(false), mxHost, clock())
		if v.Result != Unusable || v.Usable != 0 {
			t.Errorf("%d-byte SHA-256: result %v usable %d, want unusable 0", len(data), v.Result, v.Usable)
		}
	}
	// A SHA-256 digest published as SHA-512, and the reverse.
	s512 := RecordFor(p.leaf.cert, UsageDANEEE, SelectorSPKI, MatchSHA512)
	for _, r := range []Record{{3, 1, 2, good.Data}, {3, 1, 1, s512.Data[:32]}} {
		if v := Verify([]Record{r}, p.chain(false), mxHost, clock()); v.Result == Match {
			t.Errorf("%v matched", r)
		}
	}
}

func TestRenewedLeafFixHint(t *testing.T) {
	p := newPKI(t)
	published := RecordFor(p.leaf.cert, UsageDANEEE, SelectorSPKI, MatchSHA256)

	// Renewed with the same key: 3 1 1 still matches, 3 0 1 does not.
	sameKey := issue(t, spec{cn: mxHost, key: p.leaf.key}, p.inter, false)
	mustMatch(t, Verify([]Record{published}, []*x509.Certificate{sameKey.cert, p.inter.cert}, mxHost, clock()), published)
	mustMismatch(t, Verify([]Record{RecordFor(p.leaf.cert, 3, 0, 1)}, []*x509.Certificate{sameKey.cert, p.inter.cert}, mxHost, clock()))

	// Renewed with a new key: mismatch, and the fix is the new key's record.
	renewed := issue(t, spec{cn: mxHost}, p.inter, false)
	v := Verify([]Record{published}, []*x509.Certificate{renewed.cert, p.inter.cert}, mxHost, clock())
	mustMismatch(t, v)
	fix := RecordFor(renewed.cert, UsageDANEEE, SelectorSPKI, MatchSHA256)
	if v.Leaf.String() != fix.String() {
		t.Errorf("leaf hint %v, want %v", v.Leaf, fix)
	}
	if len(v.Reasons) != 0 {
		t.Errorf("reasons %q for a plain mismatch", v.Reasons)
	}
	want := "no TLSA record matches the certificate (certificate renewed without updating TLSA?): published " +
		published.Short() + ", served _25._tcp.mx.example.org. IN TLSA " + fix.String()
	if got := v.Describe(25, mxHost+"."); got != want {
		t.Errorf("Describe =\n%q\nwant\n%q", got, want)
	}
	if len(v.Issuers) != 1 || v.Issuers[0].Subject != "CN=Test Intermediate" ||
		v.Issuers[0].Record.String() != RecordFor(p.inter.cert, 2, 1, 1).String() {
		t.Errorf("issuer hints %+v", v.Issuers)
	}
}

func TestMismatchOffersTrustAnchorFixWhereDANETAIsUsed(t *testing.T) {
	p := newPKI(t)
	other := newPKI(t)
	r := RecordFor(other.inter.cert, UsageDANETA, SelectorSPKI, MatchSHA256)
	v := Verify([]Record{r}, p.chain(true), mxHost, clock())
	mustMismatch(t, v)
	d := v.Describe(25, mxHost)
	for _, want := range []string{
		"served _25._tcp.mx.example.org. IN TLSA " + v.Leaf.String(),
		" or _25._tcp.mx.example.org. IN TLSA " + RecordFor(p.inter.cert, 2, 1, 1).String() + " for CN=Test Intermediate",
		" or _25._tcp.mx.example.org. IN TLSA " + RecordFor(p.root.cert, 2, 1, 1).String() + " for CN=Test Root",
	} {
		if !strings.Contains(d, want) {
			t.Errorf("Describe = %q, want %q in it", d, want)
		}
	}
	// At most maxIssuerHints of them.
	deep := append(p.chain(true), other.chain(true)[1:]...)
	if d := Verify([]Record{r}, deep, mxHost, clock()).Describe(25, mxHost); strings.Count(d, " or _25") != maxIssuerHints {
		t.Errorf("Describe = %q, want %d issuer hints", d, maxIssuerHints)
	}
}

func TestNoCertificatePresented(t *testing.T) {
	p := newPKI(t)
	r := RecordFor(p.leaf.cert, UsageDANEEE, SelectorSPKI, MatchSHA256)
	for _, chain := range [][]*x509.Certificate{nil, {nil}} {
		v := Verify([]Record{r}, chain, mxHost, clock())
		mustMismatch(t, v)
		reasonsContain(t, v, "the server presented no certificate")
		if d := v.Describe(25, mxHost); !strings.HasPrefix(d, "no TLSA record can match: the server presented no certificate: published 3 1 1 ") {
			t.Errorf("Describe = %q", d)
		}
	}
}

func TestFirstMatchingRecordInOrder(t *testing.T) {
	p := newPKI(t)
	a := RecordFor(p.leaf.cert, UsageDANEEE, SelectorCert, MatchSHA512)
	b := RecordFor(p.leaf.cert, UsageDANEEE, SelectorSPKI, MatchSHA256)
	mustMatch(t, Verify([]Record{a, b}, p.chain(false), mxHost, clock()), a)
	mustMatch(t, Verify([]Record{b, a}, p.chain(false), mxHost, clock()), b)
	ta := RecordFor(p.inter.cert, UsageDANETA, SelectorSPKI, MatchSHA256)
	mustMatch(t, Verify([]Record{ta, b}, p.chain(false), mxHost, clock()), b)
	// A failed DANE-TA attempt leaves no reason behind a later match.
	bad := RecordFor(p.leaf.cert, UsageDANETA, SelectorSPKI, MatchSHA256)
	v := Verify([]Record{bad, ta}, p.chain(false), mxHost, clock())
	mustMatch(t, v, ta)
	if len(v.Reasons) != 0 {
		t.Errorf("reasons %q on a match", v.Reasons)
	}
}

func TestVerdictDoesNotAliasInput(t *testing.T) {
	p := newPKI(t)
	r := RecordFor(p.leaf.cert, UsageDANEEE, SelectorSPKI, MatchSHA256)
	in := []Record{{r.Usage, r.Selector, r.MatchingType, bytes.Clone(r.Data)}}
	v := Verify(in, p.chain(false), mxHost, clock())
	in[0].Data[0] ^= 0xff
	in[0].Usage = 2
	if v.Matched.String() != r.String() || v.Published[0].String() != r.String() {
		t.Errorf("verdict changed with its input: matched %v", v.Matched)
	}
}

func TestDescribeIsSafeForPluginOutput(t *testing.T) {
	root := issue(t, spec{cn: "Evil; Root | with\nnewline\x00"}, nil, true)
	leaf := issue(t, spec{cn: "x", dnsNames: []string{"other.example.org"}}, root, false)
	chain := []*x509.Certificate{leaf.cert, root.cert}
	for _, v := range []Verdict{
		Verify([]Record{RecordFor(root.cert, 2, 1, 1)}, chain, "mx;host|x", clock()),
		Verify([]Record{{Usage: 1, Data: []byte{1}}}, chain, "a|b", clock()),
		Verify([]Record{RecordFor(root.cert, 2, 0, 0)}, chain, mxHost, clock()),
	} {
		for _, result := range []Result{v.Result, Match, None} {
			v.Result = result
			d := v.Describe(25, "mx;host|x\n")
			if strings.ContainsAny(d, ";|\n\r\x00") {
				t.Errorf("Describe = %q: has a plugin separator or control character", d)
			}
		}
	}
	if got := (Verdict{Result: Result(9)}).Describe(25, mxHost); got != "Result(9)" {
		t.Errorf("Describe of an unknown result = %q", got)
	}
}

func TestResultString(t *testing.T) {
	for r, want := range map[Result]string{None: "none", Unusable: "unusable", Mismatch: "mismatch", Match: "match"} {
		if r.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(r), r.String(), want)
		}
	}
}

func TestSubjectNames(t *testing.T) {
	long := issue(t, spec{cn: strings.Repeat("é", 100)}, nil, true)
	if s := subject(long.cert); len([]rune(s)) != 65 || !strings.HasSuffix(s, "…") {
		t.Errorf("subject of a long CN = %q, want 64 runes and an ellipsis", s)
	}
	if s := subject(&x509.Certificate{}); s != "a certificate without subject" {
		t.Errorf("subject of an empty certificate = %q", s)
	}
}

// TestDANETAFullDataGoCannotUse: well-formed DER that crypto/x509 cannot
// parse is a usable record (a sender might use it) that authenticates
// nothing here, and says so.
func TestDANETAFullDataGoCannotUse(t *testing.T) {
	p := newPKI(t)
	unknownKey := []byte{0x30, 0x0d, 0x30, 0x06, 0x06, 0x04, 0x2a, 0x03, 0x04, 0x05, 0x03, 0x03, 0x00, 0x01, 0x02}
	emptyTBS := []byte{0x30, 0x0b, 0x30, 0x00, 0x30, 0x04, 0x06, 0x02, 0x2a, 0x03, 0x03, 0x01, 0x00}
	for _, tc := range []struct {
		r   Record
		why string
	}{
		{Record{2, 1, 0, unknownKey}, "DANE-TA 2 1 0 carries a public key that cannot be used: "},
		{Record{2, 0, 0, emptyTBS}, "DANE-TA 2 0 0 carries a certificate that cannot be used: "},
	} {
		if !tc.r.Usable() {
			t.Fatalf("%v unusable: %s", tc.r, tc.r.problem())
		}
		v := Verify([]Record{tc.r}, p.chain(false), mxHost, clock())
		mustMismatch(t, v)
		reasonsContain(t, v, tc.why)
		// As DANE-EE the same data is simply compared.
		ee := tc.r
		ee.Usage = UsageDANEEE
		if v := Verify([]Record{ee}, p.chain(false), mxHost, clock()); v.Result != Mismatch || len(v.Reasons) != 0 {
			t.Errorf("%v: %v %q", ee, v.Result, v.Reasons)
		}
	}
}

// TestExpiredIntermediateReasons: an expired intermediate is blamed when
// it is on the way to the anchor, however deep, and not when it leads
// elsewhere.
func TestExpiredIntermediateReasons(t *testing.T) {
	p := newPKI(t)
	old := clock().Add(-400 * 24 * time.Hour)
	i0 := issue(t, spec{cn: "I0"}, p.root, true)
	i1 := issue(t, spec{cn: "I1", notBefore: old, notAfter: clock().Add(-time.Hour)}, i0, true)
	i2 := issue(t, spec{cn: "I2"}, i1, true)
	leaf := issue(t, spec{cn: mxHost}, i2, false)
	r := RecordFor(p.root.cert, UsageDANETA, SelectorSPKI, MatchSHA256)
	v := Verify([]Record{r}, []*x509.Certificate{leaf.cert, i2.cert, i1.cert, i0.cert, p.root.cert}, mxHost, clock())
	mustMismatch(t, v)
	reasonsContain(t, v, "matched CN=Test Root but CN=I1 expired on ")

	// The same name and key as the leaf's issuer, expired, signed by a
	// stranger: it signed the leaf but leads nowhere near the anchor.
	stranger := newPKI(t)
	elsewhere := issue(t, spec{cn: "Test Intermediate", key: p.inter.key, notBefore: old, notAfter: clock().Add(-time.Hour)}, stranger.root, true)
	v = Verify([]Record{r}, []*x509.Certificate{p.leaf.cert, elsewhere.cert, p.root.cert}, mxHost, clock())
	mustMismatch(t, v)
	if len(v.Reasons) != 1 || v.Reasons[0] != "DANE-TA 2 1 1 matched CN=Test Root but the leaf does not chain to it" {
		t.Errorf("reasons %q", v.Reasons)
	}
}

func TestVerdictTextsAreClean(t *testing.T) {
	root := issue(t, spec{cn: "Evil; Root |\r\n"}, nil, true)
	leaf := issue(t, spec{cn: "x", dnsNames: []string{"other.example.org"}}, root, false)
	v := Verify([]Record{RecordFor(root.cert, 2, 1, 1), {Usage: 7, Data: []byte{1}}}, []*x509.Certificate{leaf.cert, root.cert}, "a;b|c", clock())
	texts := append(append([]string{v.Anchor, v.Issuers[0].Subject}, v.Reasons...), v.Ignored...)
	for _, s := range texts {
		if strings.ContainsAny(s, ";|\r\n") {
			t.Errorf("verdict text %q has a separator or control character", s)
		}
	}
	if len(v.Reasons) != 1 || !strings.Contains(v.Reasons[0], "CN=Evil, Root /") {
		t.Errorf("reasons %q", v.Reasons)
	}
	// The same certificate authenticating: the anchor's name is clean too.
	good := issue(t, spec{cn: mxHost}, root, false)
	v = Verify([]Record{RecordFor(root.cert, 2, 1, 1)}, []*x509.Certificate{good.cert, root.cert}, mxHost, clock())
	if v.Result != Match || strings.ContainsAny(v.Anchor, ";|\r\n") {
		t.Errorf("anchor %q (%v)", v.Anchor, v.Result)
	}
}
