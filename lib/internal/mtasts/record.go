// Package mtasts owns MTA-STS (RFC 8461) for check-smtp's domain mode: the
// _mta-sts TXT record, the policy file and its fetch over HTTPS, and the
// matching of MX host names against the policy's mx patterns. It decides
// nothing about monitoring states; callers map its outcomes to them.
package mtasts

import (
	"errors"
	"fmt"
	"strings"
)

// Record is a parsed _mta-sts TXT record (RFC 8461 section 3.1).
type Record struct {
	// ID identifies the policy version: 1-32 ASCII letters and digits.
	ID string
}

// Status is the outcome of SelectRecord.
type Status int

const (
	// NoRecord: no TXT record starts with v=STSv1; the domain does not
	// use MTA-STS.
	NoRecord Status = iota
	// Found: exactly one record starts with v=STSv1 and it is valid.
	Found
	// Invalid: several records start with v=STSv1, or the one that does
	// is malformed. Senders treat the domain as having no MTA-STS policy.
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

const stsVersion = "v=STSv1"

// SelectRecord picks the MTA-STS record among the TXT records of
// _mta-sts.DOMAIN, one string per record (a record's character-strings
// already concatenated, as RFC 8461 3.1 requires). Records that do not
// start with v=STSv1 are ignored. It returns NoRecord with a nil error when
// none is left, Found with the record when exactly one valid record is
// left, and Invalid with an error saying why otherwise.
func SelectRecord(txts []string) (Record, Status, error) {
	var cands []string
	for _, t := range txts {
		if isCandidate(t, stsVersion) {
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
	return Record{}, Invalid, fmt.Errorf("%d TXT records start with %s, where exactly one is allowed", len(cands), stsVersion)
}

// isCandidate reports whether txt starts with the version tag as a whole
// field. RFC 8461 discards records not starting "v=STSv1;", but
// "v=STSv1" alone or followed by a space is a broken MTA-STS record, not
// some other protocol's, so it is kept to be reported as malformed.
func isCandidate(txt, version string) bool {
	rest, ok := strings.CutPrefix(txt, version)
	return ok && (rest == "" || rest[0] == ';' || rest[0] == ' ' || rest[0] == '\t')
}

// ParseRecord parses one _mta-sts TXT record: v=STSv1 first, then
// ';'-separated key=value fields with optional spaces around the ';' and
// an optional trailing ';'. The id field is required, exactly once;
// extension fields are checked for syntax and otherwise ignored.
func ParseRecord(txt string) (Record, error) {
	fields, err := splitFields(txt, stsVersion)
	if err != nil {
		return Record{}, recordError(txt, err)
	}
	var r Record
	seenID := false
	for _, f := range fields {
		if f.key == "id" {
			if seenID {
				return Record{}, recordError(txt, errors.New("id given twice"))
			}
			seenID = true
			if !isAlnum(f.value) || len(f.value) > 32 {
				return Record{}, recordError(txt, fmt.Errorf("id %q is not 1-32 letters and digits", f.value))
			}
			r.ID = f.value
		} else if !isExtValue(f.value) {
			return Record{}, recordError(txt, fmt.Errorf("field %s: invalid value %q", f.key, shorten(f.value, 40)))
		}
	}
	if !seenID {
		hint := ""
		for _, f := range fields {
			if strings.EqualFold(f.key, "id") {
				hint = fmt.Sprintf(" (%q found: keys are case-sensitive)", f.key)
			}
		}
		return Record{}, recordError(txt, errors.New("no id field"+hint))
	}
	return r, nil
}

// recordError names the record (shortened) and what is wrong with it.
func recordError(txt string, err error) error {
	return fmt.Errorf("TXT record %q: %w", shorten(txt, 120), err)
}

// field is one key=value pair of a TXT record.
type field struct{ key, value string }

// splitFields checks the shared grammar of the MTA-STS and TLSRPT TXT
// records (RFC 8461 3.1, RFC 8460 3):
//
//	record = version 1*(*WSP ";" *WSP field) [*WSP ";"] *WSP
//	field  = name "=" value
//	name   = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
//	value  = 1*(%x21-3A / %x3C / %x3E-7E)
//
// Trailing whitespace is tolerated beyond the RFC grammar: it is invisible
// in most DNS tools. Values are returned unchecked: the caller validates
// known keys with their own syntax and others with isExtValue.
func splitFields(txt, version string) ([]field, error) {
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

// isFieldName checks the TXT record and policy file extension name
// syntax: a letter or digit, then up to 31 letters, digits, '_', '-', '.'.
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

// isExtValue checks an extension value of a TXT record: one or more
// printable ASCII characters other than ';' and '='.
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

func isAlnum(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isAlnumByte(s[i]) {
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
