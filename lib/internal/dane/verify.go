package dane

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"
)

// MaxChain is how many presented certificates Verify considers, the leaf
// included; the rest are ignored. Real chains have 2 to 4; the bound keeps
// the signature checks of a hostile chain cheap.
const MaxChain = 16

// Result is the outcome of Verify.
type Result int

const (
	// None: there are no TLSA records; DANE does not apply.
	None Result = iota
	// Unusable: there are records but none is usable (usages 0 and 1,
	// unknown types, malformed data); senders fall back to unauthenticated TLS.
	Unusable
	// Mismatch: usable records, none of which authenticates the chain; DANE
	// senders will not deliver.
	Mismatch
	// Match: a usable record authenticates the chain.
	Match
)

func (r Result) String() string {
	switch r {
	case None:
		return "none"
	case Unusable:
		return "unusable"
	case Mismatch:
		return "mismatch"
	case Match:
		return "match"
	}
	return fmt.Sprintf("Result(%d)", int(r))
}

// Hint is a record an operator could publish for a presented certificate.
type Hint struct {
	Subject string // "CN=R3" or the subject DN
	Record  Record
}

// Verdict is what Verify found.
type Verdict struct {
	Result Result
	// Matched is the record that authenticated the chain (Match only).
	Matched *Record
	// Anchor names the trust anchor of a DANE-TA match: the certificate's
	// subject, or "the public key in the record".
	Anchor string
	// Usable counts the usable records (for --dane-rollover).
	Usable int
	// Published are the usable records, in the order given.
	Published []Record
	// Leaf is the "3 1 1" record of the presented leaf (zero without one):
	// the copy-paste fix for a mismatch.
	Leaf Record
	// Issuers are "2 1 1" records of the presented certificates above the
	// leaf, in chain order: the fix where DANE-TA is used.
	Issuers []Hint
	// Reasons say why a DANE-TA record that matched a presented certificate
	// (or whose key signed one) did not authenticate the chain, and note a
	// chain without a certificate.
	Reasons []string
	// Ignored lists each unusable record and why, e.g.
	// "DANE-EE 3 1 1 ab12cd34… (SHA-256 data must be 32 bytes, it has 31)".
	Ignored []string
}

// Verify judges a TLSA RRset against the certificate chain a server
// presented (leaf first), for an SMTP client connecting to host (the MX host
// name, the TLSA base domain) at time now, as RFC 7672 and RFC 7671 say:
//
//   - DANE-EE(3) records match the leaf alone; its names and dates are not
//     judged (RFC 7672 section 3.1.1). They are tried first.
//   - DANE-TA(2) records match a presented certificate above the leaf. The
//     leaf itself is never a trust anchor, as in OpenSSL: a record for it
//     must be DANE-EE. A Full(0) record may also carry the anchor's
//     certificate (2 0 0) or public key (2 1 0) itself, absent from the
//     chain (RFC 7671 section 5.2.2); it must have signed a presented
//     certificate.
//   - Under DANE-TA the leaf must chain to the anchor through presented
//     certificates, in any order (signatures and CA constraints as
//     crypto/x509 checks them); the leaf and every certificate on the way
//     must be valid at now, and so must a self-issued (root) anchor, while
//     an intermediate anchor's dates do not count (as in OpenSSL); and the
//     leaf must be valid for host (RFC 7672 section 3.2.3: its DNS-ID
//     subjectAltNames with crypto/x509's VerifyHostname rules, its subject
//     CN only when it has no DNS-ID). Name constraints, policies and path
//     length constraints are not judged.
//
// Records are tried in the order given; the first that authenticates the
// chain is the verdict's Matched record. At most MaxChain certificates of
// chain are considered; nil entries are skipped. The texts in the verdict
// (Anchor, Reasons, Ignored, Issuers' subjects) have no ';', '|' or
// control characters.
func Verify(records []Record, chain []*x509.Certificate, host string, now time.Time) Verdict {
	v := verify(records, chain, host, now)
	v.Anchor = clean(v.Anchor)
	for i := range v.Reasons {
		v.Reasons[i] = clean(v.Reasons[i])
	}
	for i := range v.Ignored {
		v.Ignored[i] = clean(v.Ignored[i])
	}
	for i := range v.Issuers {
		v.Issuers[i].Subject = clean(v.Issuers[i].Subject)
	}
	return v
}

