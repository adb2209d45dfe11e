package checksmtp

import (
	"crypto/x509"
	"errors"
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

// findingSep separates the findings and the summary on the status line.
// Not "; ": Nagios rewrites ';' in plugin output to ':', which runs a
// finding into the server reply quoted before it.
const findingSep = " -- "

// noSemicolons replaces ';' (see findingSep) in text that reaches the
// status line: a server's reply, an option value echoed.
func noSemicolons(s string) string { return strings.ReplaceAll(s, ";", ",") }

// evaluate is the one place where what the probe saw becomes states: it
// returns the report whose message leads with the worst finding and ends
// with the summary of the conversation.
func evaluate(cfg *config, res *probe.Result, extra ...report.Finding) *report.Report {
	j := &cfg.judge
	quote := func(s string) string { return noSemicolons(text.Quote(s, res.Secrets)) }
	var fs []report.Finding
	fatal := res.Failure
	if fatal == nil && !j.ignoreQuit && res.QuitError != nil && res.QuitError.Kind == probe.KindTimeout {
		// A QUIT that times out ends the run like any other timeout.
		fatal = res.QuitError
	}
	if fatal != nil {
		fs = append(fs, report.Finding{Status: failureState(j, fatal), Text: fatal.Message.Render(quote)})
	}
	fs = append(fs, certFindings(j, res)...)
	fs = append(fs, extra...)
	fs = append(fs, daneFindings(cfg, res)...)
	switch {
	case j.expect == "" || res.Banner == nil || strings.Contains(res.Banner.String(), j.expect):
	case res.Greeting != nil && !strings.Contains(res.Greeting.String(), j.expect):
		fs = append(fs, report.Finding{Status: checkers.WARNING,
			Text: fmt.Sprintf("neither the banner nor the EHLO reply contains %q: %s", j.expect, quote(res.Banner.OneLine()))})
	case res.Greeting == nil && fatal == nil && res.Banner.Class() == 2:
		// --quit-after banner: the banner is all there is to search.
		fs = append(fs, report.Finding{Status: checkers.WARNING,
			Text: fmt.Sprintf("the banner does not contain %q: %s", j.expect, quote(res.Banner.OneLine()))})
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
		case res.QuitError != nil && errors.Is(res.QuitError, probe.ErrOutOfStep): // the message says so
			fs = append(fs, report.Finding{Status: checkers.WARNING, Text: res.QuitError.Message.Render(quote)})
		case res.QuitError != nil:
			fs = append(fs, report.Finding{Status: checkers.WARNING, Text: "QUIT failed: " + res.QuitError.Message.Render(quote)})
		case res.Quit != nil && res.Quit.Class() != 2:
			fs = append(fs, report.Finding{Status: checkers.WARNING, Text: "QUIT refused: " + quote(res.Quit.OneLine())})
		case res.Quit != nil && res.Quit.Code != 221:
			fs = append(fs, report.Finding{Status: checkers.WARNING, Text: "QUIT answered " + quote(res.Quit.OneLine()) + ", expected 221"})
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
	if cfg.singleDANE != nil {
		tg.DANE = singleDANEState(cfg.singleDANE, res)
	}
	if res.Peer != nil {
		tg.Address = res.Peer.String()
	}
	for _, c := range judgedChain(res.TLS) {
		if tg.ChainNotAfter.IsZero() || c.NotAfter.Before(tg.ChainNotAfter) {
			tg.ChainNotAfter = c.NotAfter
		}
	}
	// Redacted before ';' goes, so that a password holding one is still
	// found whole by the renderer.
	msg := noSemicolons(text.Redact(strings.Join(parts, findingSep), res.Secrets))
	return &report.Report{
		Status: status, Message: msg, Findings: fs,
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

// judgedChain is the chain the evaluation judges: the verified one, anchor
// included; without one (-k, or verification failed) the chain as
// presented.
func judgedChain(t *probe.TLSState) []*x509.Certificate {
	if t == nil {
		return nil
	}
	if len(t.VerifiedChain) > 0 {
		return t.VerifiedChain
	}
	return t.Chain
}

// certFindings judges the leaf's expiry (--ignore-certificate-expiration
// forgives it) and, with -D, the days left of every certificate of the
// chain: the one that expires first is named.
func certFindings(j *judgement, res *probe.Result) []report.Finding {
	leaf := res.TLS.Leaf()
	if leaf == nil {
		return nil
	}
	now := res.Started
	var fs []report.Finding
	leafExpired := now.After(leaf.NotAfter)
	if leafExpired && !j.ignoreExpiry && !daneEEMatched(res) {
		ago := int(math.Floor(now.Sub(leaf.NotAfter).Hours() / 24))
		fs = append(fs, report.Finding{Status: checkers.CRITICAL,
			Text: fmt.Sprintf("certificate expired %d days ago (NotAfter %s)", ago, leaf.NotAfter.UTC().Format(time.RFC3339))})
	}
	if !j.certDays {
		return fs
	}
	chain := judgedChain(res.TLS)
	first, firstDays := -1, 0
	for i, c := range chain {
		if i == 0 && leafExpired {
			continue // reported above, or forgiven
		}
		if d := tlsverify.DaysLeft(c, now); first < 0 || d < firstDays {
			first, firstDays = i, d
		}
	}
	if first < 0 {
		return fs
	}
	st := checkers.OK
	limit := 0
	switch {
	case firstDays < j.certCritDays:
		st, limit = checkers.CRITICAL, j.certCritDays
	case firstDays < j.certWarnDays:
		st, limit = checkers.WARNING, j.certWarnDays
	default:
		return fs
	}
	c := chain[first]
	name := "certificate"
	if first > 0 {
		name = fmt.Sprintf("%s %q", tlsverify.Role(c, first), c.Subject.String())
	}
	when := fmt.Sprintf("expires in %d days", firstDays)
	if firstDays < 0 {
		when = fmt.Sprintf("expired %d days ago", int(math.Floor(now.Sub(c.NotAfter).Hours()/24)))
	}
	return append(fs, report.Finding{Status: st,
		Text: fmt.Sprintf("%s %s (NotAfter %s), fewer than %d", name, when, c.NotAfter.UTC().Format(time.RFC3339), limit)})
}

// summary is the OK-style description: time, greeting, TLS facts. The
// certificate's days are "expires in", never "valid": it may have failed
// verification.
func summary(res *probe.Result) string {
	parts := []string{fmt.Sprintf("%.3fs response time", res.Total.Seconds())}
	if res.Banner != nil && res.Banner.Class() == 2 && res.Banner.Text() != "" {
		parts = append(parts, text.QuoteShort(res.Banner.Text(), nil))
	}
	if t := res.TLS; t != nil {
		parts = append(parts, t.Version, t.Cipher)
		if leaf := t.Leaf(); leaf != nil {
			if d := tlsverify.DaysLeft(leaf, res.Started); d >= 0 {
				parts = append(parts, fmt.Sprintf("certificate expires in %d days", d))
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
		chainDays, _ := tlsverify.MinDaysLeft(judgedChain(res.TLS), res.Started)
		items = append(items, report.Perf{Label: "chain_days", Value: fmt.Sprint(chainDays), Warn: p.Warn, Crit: p.Crit})
	}
	return items
}
