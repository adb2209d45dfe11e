// Package dane owns the DANE matching for SMTP (RFC 7672, RFC 7671): it
// decides whether a server's presented certificate chain is authenticated by
// a set of TLSA records, and explains the answer to an operator.
//
// It does not look records up and does not judge DNSSEC: the caller passes
// records that came from a secure answer. The package has no state; every
// function is safe for concurrent use.
package dane

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// Certificate usages, selectors and matching types (RFC 6698, RFC 7218).
const (
	UsagePKIXTA = 0
	UsagePKIXEE = 1
	UsageDANETA = 2
	UsageDANEEE = 3

	SelectorCert = 0
	SelectorSPKI = 1

	MatchFull   = 0
	MatchSHA256 = 1
	MatchSHA512 = 2
)

// Record is one TLSA record.
type Record struct {
	Usage, Selector, MatchingType uint8
	Data                          []byte
}

// String is the presentation form, "3 1 1 <hex>" (lower-case hex); a record
// without data is "3 1 1".
func (r Record) String() string {
	s := r.numbers()
	if len(r.Data) > 0 {
		s += " " + hex.EncodeToString(r.Data)
	}
	return s
}

// Label names the record for messages without its data: "DANE-EE 3 1 1".
func (r Record) Label() string {
	return usageName(r.Usage) + " " + r.numbers()
}

// Short is the record with its data cut to 8 hex digits, "3 1 1 ab12cd34…",
// enough for an operator to recognise which record is meant.
func (r Record) Short() string {
	h := hex.EncodeToString(r.Data)
	if len(h) > 8 {
		h = h[:8] + "…"
	}
	if h == "" {
		return r.numbers()
	}
	return r.numbers() + " " + h
}

func (r Record) numbers() string {
	return fmt.Sprintf("%d %d %d", r.Usage, r.Selector, r.MatchingType)
}

func usageName(u uint8) string {
	switch u {
	case UsagePKIXTA:
		return "PKIX-TA"
	case UsagePKIXEE:
		return "PKIX-EE"
	case UsageDANETA:
		return "DANE-TA"
	case UsageDANEEE:
		return "DANE-EE"
	}
	return "usage"
}

// Usable reports whether an SMTP client can use the record (RFC 7672
// section 3.1.3, RFC 7671 section 4): usage DANE-TA(2) or DANE-EE(3),
// selector Cert(0) or SPKI(1), matching type Full(0), SHA2-256(1) or
// SHA2-512(2), and data of the right shape: a digest of the digest's length,
// a full certificate or SubjectPublicKeyInfo that is well-formed DER. The
// shape rule follows OpenSSL (used by Postfix and Exim), which refuses such
// records when they are loaded: a sender ignores them, so they must not count
// as a usable record (nor towards --dane-rollover).
func (r Record) Usable() bool { return r.problem() == "" }

// problem says why the record is unusable, "" when it is usable.
func (r Record) problem() string {
	switch r.Usage {
	case UsageDANETA, UsageDANEEE:
	case UsagePKIXTA, UsagePKIXEE:
		return "PKIX usages are not used for SMTP (RFC 7672 section 3.1.3)"
	default:
		return fmt.Sprintf("unknown certificate usage %d", r.Usage)
	}
	if r.Selector != SelectorCert && r.Selector != SelectorSPKI {
		return fmt.Sprintf("unknown selector %d", r.Selector)
	}
	switch r.MatchingType {
	case MatchSHA256:
		if len(r.Data) != sha256.Size {
			return fmt.Sprintf("SHA-256 data must be %d bytes, it has %d", sha256.Size, len(r.Data))
		}
	case MatchSHA512:
		if len(r.Data) != sha512.Size {
			return fmt.Sprintf("SHA-512 data must be %d bytes, it has %d", sha512.Size, len(r.Data))
		}
	case MatchFull:
		if r.Selector == SelectorCert && !isCertificateDER(r.Data) {
			return "full certificate data is not a DER certificate"
		}
		if r.Selector == SelectorSPKI && !isSPKIDER(r.Data) {
			return "full public key data is not a DER SubjectPublicKeyInfo"
		}
	default:
		return fmt.Sprintf("unknown matching type %d", r.MatchingType)
	}
	return ""
}

