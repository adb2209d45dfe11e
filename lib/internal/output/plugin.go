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
	for _, l := range r.LongOutput {
		b.WriteByte('\n')
		b.WriteString(text.Line(l, r.Secrets))
	}
	if r.Verbose {
		for _, t := range r.Targets {
			if t.Result == nil {
				continue
			}
			if r.Domain != nil && len(t.Result.Transcript) > 0 {
				b.WriteString("\n--- " + text.Line(t.MX+" "+t.Address, nil))
			}
			for _, l := range t.Result.Transcript {
				b.WriteByte('\n')
				b.WriteString(text.Line(l, r.Secrets))
			}
		}
	}
	return b.String()
}
