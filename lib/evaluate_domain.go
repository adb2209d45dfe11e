package checksmtp

import (
	"fmt"
	"sort"
	"strings"

	"github.com/mackerelio/checkers"

	"github.com/check-smtp/check-smtp/lib/internal/dane"
	"github.com/check-smtp/check-smtp/lib/internal/dnsx"
	"github.com/check-smtp/check-smtp/lib/internal/domain"
	"github.com/check-smtp/check-smtp/lib/internal/mtasts"
	"github.com/check-smtp/check-smtp/lib/internal/probe"
	"github.com/check-smtp/check-smtp/lib/internal/report"
	"github.com/check-smtp/check-smtp/lib/internal/text"
	"github.com/check-smtp/check-smtp/lib/internal/tlsrpt"
	"github.com/check-smtp/check-smtp/lib/internal/tlsverify"
)

// evaluateDomain turns what domain mode gathered into states: each target's
// own, then the domain's (SPEC Part 2, "State of one target" and "Domain
// state").
func evaluateDomain(cfg *config, res *domain.Result) *report.Report {
	d := cfg.domain
	rep := &report.Report{NoPerfdata: cfg.out.noPerfdata, Verbose: cfg.out.verbose, Duration: res.Total,
		Domain: &report.Domain{Name: res.Domain}}
	var fs []report.Finding
	add := func(st checkers.Status, format string, a ...any) {
		fs = append(fs, report.Finding{Status: st, Text: fmt.Sprintf(format, a...)})
	}
	for _, mx := range res.MX {
		rep.Domain.MX = append(rep.Domain.MX, report.MX{Preference: int(mx.Pref), Host: mx.Host})
	}

	// The published policies, judged once for the domain.
	policy := mtastsFindings(d, res, rep, add)
	tlsrptFindings(d, res, rep, add)

	switch {
	case res.MXError != nil:
		add(checkers.CRITICAL, "MX lookup failed, senders defer: %v", res.MXError)
	case res.MXAnswer.NXDomain:
		add(checkers.CRITICAL, "domain does not exist (NXDOMAIN)")
	case res.NullMX:
		add(checkers.CRITICAL, "accepts no mail: null MX (RFC 7505)")
	case res.Implicit:
		add(checkers.OK, "no MX records: the domain's own address is the implicit MX")
	}
	if res.MXAnswer.Capped {
		add(checkers.WARNING, "more than %d MX records published: only the first %d checked", dnsx.MaxMX, dnsx.MaxMX)
	}
	for _, h := range res.Hosts {
		if h.IPLiteral {
			add(checkers.WARNING, "MX %s names an IP address, not a host name (RFC 5321 5.1): probed as that address", h.Name)
		}
		if h.CNAME != "" {
			add(checkers.WARNING, "MX %s is an alias (CNAME) of %s: MX records must name a host (RFC 2181 10.3)", h.Name, h.CNAME)
		}
	}

	// Every target, in order; a host without addresses is a failed target.
	byHost := map[int]bool{}
	for i := range res.Targets {
		byHost[res.Targets[i].Host] = true
	}
	var targets []report.Target
	ti := 0
	for hi, h := range res.Hosts {
		if !byHost[hi] {
			t := report.Target{Host: h.Name, MX: h.Name, Preference: h.Preference, Port: cfg.target.Port, Status: checkers.CRITICAL}
			why := "has no address"
			if h.AddrError != nil {
				why = "address lookup failed: " + h.AddrError.Error()
			}
			t.Findings = []report.Finding{{Status: checkers.CRITICAL, Text: "MX " + h.Name + " " + why}}
			targets = append(targets, t)
			continue
		}
		for ; ti < len(res.Targets) && res.Targets[ti].Host == hi; ti++ {
			targets = append(targets, evaluateTarget(cfg, res, &res.Targets[ti], policy))
		}
	}
	rep.Targets = targets

	// How the targets count for the domain.
	failed := 0
	var failedNames []string
	worst := checkers.OK
	for _, t := range targets {
		worst = report.Worst(worst, t.Status)
		if t.Status == checkers.CRITICAL {
			failed++
			failedNames = append(failedNames, targetName(t))
		}
	}
	var targetFs []report.Finding
	for _, t := range targets {
		for _, f := range t.Findings {
			if f.Status != checkers.OK {
				targetFs = append(targetFs, report.Finding{Status: f.Status, Text: targetName(t) + ": " + f.Text})
			}
		}
	}
	switch {
	case len(targets) == 0:
	case d.strict:
		fs = append(fs, targetFs...)
	case failed == len(targets):
		fs = append(fs, report.Finding{Status: checkers.CRITICAL, Text: "no MX accepts mail"})
		fs = append(fs, targetFs...)
	default:
		if failed > 0 {
			fs = append(fs, report.Finding{Status: checkers.WARNING, Text: fmt.Sprintf("mail is still delivered, but %s of %d failed (counted as WARNING): %s",
				plural(failed, "MX address", "MX addresses"), len(targets), firstNames(failedNames, 3))})
		}
		for _, f := range targetFs {
			if f.Status == checkers.CRITICAL {
				f.Status = checkers.WARNING
			}
			fs = append(fs, f)
		}
	}
	if len(targets) == 0 && res.MXError == nil && !res.MXAnswer.NXDomain && !res.NullMX {
		fs = append(fs, report.Finding{Status: checkers.CRITICAL, Text: "no MX address to deliver to"})
	}

	sort.SliceStable(fs, func(a, b int) bool { return report.Severity(fs[a].Status) > report.Severity(fs[b].Status) })
	status := checkers.OK
	var parts []string
	for _, f := range fs {
		status = report.Worst(status, f.Status)
		if f.Status != checkers.OK {
			parts = append(parts, f.Text)
		}
	}
	parts = append(parts, domainSummary(res, rep, targets, failed))
	if to, ok := cfg.judge.statusMap[status]; ok {
		status = to
	}
	rep.Status = status
	rep.Findings = fs
	for _, t := range targets {
		if t.Result != nil {
			rep.Secrets = append(rep.Secrets, t.Result.Secrets...)
		}
	}
	rep.Message = noSemicolons(text.Redact(d.display+": "+strings.Join(parts, findingSep), rep.Secrets))
	for _, t := range targets {
		rep.LongOutput = append(rep.LongOutput, noSemicolons(targetLine(t)))
	}
	for _, f := range fs {
		rep.LongOutput = append(rep.LongOutput, noSemicolons(f.Status.String()+": "+f.Text))
	}
	rep.Perfdata = domainPerfdata(cfg, res, targets, failed)
	return rep
}