// isCertificateDER checks the outer structure of an X.509 certificate only:
// a record may carry a certificate this Go version cannot fully parse, and
// matching it by its bytes still works.
func isCertificateDER(b []byte) bool {
	var c struct {
		TBS       asn1.RawValue
		Algorithm pkix.AlgorithmIdentifier
		Signature asn1.BitString
	}
	rest, err := asn1.Unmarshal(b, &c)
	return err == nil && len(rest) == 0 &&
		c.TBS.Class == asn1.ClassUniversal && c.TBS.Tag == asn1.TagSequence && c.TBS.IsCompound
}

func isSPKIDER(b []byte) bool {
	var k struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	rest, err := asn1.Unmarshal(b, &k)
	return err == nil && len(rest) == 0
}

// RecordFor computes the record of the given kind for cert. An unknown
// selector or matching type gives a record without data.
func RecordFor(cert *x509.Certificate, usage, selector, matching uint8) Record {
	r := Record{Usage: usage, Selector: selector, MatchingType: matching}
	r.Data = digest(selected(cert, selector), matching)
	return r
}

// selected is the part of cert a selector names; nil for an unknown one.
func selected(cert *x509.Certificate, selector uint8) []byte {
	switch selector {
	case SelectorCert:
		return cert.Raw
	case SelectorSPKI:
		return cert.RawSubjectPublicKeyInfo
	}
	return nil
}

func digest(b []byte, matching uint8) []byte {
	if b == nil {
		return nil
	}
	switch matching {
	case MatchFull:
		return append([]byte(nil), b...)
	case MatchSHA256:
		s := sha256.Sum256(b)
		return s[:]
	case MatchSHA512:
		s := sha512.Sum512(b)
		return s[:]
	}
	return nil
}

// ParseRecord reads a TLSA record in presentation form: three numbers and the
// data in hex, which may be split by white space ("3 1 1 AB12 CD34", as dig
// prints it) and wrapped in zone-file parentheses. The RFC 7218 mnemonics are
// accepted for the numbers ("DANE-EE SPKI SHA2-256 ab12..."). The record
// need not be usable.
func ParseRecord(s string) (Record, error) {
	s = strings.NewReplacer("(", " ", ")", " ").Replace(s)
	f := strings.Fields(s)
	if len(f) < 4 {
		return Record{}, fmt.Errorf("TLSA record %q: want usage, selector, matching type and data", clip(s))
	}
	var r Record
	var err error
	if r.Usage, err = field(f[0], "usage", usageMnemonic); err != nil {
		return Record{}, err
	}
	if r.Selector, err = field(f[1], "selector", selectorMnemonic); err != nil {
		return Record{}, err
	}
	if r.MatchingType, err = field(f[2], "matching type", matchingMnemonic); err != nil {
		return Record{}, err
	}
	h := strings.Join(f[3:], "")
	if r.Data, err = hex.DecodeString(h); err != nil {
		return Record{}, fmt.Errorf("TLSA record data %q is not hex: %w", clip(h), err)
	}
	return r, nil
}

// field reads one of the three numbers, or its RFC 7218 mnemonic.
func field(s, what string, mnemonic func(string) (uint8, bool)) (uint8, error) {
	if v, ok := mnemonic(strings.ToUpper(s)); ok {
		return v, nil
	}
	n, err := strconv.ParseUint(s, 10, 8)
	if err != nil {
		return 0, fmt.Errorf("TLSA %s %q is not a number from 0 to 255", what, clip(s))
	}
	return uint8(n), nil
}

func usageMnemonic(s string) (uint8, bool) {
	switch s {
	case "PKIX-TA":
		return UsagePKIXTA, true
	case "PKIX-EE":
		return UsagePKIXEE, true
	case "DANE-TA":
		return UsageDANETA, true
	case "DANE-EE":
		return UsageDANEEE, true
	case "PRIVCERT":
		return 255, true
	}
	return 0, false
}

func selectorMnemonic(s string) (uint8, bool) {
	switch s {
	case "CERT":
		return SelectorCert, true
	case "SPKI":
		return SelectorSPKI, true
	case "PRIVSEL":
		return 255, true
	}
	return 0, false
}

func matchingMnemonic(s string) (uint8, bool) {
	switch s {
	case "FULL":
		return MatchFull, true
	case "SHA2-256":
		return MatchSHA256, true
	case "SHA2-512":
		return MatchSHA512, true
	case "PRIVMATCH":
		return 255, true
	}
	return 0, false
}

// clip keeps error messages about outside input short.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
