package checksmtp

import (
	"crypto/x509"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/mackerelio/checkers"

	"github.com/check-smtp/check-smtp/lib/internal/probe"
	"github.com/check-smtp/check-smtp/lib/internal/report"
	"github.com/check-smtp/check-smtp/lib/internal/text"
	"github.com/check-smtp/check-smtp/lib/internal/tlsverify"
)

// evaluate is the one place where what the probe saw becomes states: it
// returns the report whose message leads with the worst finding and ends
// with the summary of the conversation.
func evaluate(cfg *config, res *probe.Result) *report.Report {
	j := &cfg.judge
	quote := func(s string) string { return text.Quote(s, res.Secrets) }
	var fs []report.Finding
	fatal := res.Failure
	if fatal == nil && !j.ignoreQuit && res.QuitError != nil && res.QuitError.Kind == probe.KindTimeout {
		// A QUIT that times out ends the run like any other timeout.
		fatal = res.QuitError
	}
	if fatal != nil {
		fs = append(fs, report.Finding{Status: failureState(j, fatal), Text: fatal.Message.Render(quote)})
	}
	if leaf := res.TLS.Leaf(); leaf != nil {
		if f, ok := certFinding(j, leaf, res.Started); ok {
			fs = append(fs, f)
		}
	}
	if j.expect != "" && res.Greeting != nil && !strings.Contains(res.Banner.String(), j.expect) && !strings.Contains(res.Greeting.String(), j.expect) {
		fs = append(fs, report.Finding{Status: checkers.WARNING,
			Text: fmt.Sprintf("neither the banner nor the EHLO reply contains %q: %s", j.expect, quote(res.Banner.OneLine()))})
	}
	for _, r := range res.Rcpts {
		if r.MustRefuse && r.Reply.Class() == 4 {
			// Greylisting or a transient fault: not the refusal asked for, not proof of a relay.
			fs = append(fs, report.Finding{Status: checkers.WARNING,
				Text: fmt.Sprintf("RCPT TO:<%s> got a temporary failure, expected a permanent rejection: %s", r.Addr, quote(r.Reply.OneLine()))})
		}
	}
	// Every -C/-R pair is judged; a later match never clears an earlier mismatch.
	for i, c := range res.Commands {
		re := j.responses[i]
		switch {
		case re != nil && !re.MatchString(c.Reply.String()):
			fs = append(fs, report.Finding{Status: checkers.WARNING,
				Text: fmt.Sprintf("reply to -C %q does not match -R %q: %s", c.Command, re.String(), quote(c.Reply.OneLine()))})
		case re == nil && c.Reply.Class() == 5:
			fs = append(fs, report.Finding{Status: checkers.WARNING,
				Text: fmt.Sprintf("-C %q refused: %s", c.Command, quote(c.Reply.OneLine()))})
		}
	}
	if !j.ignoreQuit {
		switch {
		case res.QuitError != nil && res.QuitError.Kind == probe.KindTimeout: // already the fatal finding
		case res.QuitError != nil:
			fs = append(fs, report.Finding{Status: checkers.WARNING, Text: "QUIT failed: " + res.QuitError.Message.Render(quote)})
		case res.Quit != nil && res.Quit.Class() != 2:
			fs = append(fs, report.Finding{Status: checkers.WARNING, Text: "QUIT refused: " + quote(res.Quit.OneLine())})
		}
	}
	// Time thresholds judge a conversation that ran to the end; a failed one
	// already has its state, and its partial time means little.
	if fatal == nil {
		fs = append(fs, thresholdFindings(j, res)...)
	}

	sort.SliceStable(fs, func(a, b int) bool { return report.Severity(fs[a].Status) > report.Severity(fs[b].Status) })
	status := checkers.OK
	parts := make([]string, 0, len(fs)+1)
	for _, f := range fs {
		status = report.Worst(status, f.Status)
		parts = append(parts, f.Text)
	}
	parts = append(parts, summary(res))
	if to, ok := j.statusMap[status]; ok {
		status = to
	}
	tg := report.Target{Host: res.Target.Host, Port: res.Target.Port, Status: status, Findings: fs, Result: res}
	if res.Peer != nil {
		tg.Address = res.Peer.String()
	}
	return &report.Report{
		Status: status, Message: strings.Join(parts, "; "), Findings: fs,
		Perfdata: perfdata(cfg, res), NoPerfdata: cfg.out.noPerfdata, Verbose: cfg.out.verbose,
		Duration: res.Total, Targets: []report.Target{tg}, Secrets: res.Secrets,
	}
}

// failureState maps what ended the conversation to a state.
func failureState(j *judgement, f *probe.Failure) checkers.Status {
	switch f.Kind {
	case probe.KindTimeout:
		return j.timeoutState
	case probe.KindLocal:
		return checkers.UNKNOWN
	}
	return checkers.CRITICAL
}