// policyView is what the target judgement needs of the MTA-STS policy.
type policyView struct {
	policy *mtasts.Policy // nil: no usable policy
}

func (p policyView) mode() string {
	if p.policy == nil {
		return ""
	}
	return p.policy.Mode
}

func mtastsFindings(d *domainOptions, res *domain.Result, rep *report.Report, add func(checkers.Status, string, ...any)) policyView {
	m := res.MTASTS
	if m == nil {
		return policyView{}
	}
	missing := checkers.OK
	if d.mtaSTSRequired {
		missing = checkers.CRITICAL
	}
	info := &report.MTASTS{ID: m.Record.ID}
	rep.Domain.MTASTS = info
	switch {
	case m.RecordError != nil && m.RecordStatus != mtasts.Invalid:
		info.Error = m.RecordError.Error()
		add(report.Worst(checkers.WARNING, missing), "MTA-STS TXT lookup failed: %v", m.RecordError)
		return policyView{}
	case m.RecordStatus == mtasts.NoRecord:
		info.Error = "no MTA-STS record"
		add(missing, "no MTA-STS")
		return policyView{}
	case m.RecordStatus == mtasts.Invalid:
		info.Error = m.RecordError.Error()
		add(report.Worst(checkers.WARNING, missing), "MTA-STS record unusable, treated as none: %v", m.RecordError)
		return policyView{}
	}
	if m.FetchError != nil {
		info.Error = m.FetchError.Error()
		add(report.Worst(checkers.WARNING, missing), "MTA-STS record published but the policy is unusable (senders without a cached policy deliver as if there were none): %v", m.FetchError)
		return policyView{}
	}
	p := m.Policy
	info.Mode, info.MaxAge, info.MX = p.Mode, p.MaxAge, p.MX
	if m.Fetch.ContentTypeWarning != "" {
		add(checkers.WARNING, "MTA-STS policy: %s", m.Fetch.ContentTypeWarning)
	}
	if p.MaxAge < 86400 {
		add(checkers.WARNING, "MTA-STS max_age %d is under a day (RFC 8461 suggests weeks)", p.MaxAge)
	}
	if p.Mode == "none" {
		add(checkers.OK, "MTA-STS mode none")
	}
	return policyView{policy: p}
}

