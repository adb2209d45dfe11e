// Package tlsrpt owns the SMTP TLS Reporting record (RFC 8460 section 3)
// for check-smtp's domain mode: choosing and parsing the TXT record at
// _smtp._tls.DOMAIN. It decides nothing about monitoring states; callers
// map its outcomes to them.
package tlsrpt

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Record is a parsed TLSRPT TXT record.
type Record struct {
	// RUA lists the report destinations in record order: mailto: and
	// https: URIs as written.
	RUA []string
}

// Status is the outcome of SelectRecord.
type Status int

const (
	// NoRecord: no TXT record starts with v=TLSRPTv1; the domain asks
	// for no TLS reports.
	NoRecord Status = iota
	// Found: exactly one record starts with v=TLSRPTv1 and it is valid.
	Found
	// Invalid: several records start with v=TLSRPTv1, or the one that
	// does is malformed. Senders treat the domain as asking for no reports.
	Invalid
)

func (s Status) String() string {
	switch s {
	case NoRecord:
		return "no record"
	case Found:
		return "found"
	case Invalid:
		return "invalid"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

const version = "v=TLSRPTv1"

// SelectRecord picks the TLSRPT record among the TXT records of
// _smtp._tls.DOMAIN, one string per record (a record's character-strings
// already concatenated). Records that do not start with v=TLSRPTv1 are
// ignored (RFC 8460 3). It returns NoRecord with a nil error when none is
// left, Found with the record when exactly one valid record is left, and
// Invalid with an error saying why otherwise.
func SelectRecord(txts []string) (Record, Status, error) {
	var cands []string
	for _, t := range txts {
		if isCandidate(t) {
			cands = append(cands, t)
		}
	}
	switch len(cands) {
	case 0:
		return Record{}, NoRecord, nil
	case 1:
		r, err := ParseRecord(cands[0])
		if err != nil {
			return Record{}, Invalid, err
		}
		return r, Found, nil
	}
	return Record{}, Invalid, fmt.Errorf("%d TXT records start with %s, where exactly one is allowed", len(cands), version)
}

// isCandidate reports whether txt starts with the version tag as a whole
// field. RFC 8460 discards records not starting "v=TLSRPTv1;", but
// "v=TLSRPTv1" alone or followed by a space is a broken TLSRPT record,
// not some other protocol's, so it is kept to be reported as malformed.
func isCandidate(txt string) bool {
	rest, ok := strings.CutPrefix(txt, version)
	return ok && (rest == "" || rest[0] == ';' || rest[0] == ' ' || rest[0] == '\t')
}

// ParseRecord parses one TLSRPT TXT record (RFC 8460 3):
//
//	record    = "v=TLSRPTv1" 1*(*WSP ";" *WSP field) [*WSP ";"] *WSP
//	field     = "rua=" uri *(*WSP "," *WSP uri) / name "=" value
//	name      = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
//	value     = 1*(%x21-3A / %x3C / %x3E-7E)
//
// rua is required, exactly once, and each URI must be mailto: (with an
// address) or https: (with a host); commas and '!' inside a URI must be
// percent-encoded. Other fields are checked for syntax and ignored.
// Trailing whitespace is tolerated beyond the RFC grammar.
func ParseRecord(txt string) (Record, error) {
	fields, err := splitFields(txt)
	if err != nil {
		return Record{}, recordError(txt, err)
	}
	var r Record
	seen := false
	for _, f := range fields {
		if f.key != "rua" {
			if !isExtValue(f.value) {
				return Record{}, recordError(txt, fmt.Errorf("field %s: invalid value %q", f.key, shorten(f.value, 40)))
			}
			continue
		}
		if seen {
			return Record{}, recordError(txt, errors.New("rua given twice"))
		}
		seen = true
		for _, u := range strings.Split(f.value, ",") {
			u = strings.Trim(u, " \t")
			if err := checkURI(u); err != nil {
				return Record{}, recordError(txt, fmt.Errorf("rua: %w", err))
			}
			r.RUA = append(r.RUA, u)
		}
	}
	if !seen {
		hint := ""
		for _, f := range fields {
			if strings.EqualFold(f.key, "rua") {
				hint = fmt.Sprintf(" (%q found: keys are case-sensitive)", f.key)
			}
		}
		return Record{}, recordError(txt, errors.New("no rua field"+hint))
	}
	return r, nil
}

// checkURI accepts a mailto: URI with an address or an https: URI with a
// host, in RFC 3986 characters, without a literal '!' (RFC 8460 3).
func checkURI(u string) error {
	if u == "" {
		return errors.New("empty URI (a stray ',')")
	}
	for i := 0; i < len(u); i++ {
		c := u[i]
		switch {
		case c == '!':
			return fmt.Errorf("%q contains '!', which RFC 8460 requires to be encoded as %%21", shorten(u, 60))
		case c == '%':
			if i+2 >= len(u) || !isHex(u[i+1]) || !isHex(u[i+2]) {
				return fmt.Errorf("%q has a '%%' not followed by two hex digits", shorten(u, 60))
			}
		case !isURIChar(c):
			return fmt.Errorf("%q contains %q, which is not allowed in a URI", shorten(u, 60), string(rune(c)))
		}
	}
	scheme, rest, _ := strings.Cut(u, ":")
	switch strings.ToLower(scheme) {
	case "mailto":
		addr, _, _ := strings.Cut(rest, "?") // headers such as ?subject=
		at := strings.LastIndexByte(addr, '@')
		if at <= 0 || at == len(addr)-1 {
			return fmt.Errorf("%q has no address", shorten(u, 60))
		}
		return nil
	case "https":
		p, err := url.Parse(u)
		if err != nil || p.Host == "" || p.Hostname() == "" || p.Opaque != "" {
			return fmt.Errorf("%q has no host", shorten(u, 60))
		}
		return nil
	}
	return fmt.Errorf("%q is not a mailto: or https: URI", shorten(u, 60))
}

// isURIChar: RFC 3986 unreserved, gen-delims and sub-delims, less ','
// (the rua separator) and ';' (the field separator); '%' is checked apart.
func isURIChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("-._~:/?#[]@$&'()*+=", c) >= 0
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// recordError names the record (shortened) and what is wrong with it.
func recordError(txt string, err error) error {
	return fmt.Errorf("TXT record %q: %w", shorten(txt, 120), err)
}

// field is one key=value pair of the record.
type field struct{ key, value string }

// splitFields checks the record's frame (the version, the ';'-separated
// fields, the field names) and returns the fields.
func splitFields(txt string) ([]field, error) {
	rest, ok := strings.CutPrefix(txt, version)
	if !ok {
		return nil, fmt.Errorf("does not start with %s", version)
	}
	rest = strings.TrimRight(rest, " \t")
	if rest == "" {
		return nil, fmt.Errorf("nothing after %s", version)
	}
	parts := strings.Split(rest, ";")
	if strings.TrimLeft(parts[0], " \t") != "" {
		return nil, fmt.Errorf("%s must be followed by ';'", version)
	}
	parts = parts[1:]
	if strings.Trim(parts[len(parts)-1], " \t") == "" {
		parts = parts[:len(parts)-1] // the optional trailing ';'
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("no field after %s", version)
	}
	fields := make([]field, 0, len(parts))
	for _, p := range parts {
		p = strings.Trim(p, " \t")
		if p == "" {
			return nil, errors.New("empty field (two ';' in a row)")
		}
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			return nil, fmt.Errorf("field %q is not key=value", shorten(p, 40))
		}
		if !isFieldName(k) {
			return nil, fmt.Errorf("invalid field name %q", shorten(k, 40))
		}
		fields = append(fields, field{k, v})
	}
	return fields, nil
}

// isFieldName: a letter or digit, then up to 31 letters, digits, '_', '-', '.'.
func isFieldName(s string) bool {
	if s == "" || len(s) > 32 || !isAlnumByte(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlnumByte(c) && c != '_' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// isExtValue: one or more printable ASCII characters other than ';' and '='.
func isExtValue(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == ';' || c == '=' {
			return false
		}
	}
	return true
}

func isAlnumByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// shorten cuts s to at most n bytes for an error message, marking the cut.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
