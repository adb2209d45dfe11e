// Package report is the value of one whole run of the check, after
// evaluation: the state, the findings that set it, the performance data and
// the probe results they came from. Output formats render a Report and
// judge nothing.
package report

import (
	"strings"

	"github.com/mackerelio/checkers"

	"github.com/check-smtp/check-smtp/lib/internal/probe"
)

// Finding is one judgement about the service; the worst one sets the state.
type Finding struct {
	Status checkers.Status
	Text   string // raw: the renderer redacts and sanitizes
}

// Perf is one performance-data item in the Nagios plugin format
// 'label'=value[UOM];[warn];[crit];[min];[max].
type Perf struct {
	Label, Value    string // Value with its unit, e.g. "0.002310s"
	Warn, Crit, Min string
}

// String renders the item, dropping empty trailing fields.
func (p Perf) String() string {
	s := p.Label + "=" + p.Value
	switch {
	case p.Min != "":
		s += ";" + p.Warn + ";" + p.Crit + ";" + p.Min
	case p.Warn != "" || p.Crit != "":
		s += ";" + p.Warn + ";" + p.Crit
	}
	return s
}

// Report is the outcome of one run.
type Report struct {
	Status     checkers.Status
	Message    string    // the status line's message: findings worst first, then the summary
	Findings   []Finding // worst first
	Perfdata   []Perf
	NoPerfdata bool
	Verbose    bool
	Result     *probe.Result // the single-server probe
	Secrets    []string      // every credential form, for redaction in any rendering
}

// Worst orders states for "worst wins": UNKNOWN sits between WARNING and
// CRITICAL, as in the Nagios plugin guidelines.
func Worst(a, b checkers.Status) checkers.Status {
	if Severity(b) > Severity(a) {
		return b
	}
	return a
}

// Severity ranks a state for Worst.
func Severity(s checkers.Status) int {
	switch s {
	case checkers.OK:
		return 0
	case checkers.WARNING:
		return 1
	case checkers.UNKNOWN:
		return 2
	}
	return 3
}

// PerfString joins the perfdata items.
func (r *Report) PerfString() string {
	items := make([]string, len(r.Perfdata))
	for i, p := range r.Perfdata {
		items[i] = p.String()
	}
	return strings.Join(items, " ")
}
