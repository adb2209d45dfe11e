package dane

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxIssuerHints bounds the DANE-TA fixes a mismatch message offers.
const maxIssuerHints = 2

// Describe is the verdict in words for an operator, about the TLSA records
// at _PORT._tcp.HOST, for example
//
//	DANE-EE 3 1 1 matches
//	no TLSA record matches the certificate (certificate renewed without
//	updating TLSA?): published 3 1 1 ab12cd34…, served
//	_25._tcp.mx.example.org. IN TLSA 3 1 1 <hex>
//
// (on one line). The text has no ';', '|' or control characters, so it can go
// into plugin output as is.
func (v Verdict) Describe(port int, host string) string {
	owner := fmt.Sprintf("_%d._tcp.%s", port, strings.TrimSuffix(host, "."))
	var b strings.Builder
	switch v.Result {
	case None:
		b.WriteString("no TLSA records at " + owner)
	case Unusable:
		b.WriteString("no usable TLSA record at " + owner + ", DANE senders fall back to unauthenticated TLS: ")
		b.WriteString(strings.Join(v.Ignored, ", "))
	case Match:
		if v.Matched != nil {
			b.WriteString(v.Matched.Label() + " matches")
		}
		if v.Anchor != "" {
			b.WriteString(" via " + v.Anchor)
		}
	case Mismatch:
		v.describeMismatch(&b, owner)
	default:
		b.WriteString(v.Result.String())
	}
	return clean(b.String())
}

func (v Verdict) describeMismatch(b *strings.Builder, owner string) {
	switch {
	case v.Leaf.Data == nil:
		b.WriteString("no TLSA record can match")
		if len(v.Reasons) > 0 {
			b.WriteString(": " + strings.Join(v.Reasons, ", "))
		}
	case len(v.Reasons) > 0:
		b.WriteString("no TLSA record authenticates the certificate: " + strings.Join(v.Reasons, ", "))
	default:
		b.WriteString("no TLSA record matches the certificate (certificate renewed without updating TLSA?)")
	}
	published := make([]string, len(v.Published))
	for i, r := range v.Published {
		published[i] = r.Short()
	}
	b.WriteString(": published " + strings.Join(published, ", "))
	if v.Leaf.Data != nil {
		b.WriteString(", served " + owner + ". IN TLSA " + v.Leaf.String())
		if v.publishesTA() {
			for i, h := range v.Issuers {
				if i == maxIssuerHints {
					break
				}
				b.WriteString(" or " + owner + ". IN TLSA " + h.Record.String() + " for " + h.Subject)
			}
		}
	}
	if len(v.Ignored) > 0 {
		b.WriteString(", ignored " + strings.Join(v.Ignored, ", "))
	}
}

func (v Verdict) publishesTA() bool {
	for _, r := range v.Published {
		if r.Usage == UsageDANETA {
			return true
		}
	}
	return false
}

// clean keeps text from certificates (subjects, parse errors) and from the
// caller (the host) from breaking plugin output: ';' and '|' separate
// perfdata and output, and control characters break lines.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == ';':
			return ','
		case r == '|':
			return '/'
		case r == utf8.RuneError, unicode.IsControl(r):
			return '?'
		}
		return r
	}, s)
}