func verify(records []Record, chain []*x509.Certificate, host string, now time.Time) Verdict {
	var v Verdict
	if len(records) == 0 {
		return v
	}
	for _, r := range records {
		if p := r.problem(); p != "" {
			v.Ignored = append(v.Ignored, usageName(r.Usage)+" "+r.Short()+" ("+p+")")
			continue
		}
		r.Data = bytes.Clone(r.Data)
		v.Published = append(v.Published, r)
	}
	v.Usable = len(v.Published)
	if v.Usable == 0 {
		v.Result = Unusable
		return v
	}
	v.Result = Mismatch
	c := newChain(chain)
	if len(c.certs) == 0 {
		v.Reasons = append(v.Reasons, "the server presented no certificate")
		return v
	}
	v.Leaf = RecordFor(c.certs[0], UsageDANEEE, SelectorSPKI, MatchSHA256)
	for _, cert := range c.certs[1:] {
		v.Issuers = append(v.Issuers, Hint{Subject: subject(cert), Record: RecordFor(cert, UsageDANETA, SelectorSPKI, MatchSHA256)})
	}

	matched := func(r Record, anchor string) Verdict {
		v.Result = Match
		v.Matched = &r
		v.Anchor = anchor
		v.Reasons = nil
		return v
	}
	for _, r := range v.Published {
		if r.Usage == UsageDANEEE && c.matches(0, r) {
			return matched(r, "")
		}
	}
	for _, r := range v.Published {
		if r.Usage != UsageDANETA {
			continue
		}
		anchor, reasons, ok := c.trustAnchor(r, host, now)
		if ok {
			return matched(r, anchor)
		}
		v.Reasons = append(v.Reasons, reasons...)
	}
	return v
}

// chain is the presented certificates of one Verify call, with the digests
// and issuer relations it needs, computed once.
type chain struct {
	certs  []*x509.Certificate
	sha256 [][2][sha256.Size]byte // per certificate, per selector
	sha512 [][2][sha512.Size]byte
	issued map[[2]int]bool // [child, parent]: parent signed child
}

func newChain(presented []*x509.Certificate) *chain {
	c := &chain{issued: map[[2]int]bool{}}
	for _, cert := range presented {
		if cert == nil {
			continue
		}
		if len(c.certs) == MaxChain {
			break
		}
		c.certs = append(c.certs, cert)
		var s2 [2][sha256.Size]byte
		var s5 [2][sha512.Size]byte
		for sel := range uint8(2) {
			s2[sel] = sha256.Sum256(selected(cert, sel))
			s5[sel] = sha512.Sum512(selected(cert, sel))
		}
		c.sha256 = append(c.sha256, s2)
		c.sha512 = append(c.sha512, s5)
	}
	return c
}

// matches reports whether usable record r matches certificate i.
func (c *chain) matches(i int, r Record) bool {
	sel := r.Selector
	switch r.MatchingType {
	case MatchFull:
		return bytes.Equal(selected(c.certs[i], sel), r.Data)
	case MatchSHA256:
		return bytes.Equal(c.sha256[i][sel][:], r.Data)
	case MatchSHA512:
		return bytes.Equal(c.sha512[i][sel][:], r.Data)
	}
	return false
}

// issuedBy reports whether presented certificate p signed presented
// certificate i.
func (c *chain) issuedBy(i, p int) bool {
	k := [2]int{i, p}
	ok, done := c.issued[k]
	if !done {
		child, parent := c.certs[i], c.certs[p]
		ok = bytes.Equal(child.RawIssuer, parent.RawSubject) && child.CheckSignatureFrom(parent) == nil
		c.issued[k] = ok
	}
	return ok
}

// anchor is a DANE-TA trust anchor: a presented certificate (index > 0), or
// a certificate or bare public key carried by a Full(0) record.
type anchor struct {
	index int
	cert  *x509.Certificate
	key   crypto.PublicKey
}

