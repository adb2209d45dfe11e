package checksmtp

import (
	"context"
	"fmt"
	"strconv"

	"github.com/mackerelio/checkers"

	"github.com/check-smtp/check-smtp/lib/internal/dane"
	"github.com/check-smtp/check-smtp/lib/internal/probe"
	"github.com/check-smtp/check-smtp/lib/internal/report"
)

// prepareDANE looks up the TLSA records of the -H host (--dane in
// single-server mode) before the conversation. With a secure, non-empty
// RRset the probe authenticates the server by it; otherwise the returned
// finding says why DANE, which was required, cannot apply.
func prepareDANE(ctx context.Context, cfg *config) *report.Finding {
	name := "_" + strconv.Itoa(cfg.target.Port) + "._tcp." + cfg.target.Host
	recs, ans, err := cfg.dns.TLSA(ctx, name)
	sd := cfg.singleDANE
	crit := func(state, format string, a ...any) *report.Finding {
		sd.state = state
		return &report.Finding{Status: checkers.CRITICAL, Text: fmt.Sprintf(format, a...)}
	}
	switch {
	case err != nil:
		return crit("error", "TLSA lookup of %s failed, DANE senders defer: %v", name, err)
	case !ans.Authentic:
		return crit("insecure", "DANE required but the TLSA answer for %s is not DNSSEC-signed (an insecure zone, or a resolver that does not validate)", name)
	case len(recs) == 0:
		return crit("none", "DANE required but no TLSA records at %s", name)
	}
	p := &probe.DANEPolicy{Host: cfg.target.Host, Port: cfg.target.Port}
	for _, r := range recs {
		p.Records = append(p.Records, dane.Record{Usage: r.Usage, Selector: r.Selector, MatchingType: r.MatchingType, Data: r.Data})
	}
	cfg.conv.TLS.DANE = p
	return nil
}

// daneFindings judges the probe's DANE verdict (single-server --dane).
func daneFindings(cfg *config, res *probe.Result) []report.Finding {
	if cfg.singleDANE == nil || res.TLS == nil || res.TLS.DANE == nil {
		return nil
	}
	v := res.TLS.DANE
	p := cfg.conv.TLS.DANE
	var fs []report.Finding
	switch v.Result {
	case dane.Match:
		fs = append(fs, report.Finding{Status: checkers.OK, Text: v.Describe(p.Port, p.Host)})
	case dane.Unusable:
		// Required, and nothing usable: a DANE sender authenticates nothing.
		fs = append(fs, report.Finding{Status: checkers.CRITICAL, Text: "DANE required but " + v.Describe(p.Port, p.Host)})
	}
	if cfg.singleDANE.rollover && v.Usable < 2 {
		fs = append(fs, report.Finding{Status: checkers.WARNING, Text: fmt.Sprintf("only %s at _%d._tcp.%s: publish the next key's record before the switch",
			plural(v.Usable, "usable TLSA record", "usable TLSA records"), p.Port, p.Host)})
	}
	return fs
}

// daneEEMatched says whether a DANE-EE record authenticated the server: its
// dates are then not judged (RFC 7672 3.1.1), though -D still reports them.
func daneEEMatched(res *probe.Result) bool {
	return res.TLS != nil && res.TLS.DANE != nil && res.TLS.DANE.Result == dane.Match &&
		res.TLS.DANE.Matched != nil && res.TLS.DANE.Matched.Usage == dane.UsageDANEEE
}

// singleDANEState is the DANE verdict as the metric formats show it.
func singleDANEState(sd *singleDANE, res *probe.Result) *report.DANE {
	if sd.state != "" {
		return &report.DANE{Applies: sd.state == "error", State: sd.state}
	}
	d := &report.DANE{Applies: true, State: "error"}
	if res.TLS == nil || res.TLS.DANE == nil {
		return d
	}
	v := res.TLS.DANE
	d.Usable = v.Usable
	switch v.Result {
	case dane.Match:
		d.State, d.Matched = "match", v.Matched.Short()
	case dane.Mismatch:
		d.State = "mismatch"
	case dane.Unusable:
		d.State = "unusable"
	}
	return d
}
