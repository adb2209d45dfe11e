package checksmtp

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	maxQuoted      = 300 // server text quoted in a message
	maxQuotedShort = 80  // the greeting in the OK summary
)

// render builds everything after "SMTP STATUS: ": the message, the perfdata
// and, with -v, the transcript. Secrets are removed before sanitizing, so a
// password holding a "|" or a control character is still found whole.
func render(cfg *config, res *result, msg string) string {
	var b strings.Builder
	b.WriteString(sanitizeLine(redact(msg, res.secrets)))
	if !cfg.noPerfdata {
		b.WriteString(" | ")
		b.WriteString(perfdata(cfg, res))
	}
	for _, l := range res.transcript {
		b.WriteByte('\n')
		b.WriteString(sanitizeLine(redact(l, res.secrets)))
	}
	return b.String()
}

// perfdata follows the Nagios plugin guidelines: time first, then each step
// that ran in conversation order, then the certificate's days left.
func perfdata(cfg *config, res *result) string {
	items := []string{fmt.Sprintf("time=%.6fs;%s;%s;0", res.total.Seconds(), cfg.warning, cfg.critical)}
	for _, st := range res.order {
		items = append(items, fmt.Sprintf("%s=%.6fs;%s;%s;0", st, res.spent[st].Seconds(), cfg.stepWarning[st], cfg.stepCritical[st]))
	}
	if res.tls != nil && res.tls.leaf != nil {
		cd := fmt.Sprintf("cert_days=%d", daysLeft(res.tls.leaf, res.checkedAt))
		if cfg.certDays {
			cd += fmt.Sprintf(";%d:;%d:", cfg.certWarnDays, cfg.certCritDays)
		}
		items = append(items, cd)
	}
	return strings.Join(items, " ")
}

// String renders a threshold for perfdata: empty when unset.
func (l limit) String() string {
	if !l.set {
		return ""
	}
	return fmtSeconds(l.secs)
}

func fmtSeconds(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// redact replaces every secret (longest first, so a base64 form is not
// half-replaced by a shorter secret inside it).
func redact(s string, secrets []string) string {
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
			s = strings.ReplaceAll(s, sec, "<redacted>")
		}
	}
	return s
}

// sanitizeLine makes text safe for a plugin output line: "|" would start
// perfdata for Nagios, control characters and invalid UTF-8 garble logs.
func sanitizeLine(s string) string {
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

// quoteServer prepares server text for a message: sanitized and cut. A
// reply read after AUTH may echo a credential: quote it with session.quote,
// which redacts before sanitizing and cutting.
func quoteServer(s string) string { return cut(sanitizeLine(s), maxQuoted) }

func quoteServerShort(s string) string { return cut(sanitizeLine(s), maxQuotedShort) }

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// back off to a rune boundary
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}
