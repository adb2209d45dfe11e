package mtasts

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Policy is a parsed MTA-STS policy file (RFC 8461 section 3.2).
type Policy struct {
	Version string   // always "STSv1"
	Mode    string   // "enforce", "testing" or "none"
	MaxAge  int64    // seconds, 0-31557600
	MX      []string // the mx patterns as written, in file order
}

const (
	// maxPolicySize bounds the policy body (RFC 8461 3.3 suggests 64 KiB).
	maxPolicySize = 64 << 10
	// maxMaxAge is the largest max_age RFC 8461 allows (about a year).
	maxMaxAge = 31557600
)

// PolicyError is what ParsePolicy reports: the 1-based line and the key
// where the policy goes wrong, where there is one (a missing key has no
// line).
type PolicyError struct {
	Line int    // 0 when the problem is not on one line
	Key  string // "" when the line has no usable key
	Msg  string
}

func (e *PolicyError) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ParsePolicy parses a policy file: "key: value" lines ended by LF or
// CRLF (mixed is accepted), in any order. version (STSv1), mode and max_age
// must appear exactly once, mx at least once unless mode is none. Unknown
// keys are ignored once their syntax is checked (RFC 8461 3.2). Keys and
// the values of version and mode are case-sensitive, as in the RFC.
//
// Decisions where the RFC grammar is silent or stricter than practice:
// a repeated version, mode or max_age is an error even with the same
// value (which one would a sender use?); spaces after the ':' and at the
// end of a line are skipped, but no space is allowed before the ':'
// (the key would not be a key); empty lines are skipped; an mx pattern
// may end in a dot; a body over 64 KiB is refused.
func ParsePolicy(body []byte) (*Policy, error) {
	if len(body) > maxPolicySize {
		return nil, &PolicyError{Msg: fmt.Sprintf("policy is %d bytes, larger than 64 KiB", len(body))}
	}
	if bytes.HasPrefix(body, []byte("\xef\xbb\xbf")) {
		return nil, &PolicyError{Line: 1, Msg: "starts with a UTF-8 byte order mark"}
	}
	ps := policyParser{first: map[string]int{}, nearMiss: map[string]keyAt{}}
	p := &ps.p
	n := 0
	for len(body) > 0 {
		n++
		var line []byte
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			line, body = body, nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(bytes.Trim(line, " \t")) == 0 {
			continue
		}
		if err := ps.line(n, string(line)); err != nil {
			return nil, err
		}
	}
	for _, k := range []string{"version", "mode", "max_age"} {
		if _, ok := ps.first[k]; !ok {
			return nil, &PolicyError{Key: k, Msg: "missing" + ps.hint(k)}
		}
	}
	if p.Mode != "none" && len(p.MX) == 0 {
		return nil, &PolicyError{Key: "mx", Msg: fmt.Sprintf("missing: mode %s needs at least one mx%s", p.Mode, ps.hint("mx"))}
	}
	return p, nil
}

// policyParser is the state of one ParsePolicy call.
type policyParser struct {
	p        Policy
	first    map[string]int   // line of the first version, mode, max_age
	nearMiss map[string]keyAt // known key -> an ignored key equal but for case
}

// keyAt is a key and the line it is on.
type keyAt struct {
	key  string
	line int
}

// hint explains a missing key that was present in another case.
func (ps *policyParser) hint(key string) string {
	if k, ok := ps.nearMiss[key]; ok {
		return fmt.Sprintf(" (line %d has %q: keys are case-sensitive)", k.line, k.key)
	}
	return ""
}

