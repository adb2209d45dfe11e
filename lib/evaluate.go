package checksmtp

import (
	"fmt"
	"sort"
	"strings"

	"github.com/mackerelio/checkers"
)

// evaluate turns what the probe saw into a status and a message that leads
// with the worst finding and ends with the summary of the conversation.
func evaluate(cfg *config, res *result) (checkers.Status, string) {
	var fs []finding
	if res.fatal != nil {
		st := res.fatal.status
		if res.fatal.timeout {
			st = cfg.timeoutState
		}
		fs = append(fs, finding{st, res.fatal.msg})
	}
	if res.tls != nil && res.tls.leaf != nil {
		if f, ok := certFinding(cfg, res.tls.leaf, res.checkedAt); ok {
			fs = append(fs, f)
		}
	}
	fs = append(fs, res.findings...)
	// Time thresholds judge a conversation that ran to the end; a failed one
	// already has its state, and its partial time means little.
	if res.fatal == nil {
		fs = append(fs, thresholdFindings(cfg, res)...)
	}

	sort.SliceStable(fs, func(i, j int) bool { return severity(fs[i].status) > severity(fs[j].status) })
	status := checkers.OK
	parts := make([]string, 0, len(fs)+1)
	for _, f := range fs {
		if severity(f.status) > severity(status) {
			status = f.status
		}
		parts = append(parts, f.msg)
	}
	parts = append(parts, summary(res))
	return status, strings.Join(parts, "; ")
}

// severity orders states for "worst wins": UNKNOWN sits between WARNING and
// CRITICAL, as in the Nagios plugin guidelines.
func severity(s checkers.Status) int {
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

func thresholdFindings(cfg *config, res *result) []finding {
	var fs []finding
	switch {
	case cfg.critical.exceededBy(res.total):
		fs = append(fs, finding{checkers.CRITICAL, fmt.Sprintf("response time %.3fs over critical threshold %ss", res.total.Seconds(), fmtSeconds(cfg.critical.secs))})
	case cfg.warning.exceededBy(res.total):
		fs = append(fs, finding{checkers.WARNING, fmt.Sprintf("response time %.3fs over warning threshold %ss", res.total.Seconds(), fmtSeconds(cfg.warning.secs))})
	}
	for _, st := range res.order {
		d := res.spent[st]
		switch {
		case cfg.stepCritical[st].exceededBy(d):
			fs = append(fs, finding{checkers.CRITICAL, fmt.Sprintf("step %s took %.3fs, over critical threshold %ss", st, d.Seconds(), fmtSeconds(cfg.stepCritical[st].secs))})
		case cfg.stepWarning[st].exceededBy(d):
			fs = append(fs, finding{checkers.WARNING, fmt.Sprintf("step %s took %.3fs, over warning threshold %ss", st, d.Seconds(), fmtSeconds(cfg.stepWarning[st].secs))})
		}
	}
	return fs
}

// summary is the OK-style description: time, greeting, TLS facts.
func summary(res *result) string {
	parts := []string{fmt.Sprintf("%.3fs response time", res.total.Seconds())}
	if res.greeting != "" {
		parts = append(parts, quoteServerShort(res.greeting))
	}
	if ti := res.tls; ti != nil {
		parts = append(parts, ti.version, ti.cipher)
		if ti.leaf != nil {
			if d := daysLeft(ti.leaf, res.checkedAt); d >= 0 {
				parts = append(parts, fmt.Sprintf("certificate valid %d days", d))
			}
		}
	}
	return strings.Join(parts, ", ")
}
