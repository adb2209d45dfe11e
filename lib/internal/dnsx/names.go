package dnsx

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// ToASCII converts a domain name as an operator types it (U-labels such as
// "bücher.example" or A-labels, any case, an optional trailing dot) to the
// lower-case A-label form without the trailing dot that lookups take, with
// the IDNA2008 lookup rules (UTS #46, as browsers and MTAs map names).
// Invalid input (bad punycode, disallowed characters, empty or overlong
// labels, a name over 253 characters) is an error naming the input.
func ToASCII(domain string) (string, error) {
	s := strings.TrimSuffix(domain, ".")
	if s == "" {
		return "", fmt.Errorf("invalid domain name %q: empty", domain)
	}
	if !utf8.ValidString(s) {
		// idna would turn the bad bytes into U+FFFD and encode that.
		return "", fmt.Errorf("invalid domain name %q: not valid UTF-8", domain)
	}
	a, err := idna.Lookup.ToASCII(s)
	if err != nil {
		return "", fmt.Errorf("invalid domain name %q: %v", domain, err)
	}
	a = strings.ToLower(a)
	if strings.HasSuffix(a, ".") { // "example.org..": checkName would take one dot off
		return "", fmt.Errorf("invalid domain name %q: empty label", domain)
	}
	if _, err := checkName(a); err != nil {
		return "", fmt.Errorf("invalid domain name %q: %v", domain, err)
	}
	return a, nil
}

// checkName accepts an ASCII domain name (an optional trailing dot; letters,
// digits, '-' and '_' as in "_25._tcp.mx.example.org") and returns it
// lower-case and fully qualified, as queries carry it.
func checkName(name string) (string, error) {
	s := strings.TrimSuffix(name, ".")
	if s == "" {
		return "", fmt.Errorf("invalid name: empty")
	}
	if len(s) > 253 {
		return "", fmt.Errorf("invalid name: %d characters, the limit is 253", len(s))
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" {
			return "", fmt.Errorf("invalid name: empty label")
		}
		if len(label) > 63 {
			return "", fmt.Errorf("invalid name: label of %d characters, the limit is 63", len(label))
		}
		for i := 0; i < len(label); i++ {
			switch b := label[i]; {
			case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9', b == '-', b == '_':
			case b >= 0x80:
				return "", fmt.Errorf("invalid name: not ASCII (convert U-labels with ToASCII)")
			default:
				return "", fmt.Errorf("invalid name: character %q in label %q", b, label)
			}
		}
	}
	return strings.ToLower(s) + ".", nil
}