func thresholdFindings(j *judgement, res *probe.Result) []report.Finding {
	var fs []report.Finding
	switch {
	case j.critical.exceededBy(res.Total):
		fs = append(fs, report.Finding{Status: checkers.CRITICAL, Text: fmt.Sprintf("response time %.3fs over critical threshold %ss", res.Total.Seconds(), fmtSeconds(j.critical.secs))})
	case j.warning.exceededBy(res.Total):
		fs = append(fs, report.Finding{Status: checkers.WARNING, Text: fmt.Sprintf("response time %.3fs over warning threshold %ss", res.Total.Seconds(), fmtSeconds(j.warning.secs))})
	}
	for _, t := range res.Steps {
		st, d := t.Step, t.Duration
		switch {
		case j.stepCritical[st].exceededBy(d):
			fs = append(fs, report.Finding{Status: checkers.CRITICAL, Text: fmt.Sprintf("step %s took %.3fs, over critical threshold %ss", st, d.Seconds(), fmtSeconds(j.stepCritical[st].secs))})
		case j.stepWarning[st].exceededBy(d):
			fs = append(fs, report.Finding{Status: checkers.WARNING, Text: fmt.Sprintf("step %s took %.3fs, over warning threshold %ss", st, d.Seconds(), fmtSeconds(j.stepWarning[st].secs))})
		}
	}
	return fs
}

// certFinding judges the leaf's expiry against -D and
// --ignore-certificate-expiration; ok means nothing to report.
func certFinding(j *judgement, leaf *x509.Certificate, now time.Time) (report.Finding, bool) {
	days := tlsverify.DaysLeft(leaf, now)
	notAfter := leaf.NotAfter.UTC().Format(time.RFC3339)
	if now.After(leaf.NotAfter) {
		if j.ignoreExpiry {
			return report.Finding{}, false
		}
		ago := int(math.Floor(now.Sub(leaf.NotAfter).Hours() / 24))
		return report.Finding{Status: checkers.CRITICAL, Text: fmt.Sprintf("certificate expired %d days ago (NotAfter %s)", ago, notAfter)}, true
	}
	if !j.certDays {
		return report.Finding{}, false
	}
	switch {
	case days < j.certCritDays:
		return report.Finding{Status: checkers.CRITICAL, Text: fmt.Sprintf("certificate expires in %d days (NotAfter %s), fewer than %d", days, notAfter, j.certCritDays)}, true
	case days < j.certWarnDays:
		return report.Finding{Status: checkers.WARNING, Text: fmt.Sprintf("certificate expires in %d days (NotAfter %s), fewer than %d", days, notAfter, j.certWarnDays)}, true
	}
	return report.Finding{}, false
}

// summary is the OK-style description: time, greeting, TLS facts.
func summary(res *probe.Result) string {
	parts := []string{fmt.Sprintf("%.3fs response time", res.Total.Seconds())}
	if res.Banner != nil && res.Banner.Class() == 2 && res.Banner.Text() != "" {
		parts = append(parts, text.QuoteShort(res.Banner.Text(), nil))
	}
	if t := res.TLS; t != nil {
		parts = append(parts, t.Version, t.Cipher)
		if leaf := t.Leaf(); leaf != nil {
			if d := tlsverify.DaysLeft(leaf, res.Started); d >= 0 {
				parts = append(parts, fmt.Sprintf("certificate valid %d days", d))
			}
		}
	}
	return strings.Join(parts, ", ")
}

// perfdata follows the Nagios plugin guidelines: time first, then each step
// that ran in the order it first ran, then the certificate's days left.
func perfdata(cfg *config, res *probe.Result) []report.Perf {
	j := &cfg.judge
	items := []report.Perf{{Label: "time", Value: fmt.Sprintf("%.6fs", res.Total.Seconds()), Warn: j.warning.String(), Crit: j.critical.String(), Min: "0"}}
	for _, t := range res.Steps {
		items = append(items, report.Perf{Label: string(t.Step), Value: fmt.Sprintf("%.6fs", t.Duration.Seconds()),
			Warn: j.stepWarning[t.Step].String(), Crit: j.stepCritical[t.Step].String(), Min: "0"})
	}
	if leaf := res.TLS.Leaf(); leaf != nil {
		p := report.Perf{Label: "cert_days", Value: fmt.Sprint(tlsverify.DaysLeft(leaf, res.Started))}
		if j.certDays {
			p.Warn, p.Crit = fmt.Sprintf("%d:", j.certWarnDays), fmt.Sprintf("%d:", j.certCritDays)
		}
		items = append(items, p)
	}
	return items
}