func tlsrptFindings(d *domainOptions, res *domain.Result, rep *report.Report, add func(checkers.Status, string, ...any)) {
	t := res.TLSRPT
	info := &report.TLSRPT{RUA: t.Record.RUA}
	rep.Domain.TLSRPT = info
	switch t.Status {
	case tlsrpt.Found:
		add(checkers.OK, "TLSRPT reports to %s", strings.Join(t.Record.RUA, " "))
	case tlsrpt.NoRecord:
		info.Error = "no TLSRPT record"
		st := checkers.OK
		if d.tlsrptRequired {
			st = checkers.WARNING
		}
		add(st, "no TLSRPT record")
	default:
		msg := "unusable"
		if t.Error != nil {
			msg = t.Error.Error()
		}
		info.Error = msg
		add(checkers.WARNING, "TLSRPT record: %s", msg)
	}
}

// evaluateTarget judges one address: its conversation as in single-server
// mode, then what a sender honouring the domain's policies would do.
func evaluateTarget(cfg *config, res *domain.Result, t *domain.Target, pol policyView) report.Target {
	d := cfg.domain
	h := res.Hosts[t.Host]
	pr := t.Probe
	base := evaluate(cfg, pr)
	out := report.Target{Host: h.Name, MX: h.Name, Preference: h.Preference, Address: t.Address.String(),
		Port: cfg.target.Port, Result: pr, ChainNotAfter: base.Targets[0].ChainNotAfter}
	var fs []report.Finding
	for _, f := range base.Findings {
		// A lapsed certificate is a PKIX defect, judged below with the others.
		if strings.HasPrefix(f.Text, "certificate expired ") {
			continue
		}
		fs = append(fs, f)
	}
	add := func(st checkers.Status, format string, a ...any) {
		fs = append(fs, report.Finding{Status: st, Text: fmt.Sprintf(format, a...)})
	}
	mode := pol.mode()
	policySt := map[string]checkers.Status{"enforce": checkers.CRITICAL, "testing": checkers.WARNING}[mode]

	// MTA-STS: is this MX covered by the policy?
	if pol.policy != nil && mode != "none" {
		covered := pol.policy.Matches(h.Name)
		out.MTASTSCovered = &covered
		if !covered {
			add(policySt, "MX %s is not covered by the MTA-STS policy (mode %s, mx %s): an MTA-STS sender will not deliver here", h.Name, mode, strings.Join(pol.policy.MX, " "))
		}
	}

	// DANE: does it apply, and does the certificate match?
	dv, daneApplies := daneJudgement(d, h, t, &out, add)

	// Opportunistic STARTTLS went on in plaintext (with -S the probe
	// already failed the conversation).
	if pr.Greeting != nil && !pr.STARTTLSOffered && pr.TLS == nil {
		switch {
		case daneApplies:
			add(checkers.CRITICAL, "STARTTLS not offered where DANE applies: DANE senders will not deliver")
		case policySt != checkers.OK:
			add(policySt, "STARTTLS not offered, MTA-STS mode %s: an MTA-STS sender will not deliver here", mode)
		default:
			add(checkers.WARNING, "STARTTLS not offered: mail goes in cleartext")
		}
	}
	if daneApplies && pr.Failure != nil && (pr.Failure.Kind == probe.KindTLS || pr.Failure.Step == probe.StepTLS) {
		add(checkers.CRITICAL, "TLS handshake failed where DANE applies: DANE senders defer")
	}

	// PKIX: a defect matters where a policy requires it, and is a WARNING
	// elsewhere (opportunistic senders deliver anyway) that -k silences.
	if pr.TLS != nil && len(pr.TLS.Chain) > 0 {
		defect := ""
		if pr.TLS.VerifyError != nil {
			defect = pr.TLS.VerifyError.Error()
		} else if leaf := pr.TLS.Leaf(); res.Started.After(leaf.NotAfter) {
			defect = fmt.Sprintf("certificate expired %d days ago", -tlsverify.DaysLeft(leaf, res.Started))
		}
		daneOK := dv != nil && dv.Result == dane.Match
		switch {
		case defect == "" || daneOK:
		case policySt != checkers.OK:
			add(policySt, "%s: MTA-STS mode %s requires a valid certificate for %s", defect, mode, h.Name)
		case !d.insecure:
			add(checkers.WARNING, "%s (opportunistic senders deliver anyway)", defect)
		}
	}

	sort.SliceStable(fs, func(a, b int) bool { return report.Severity(fs[a].Status) > report.Severity(fs[b].Status) })
	out.Status = checkers.OK
	for _, f := range fs {
		out.Status = report.Worst(out.Status, f.Status)
	}
	out.Findings = fs
	return out
}