// line handles one non-empty line, numbered n.
func (ps *policyParser) line(n int, line string) error {
	p, first := &ps.p, ps.first
	key, value, ok := strings.Cut(line, ":")
	if !ok {
		return &PolicyError{Line: n, Msg: fmt.Sprintf("%q is not \"key: value\"", shorten(line, 40))}
	}
	if !isFieldName(key) {
		return &PolicyError{Line: n, Msg: fmt.Sprintf("invalid key %q", shorten(key, 40))}
	}
	value = strings.Trim(value, " \t")
	bad := func(format string, a ...any) error {
		return &PolicyError{Line: n, Key: key, Msg: fmt.Sprintf(format, a...)}
	}
	switch key {
	case "version", "mode", "max_age":
		if l, dup := first[key]; dup {
			return bad("given again (first on line %d)", l)
		}
		first[key] = n
	}
	switch key {
	case "version":
		if value != "STSv1" {
			return bad("%q is not STSv1", shorten(value, 40))
		}
		p.Version = value
	case "mode":
		switch value {
		case "enforce", "testing", "none":
			p.Mode = value
		default:
			return bad("%q is not enforce, testing or none", shorten(value, 40))
		}
	case "max_age":
		if len(value) == 0 || len(value) > 10 || strings.Trim(value, "0123456789") != "" {
			return bad("%q is not a number of seconds", shorten(value, 40))
		}
		v, _ := strconv.ParseInt(value, 10, 64) // at most 10 digits: fits
		if v > maxMaxAge {
			return bad("%d is larger than %d (RFC 8461 maximum)", v, maxMaxAge)
		}
		p.MaxAge = v
	case "mx":
		if !isMXPattern(value) {
			return bad("%q is not a host name or *.host.name pattern", shorten(value, 60))
		}
		p.MX = append(p.MX, value)
	default:
		if !isPolicyExtValue(value) {
			return bad("invalid value %q (control characters or invalid UTF-8)", shorten(value, 40))
		}
		// Ignored as the RFC demands, but a known key in the wrong case
		// is worth naming if that key turns out missing.
		if known := caseHint(key); known != "" {
			if _, ok := ps.nearMiss[known]; !ok {
				ps.nearMiss[known] = keyAt{key, n}
			}
		}
	}
	return nil
}

// caseHint returns the known key that key differs from only in case.
func caseHint(key string) string {
	for _, k := range []string{"version", "mode", "max_age", "mx"} {
		if strings.EqualFold(key, k) {
			return k
		}
	}
	return ""
}

// isPolicyExtValue checks an extension value of the policy file: UTF-8
// without control characters (RFC 8461 3.2 sts-policy-ext-value). It may
// be empty: unknown keys are ignored and an empty one harms nothing.
func isPolicyExtValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return utf8.ValidString(s)
}

// isMXPattern checks ["*."] Domain (RFC 8461 3.2); a trailing dot is
// tolerated.
func isMXPattern(s string) bool {
	return isHostName(strings.TrimPrefix(strings.TrimSuffix(s, "."), "*."))
}

// isHostName checks RFC 5321's Domain: dot-separated LDH labels, each
// 1-63 bytes, at most 253 bytes in all.
func isHostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if !isLDHLabel(label) {
			return false
		}
	}
	return true
}

// isLDHLabel: letters, digits and hyphens, 1-63 bytes, no hyphen at
// either end.
func isLDHLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		if c := l[i]; !isAlnumByte(c) && c != '-' {
			return false
		}
	}
	return true
}

// Matches reports whether an MX host name matches one of the policy's mx
// patterns (RFC 8461 4.1): ASCII case-insensitively, ignoring trailing
// dots; "*.example.org" matches any name with exactly one more label on
// the left, not example.org itself nor a.b.example.org. Names are compared
// as A-labels; the caller converts U-labels first.
func (p *Policy) Matches(mxHost string) bool {
	host := strings.TrimSuffix(mxHost, ".")
	if host == "" {
		return false
	}
	for _, pat := range p.MX {
		pat = strings.TrimSuffix(pat, ".")
		if suffix, ok := strings.CutPrefix(pat, "*."); ok {
			label, rest, found := strings.Cut(host, ".")
			if found && label != "" && asciiEqualFold(rest, suffix) {
				return true
			}
			continue
		}
		if asciiEqualFold(host, pat) {
			return true
		}
	}
	return false
}

// asciiEqualFold compares ASCII case-insensitively. strings.EqualFold
// folds Unicode too (the Kelvin sign equals 'k'), which host names must
// not.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
