// Package report is the value of one whole run of the check, after
// evaluation: the state, the findings that set it, the performance data and
// the probe results they came from. Output formats render a Report and
// judge nothing.
package report

import (
	"strings"
	"time"

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

// Report is the outcome of one run: one target in single-server mode, every
// MX address in domain mode.
type Report struct {
	Status     checkers.Status
	Message    string    // the status line's message: findings worst first, then the summary
	Findings   []Finding // run-level findings (domain mode: DNS, MTA-STS, TLSRPT, how targets counted), worst first
	Perfdata   []Perf
	NoPerfdata bool
	Verbose    bool
	Duration   time.Duration // the whole run
	Targets    []Target      // in preference order (domain mode) or the one target
	Domain     *Domain       // domain mode only
	// LongOutput holds the lines after the status line (before any
	// transcript): in domain mode one per target, then the domain findings.
	LongOutput []string
	Secrets    []string // every credential form, for redaction in any rendering
}

// Target is one probed address and how it was judged.
type Target struct {
	Host       string // the name connected to (MX host, or -H)
	Address    string // the IP address connected to ("" for a unix socket, or when it did not resolve)
	Port       int
	MX         string // domain mode: the MX host name
	Preference int    // domain mode: the MX preference
	Status     checkers.Status
	Findings   []Finding     // worst first
	Result     *probe.Result // nil when no conversation happened (the MX host has no address)
	DANE       *DANE
	// MTASTSCovered says whether the MX matches the policy's mx patterns
	// (nil: no usable policy).
	MTASTSCovered *bool
	// ChainNotAfter is the earliest NotAfter of the chain the evaluation
	// judged (the verified chain, anchor included; with -k the chain as
	// presented). Zero: not known, and renderers use the chain as presented.
	ChainNotAfter time.Time
}

// DANE is the DANE verdict for one target.
type DANE struct {
	Applies bool
	State   string // match, mismatch, none, insecure, error, unusable
	Matched string // e.g. "3 1 1"
	Usable  int    // usable TLSA records published
}

// Domain is what domain mode learnt about the domain itself.
type Domain struct {
	Name   string // A-labels
	MX     []MX
	MTASTS *MTASTS
	TLSRPT *TLSRPT
}

// MX is one MX record.
type MX struct {
	Preference int
	Host       string
}

// MTASTS is the domain's MTA-STS record and policy, as far as they were read.
type MTASTS struct {
	ID     string
	Mode   string // enforce, testing, none; "" when no policy was read
	MaxAge int64
	MX     []string
	Error  string
}

// TLSRPT is the domain's TLSRPT record.
type TLSRPT struct {
	RUA   []string
	Error string
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
