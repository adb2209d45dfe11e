package truststore

// DER tags on the way from a certificate to its subject.
const (
	tagSequence = 0x30
	tagInteger  = 0x02
	tagVersion  = 0xa0 // [0] EXPLICIT, constructed
)

// subjectOf returns the DER subject (tag, length and content) of the
// certificate whose DER begins with der, reading only the headers of the
// fields before it: Certificate SEQUENCE, TBSCertificate SEQUENCE, optional
// [0] version, serial INTEGER, signature SEQUENCE, issuer SEQUENCE, validity
// SEQUENCE, subject SEQUENCE. It follows the same fields as
// crypto/x509.ParseCertificate, accepting at least what it accepts, so for
// a certificate that parses it returns the same bytes as RawSubject. ok is
// false if der is malformed or too short to hold the subject.
func subjectOf(der []byte) (subject []byte, ok bool) {
	s, ok := enter(der, tagSequence) // Certificate
	if !ok {
		return nil, false
	}
	if s, ok = enter(s, tagSequence); !ok { // TBSCertificate
		return nil, false
	}
	if len(s) > 0 && s[0] == tagVersion {
		if _, s, ok = element(s, tagVersion); !ok {
			return nil, false
		}
	}
	for _, tag := range [...]byte{tagInteger, tagSequence, tagSequence, tagSequence} {
		if _, s, ok = element(s, tag); !ok { // serial, signature, issuer, validity
			return nil, false
		}
	}
	subject, _, ok = element(s, tagSequence)
	return subject, ok
}

// header reads the tag and length of the element at the start of s: the
// header's size and the content's. Lengths are definite, of at most four
// bytes, as crypto/x509 requires.
func header(s []byte, tag byte) (hdr, n int, ok bool) {
	if len(s) < 2 || s[0] != tag {
		return 0, 0, false
	}
	l := uint64(s[1])
	hdr = 2
	if l >= 0x80 {
		lenLen := int(l & 0x7f)
		if lenLen == 0 || lenLen > 4 || len(s) < 2+lenLen {
			return 0, 0, false
		}
		l = 0
		for _, b := range s[2 : 2+lenLen] {
			l = l<<8 | uint64(b)
		}
		hdr += lenLen
	}
	if l > uint64(len(s)) {
		// Too long for s: truncated or malformed. enter still allows it.
		return hdr, -1, true
	}
	return hdr, int(l), true
}

// enter returns the content of the element at the start of s, cut short
// where s ends (der may be a prefix of the certificate).
func enter(s []byte, tag byte) ([]byte, bool) {
	hdr, n, ok := header(s, tag)
	if !ok {
		return nil, false
	}
	if n < 0 || hdr+n > len(s) {
		return s[hdr:], true
	}
	return s[hdr : hdr+n], true
}

// element splits off the whole element at the start of s, which must hold
// all of it.
func element(s []byte, tag byte) (elem, rest []byte, ok bool) {
	hdr, n, ok := header(s, tag)
	if !ok || n < 0 || hdr+n > len(s) {
		return nil, nil, false
	}
	return s[:hdr+n], s[hdr+n:], true
}
