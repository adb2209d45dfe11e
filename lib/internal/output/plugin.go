// Package output renders a report.Report in the formats the monitoring
// systems read. It judges nothing: states and findings come from the
// evaluation. Every rendering removes credentials first, then makes outside
// text safe for its format.
package output

import (
	"strings"

	"github.com/check-smtp/check-smtp/lib/internal/report"
	"github.com/check-smtp/check-smtp/lib/internal/text"
)

// Plugin is what follows "SMTP STATUS: " in the plugin format: the message,
// the perfdata and, with -v, the transcript lines. Secrets are removed
// before sanitizing, so a password holding a "|" or a control character is
// still found whole.
func Plugin(r *report.Report) string {
	var b strings.Builder
	b.WriteString(text.Line(r.Message, r.Secrets))
	if !r.NoPerfdata {
		b.WriteString(" | ")
		b.WriteString(r.PerfString())
	}
	if r.Verbose && r.Result != nil {
		for _, l := range r.Result.Transcript {
			b.WriteByte('\n')
			b.WriteString(text.Line(l, r.Secrets))
		}
	}
	return b.String()
}