// daneJudgement applies SPEC Part 3 to one target.
func daneJudgement(d *domainOptions, h domain.Host, t *domain.Target, out *report.Target, add func(checkers.Status, string, ...any)) (*dane.Verdict, bool) {
	if h.TLSA == nil {
		return nil, false
	}
	notApplicable := func(state, why string) {
		out.DANE = &report.DANE{State: state}
		if d.daneRequired {
			add(checkers.CRITICAL, "DANE required but %s", why)
		} else {
			add(checkers.OK, "DANE not applicable: %s", why)
		}
	}
	ta := h.TLSA
	switch {
	case !h.Secure && ta.Err == nil && len(ta.Records) > 0:
		notApplicable("insecure", "TLSA published, but DANE senders will not use it: the MX records or addresses are not signed")
		return nil, false
	case !h.Secure:
		// The common case of a domain without DNSSEC: only worth a word
		// when DANE was asked for.
		out.DANE = &report.DANE{State: "insecure"}
		if d.daneRequired {
			add(checkers.CRITICAL, "DANE required but the MX records or addresses of %s are not DNSSEC-signed", h.Name)
		}
		return nil, false
	case ta.Err != nil:
		out.DANE = &report.DANE{Applies: true, State: "error"}
		add(checkers.CRITICAL, "TLSA lookup of %s failed, DANE senders defer: %v", ta.Name, ta.Err)
		return nil, true
	case !ta.Answer.Authentic:
		notApplicable("insecure", "the TLSA records of "+ta.Name+" are not DNSSEC-signed")
		return nil, false
	case len(ta.Records) == 0:
		notApplicable("none", "no TLSA records at "+ta.Name)
		return nil, false
	}
	out.DANE = &report.DANE{Applies: true}
	v := t.DANE
	if v == nil {
		out.DANE.State = "error"
		if t.Probe.TLS == nil && t.Probe.Failure == nil {
			// Reported by the STARTTLS judgement.
			return nil, true
		}
		add(checkers.CRITICAL, "DANE applies but no certificate was presented: DANE senders defer")
		return nil, true
	}
	out.DANE.Usable = v.Usable
	switch v.Result {
	case dane.Match:
		out.DANE.State = "match"
		out.DANE.Matched = v.Matched.Short()
		add(checkers.OK, "DANE %s matched", v.Matched.Label())
	case dane.Mismatch:
		out.DANE.State = "mismatch"
		add(checkers.CRITICAL, "%s", v.Describe(t.Probe.Target.Port, h.Name))
	case dane.Unusable:
		out.DANE.State = "unusable"
		st := checkers.WARNING
		if d.daneRequired {
			st = checkers.CRITICAL
		}
		add(st, "only unusable TLSA records (senders fall back to unauthenticated TLS): %s", strings.Join(v.Ignored, ", "))
	default:
		out.DANE.State = "none"
	}
	if d.daneRollover && v.Usable < 2 {
		add(checkers.WARNING, "only %s at %s: publish the next key's record before the switch", plural(v.Usable, "usable TLSA record", "usable TLSA records"), ta.Name)
	}
	return v, true
}