// signs reports whether the anchor signed presented certificate i.
func (a anchor) signs(c *chain, i int) bool {
	child := c.certs[i]
	switch {
	case a.index > 0:
		return i != a.index && c.issuedBy(i, a.index)
	case a.cert != nil:
		return bytes.Equal(child.RawIssuer, a.cert.RawSubject) && child.CheckSignatureFrom(a.cert) == nil
	case a.key != nil:
		// A bare key has no name and no constraints: the signature is all
		// there is to check (RFC 7671 section 5.2.2).
		k := &x509.Certificate{PublicKey: a.key}
		return k.CheckSignature(child.SignatureAlgorithm, child.RawTBSCertificate, child.Signature) == nil
	}
	return false
}

// trustAnchor tries DANE-TA record r: the anchor's name when the chain is
// authenticated, otherwise a reason for every certificate it matched.
func (c *chain) trustAnchor(r Record, host string, now time.Time) (string, []string, bool) {
	var reasons []string
	tried := false
	for k := 1; k < len(c.certs); k++ {
		if !c.matches(k, r) {
			continue
		}
		tried = true
		name := subject(c.certs[k])
		_, problems := c.validate(anchor{index: k, cert: c.certs[k]}, host, now)
		if len(problems) == 0 {
			return name, nil, true
		}
		reasons = append(reasons, r.Label()+" matched "+name+" but "+strings.Join(problems, " and "))
	}
	if !tried && r.MatchingType == MatchFull && !c.matches(0, r) {
		// The record carries the anchor itself, which the server need not
		// send (RFC 7671 section 5.2.2); the leaf's own certificate or key
		// is no anchor, even when self-signed.
		var a anchor
		var name string
		switch r.Selector {
		case SelectorCert:
			cert, err := x509.ParseCertificate(r.Data)
			if err != nil {
				return "", append(reasons, r.Label()+" carries a certificate that cannot be used: "+err.Error()), false
			}
			a.cert, name = cert, subject(cert)+" from the record"
		case SelectorSPKI:
			key, err := x509.ParsePKIXPublicKey(r.Data)
			if err != nil {
				return "", append(reasons, r.Label()+" carries a public key that cannot be used: "+err.Error()), false
			}
			a.key, name = key, "the public key in the record"
		}
		linked, problems := c.validate(a, host, now)
		if linked && len(problems) == 0 {
			return name, nil, true
		}
		if linked {
			reasons = append(reasons, r.Label()+" ("+name+") signed the chain but "+strings.Join(problems, " and "))
		}
		tried = linked
	}
	if !tried && c.matches(0, r) {
		reasons = append(reasons, r.Label()+" matches the leaf certificate itself, which cannot be a trust anchor (publish it with usage 3, DANE-EE)")
	}
	return "", reasons, false
}

// validate checks the chain from the leaf up to anchor a. linked reports
// whether the anchor is connected to the chain at all: an anchor in the
// chain always is, one from a record only when it signed a presented
// certificate.
func (c *chain) validate(a anchor, host string, now time.Time) (linked bool, problems []string) {
	found, pathProblems := c.path(a, now)
	switch {
	case found:
	case len(pathProblems) > 0:
		problems = append(problems, pathProblems...)
	case a.index > 0:
		problems = append(problems, c.noPath(a))
	default:
		return false, nil
	}
	leaf := c.certs[0]
	if p := dateProblem(leaf, now); p != "" {
		problems = append(problems, "the leaf "+p)
	}
	// As OpenSSL (the sender of Postfix and Exim) does: a self-issued
	// anchor, a root, is a certificate whose dates count, while an
	// intermediate anchor is only a key with a name (RFC 5280 section 6.1.1).
	if a.cert != nil && selfIssued(a.cert) {
		if p := dateProblem(a.cert, now); p != "" {
			problems = append(problems, "the trust anchor "+p)
		}
	}
	if !validFor(leaf, host) {
		problems = append(problems, "the leaf is not valid for "+strings.TrimSuffix(host, "."))
	}
	return true, problems
}

