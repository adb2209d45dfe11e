// Package text owns how outside text (server replies, transcripts, error
// strings) becomes safe to print in a plugin line: secrets redacted first,
// then "|" and control characters replaced, then long quotes cut.
package text

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Lengths of server text quoted in messages.
const (
	MaxQuoted      = 300 // a reply quoted in a finding
	MaxQuotedShort = 80  // the greeting in the OK summary
)

// Redacted is what a secret is replaced with.
const Redacted = "<redacted>"

// Redact replaces every secret (longest first, so a base64 form is not
// half-replaced by a shorter secret inside it).
func Redact(s string, secrets []string) string {
	if len(secrets) == 0 {
		return s
	}
	sorted := append([]string(nil), secrets...)
	for i := range sorted { // few secrets: insertion sort by length, longest first
		for j := i; j > 0 && len(sorted[j]) > len(sorted[j-1]); j-- {
			sorted[j], sorted[j-1] = sorted[j-1], sorted[j]
		}
	}
	for _, sec := range sorted {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, Redacted)
		}
	}
	return s
}

// Sanitize makes text safe for a plugin output line: "|" would start
// perfdata for Nagios, control characters and invalid UTF-8 garble logs.
func Sanitize(s string) string {
	if !needsSanitizing(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == '|':
			b.WriteRune('¦')
		case r == '\t':
			b.WriteByte(' ')
		case r == utf8.RuneError && size == 1:
			b.WriteByte('?')
		case unicode.IsControl(r):
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func needsSanitizing(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '|' || c < 0x20 || c >= 0x7f {
			return true
		}
	}
	return false
}

// Quote prepares server text for a message: redacted, sanitized and cut, in
// that order, so that a credential echoed by a server is never left behind
// mangled ("|" rewritten) or partial (cut).
func Quote(s string, secrets []string) string {
	return Cut(Sanitize(Redact(s, secrets)), MaxQuoted)
}

// QuoteShort is Quote with the shorter limit of the OK summary.
func QuoteShort(s string, secrets []string) string {
	return Cut(Sanitize(Redact(s, secrets)), MaxQuotedShort)
}

// Line renders one whole output line: redacted, then sanitized.
func Line(s string, secrets []string) string { return Sanitize(Redact(s, secrets)) }

// Cut shortens s to n bytes plus an ellipsis, on a rune boundary.
func Cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}