func targetName(t report.Target) string {
	if t.Address == "" {
		return t.MX
	}
	return t.MX + " [" + t.Address + "]"
}

// targetLine is a target's long-output line.
func targetLine(t report.Target) string {
	parts := []string{targetName(t), t.Status.String()}
	if r := t.Result; r != nil {
		parts = append(parts, fmt.Sprintf("%.3fs", r.Total.Seconds()))
		if r.TLS != nil {
			parts = append(parts, r.TLS.Version)
			if leaf := r.TLS.Leaf(); leaf != nil {
				parts = append(parts, fmt.Sprintf("certificate expires in %d days", tlsverify.DaysLeft(leaf, r.Started)))
			}
		} else {
			parts = append(parts, "no TLS")
		}
	}
	if t.DANE != nil && t.DANE.Applies {
		s := "DANE " + t.DANE.State
		if t.DANE.Matched != "" {
			s += " " + t.DANE.Matched
		}
		parts = append(parts, s)
	}
	// Findings are already worst first: failures, then notes.
	for _, f := range t.Findings {
		parts = append(parts, f.Text)
	}
	return strings.Join(parts, ", ")
}

func domainSummary(res *domain.Result, rep *report.Report, targets []report.Target, failed int) string {
	ok := 0
	for _, t := range targets {
		if t.Status == checkers.OK {
			ok++
		}
	}
	parts := []string{fmt.Sprintf("%d of %d MX addresses OK", ok, len(targets))}
	if m := rep.Domain.MTASTS; m != nil {
		switch {
		case m.Mode != "":
			parts = append(parts, "MTA-STS "+m.Mode)
		case m.ID != "":
			parts = append(parts, "MTA-STS unusable")
		default:
			parts = append(parts, "no MTA-STS")
		}
	}
	dn := 0
	for _, t := range targets {
		if t.DANE != nil && t.DANE.State == "match" {
			dn++
		}
	}
	if dn > 0 {
		parts = append(parts, fmt.Sprintf("DANE %d of %d", dn, len(targets)))
	}
	if rep.Domain.TLSRPT != nil && len(rep.Domain.TLSRPT.RUA) > 0 {
		parts = append(parts, "TLSRPT")
	}
	parts = append(parts, fmt.Sprintf("%.3fs", res.Total.Seconds()))
	return strings.Join(parts, ", ")
}

func domainPerfdata(cfg *config, res *domain.Result, targets []report.Target, failed int) []report.Perf {
	j := &cfg.judge
	items := []report.Perf{
		{Label: "time", Value: fmt.Sprintf("%.6fs", res.Total.Seconds()), Warn: j.warning.String(), Crit: j.critical.String(), Min: "0"},
		{Label: "mx_addresses", Value: fmt.Sprint(len(targets)), Min: "0"},
		{Label: "mx_failed", Value: fmt.Sprint(failed), Min: "0"},
	}
	seen := map[string]bool{}
	for _, t := range targets {
		if t.Result == nil {
			continue
		}
		l := targetLabel(t.MX, t.Address)
		for seen[l] { // unique even if two names fold to one label
			l += "_"
		}
		seen[l] = true
		items = append(items, report.Perf{Label: l + "_time", Value: fmt.Sprintf("%.6fs", t.Result.Total.Seconds()), Min: "0"})
		if leaf := t.Result.TLS.Leaf(); leaf != nil {
			p := report.Perf{Label: l + "_cert_days", Value: fmt.Sprint(tlsverify.DaysLeft(leaf, t.Result.Started))}
			if j.certDays {
				p.Warn, p.Crit = fmt.Sprintf("%d:", j.certWarnDays), fmt.Sprintf("%d:", j.certCritDays)
			}
			items = append(items, p)
		}
	}
	return items
}

// firstNames lists a few names: the status line must keep its worst
// finding within mackerel-agent's 1024 characters.
func firstNames(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}
