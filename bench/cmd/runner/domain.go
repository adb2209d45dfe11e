package main

import (
	"fmt"
	"strconv"
)

// domainRow is domain mode over N targets against the slowest single probe.
type domainRow struct {
	n             int
	sc            scenario
	single, whole summary
}

// domainSizes are the numbers of targets measured, all within the default
// --parallel (8).
var domainSizes = [...]int{1, 2, 4, 8}

// domain measures check-smtp -M dN.bench.test, whose N MX hosts each have
// one address of 127.0.2.0/24 and answer their banner after the same fixed
// delay, against one check-smtp -H of the last of those targets (all are
// equally slow, so it is the slowest single probe) holding the
// conversation domain mode holds with each: STARTTLS, the certificate
// verified for the MX name.
func (r *runner) domain(env *environment) ([]domainRow, error) {
	d := env.domain
	var rows []domainRow
	for _, n := range domainSizes {
		last := fmt.Sprintf("mx%d.bench.test", n)
		sc := scenario{name: fmt.Sprintf("domain mode, %d target(s)", n), tools: []tool{
			{name: "single probe of " + last, argv: []string{r.cfg.checkSMTP, "-H", env.mxAddrs[n-1], "-p", strconv.Itoa(d.mx),
				"-S", "--sni=" + last, "--cafile", d.root}},
			{name: "domain mode", argv: []string{r.cfg.checkSMTP, "-M", fmt.Sprintf("d%d.bench.test", n),
				"--dns-server", "127.0.0.1:" + strconv.Itoa(env.dnsPort), "-p", strconv.Itoa(d.mx), "--cafile", d.root}},
		}}
		sums, err := r.measure(sc, r.cfg.domainRuns)
		if err != nil {
			return nil, err
		}
		rows = append(rows, domainRow{n: n, sc: sc, single: sums[sc.tools[0].name], whole: sums["domain mode"]})
	}
	r.report.domain(r, env, rows)
	return rows, nil
}