// path looks for a signature path from the leaf to anchor a through the
// presented certificates, depth first. Intermediates outside their validity
// are not traversed; what they would have connected is reported instead.
// One visited set is enough: whether a certificate reaches the anchor does
// not depend on how it was reached.
func (c *chain) path(a anchor, now time.Time) (bool, []string) {
	visited := make([]bool, len(c.certs))
	var problems []string
	var walk func(i int) bool
	walk = func(i int) bool {
		visited[i] = true
		if a.signs(c, i) {
			return true
		}
		for p := 1; p < len(c.certs); p++ {
			if visited[p] || p == a.index || !c.issuedBy(i, p) {
				continue
			}
			if d := dateProblem(c.certs[p], now); d != "" {
				visited[p] = true
				if a.signs(c, p) || c.reaches(p, a) {
					problems = append(problems, subject(c.certs[p])+" "+d)
				}
				continue
			}
			if walk(p) {
				return true
			}
		}
		return false
	}
	return walk(0), problems
}

// reaches reports whether certificate i chains to anchor a by signatures
// alone, ignoring dates: it tells an expired intermediate on the way to the
// anchor from an expired certificate that leads nowhere.
func (c *chain) reaches(i int, a anchor) bool {
	visited := make([]bool, len(c.certs))
	var walk func(i int) bool
	walk = func(i int) bool {
		visited[i] = true
		if a.signs(c, i) {
			return true
		}
		for p := 1; p < len(c.certs); p++ {
			if !visited[p] && p != a.index && c.issuedBy(i, p) && walk(p) {
				return true
			}
		}
		return false
	}
	return walk(i)
}

// noPath says why presented anchor a does not sign the chain: a
// certificate names it as issuer, but it may not sign certificates, or its
// signature does not verify; or nothing names it.
func (c *chain) noPath(a anchor) string {
	ta := c.certs[a.index]
	for i, cert := range c.certs {
		if i == a.index || !bytes.Equal(cert.RawIssuer, ta.RawSubject) {
			continue
		}
		var cv x509.ConstraintViolationError
		if errors.As(cert.CheckSignatureFrom(ta), &cv) {
			return "it may not sign certificates (not a CA)"
		}
	}
	return "the leaf does not chain to it"
}

// selfIssued reports whether cert names itself as issuer, as OpenSSL's
// check of a trust anchor does (names and key identifiers, no signature).
func selfIssued(cert *x509.Certificate) bool {
	if !bytes.Equal(cert.RawIssuer, cert.RawSubject) {
		return false
	}
	return len(cert.AuthorityKeyId) == 0 || len(cert.SubjectKeyId) == 0 ||
		bytes.Equal(cert.AuthorityKeyId, cert.SubjectKeyId)
}

// dateProblem says how cert is outside its validity at now, "" if it is not.
func dateProblem(cert *x509.Certificate, now time.Time) string {
	const layout = "2006-01-02T15:04:05Z"
	switch {
	case now.After(cert.NotAfter):
		return "expired on " + cert.NotAfter.UTC().Format(layout)
	case now.Before(cert.NotBefore):
		return "is not valid before " + cert.NotBefore.UTC().Format(layout)
	}
	return ""
}

// validFor is the name check of RFC 7672 section 3.2.3: the DNS-ID
// subjectAltNames when there is one, else the subject CN, both with
// crypto/x509's matching (a wildcard covers one leftmost label).
func validFor(leaf *x509.Certificate, host string) bool {
	host = strings.TrimSuffix(host, ".")
	if host == "" {
		return false
	}
	if leaf.VerifyHostname(host) == nil {
		return true
	}
	if len(leaf.DNSNames) > 0 || leaf.Subject.CommonName == "" {
		return false
	}
	cn := &x509.Certificate{DNSNames: []string{leaf.Subject.CommonName}}
	return cn.VerifyHostname(host) == nil
}

// subject names a certificate for messages: its CN, else its subject DN.
func subject(cert *x509.Certificate) string {
	s := cert.Subject.String()
	if cn := cert.Subject.CommonName; cn != "" {
		s = "CN=" + cn
	}
	if s == "" && cert.SerialNumber != nil {
		s = "the certificate with serial " + cert.SerialNumber.String()
	}
	if s == "" {
		s = "a certificate without subject"
	}
	if r := []rune(s); len(r) > 64 {
		s = string(r[:64]) + "…"
	}
	return s
}
