package checksmtp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/check-smtp/check-smtp/lib/internal/dnsx"
	"github.com/check-smtp/check-smtp/lib/internal/domain"
	"github.com/check-smtp/check-smtp/lib/internal/probe"
	"github.com/check-smtp/check-smtp/lib/internal/report"
)

// runDomain is domain mode: gather, then evaluate.
func runDomain(ctx context.Context, cfg *config, env environ) *report.Report {
	d := cfg.domain
	res := domain.Run(ctx, domain.Config{
		Domain: d.name, Port: cfg.target.Port, Network: cfg.target.Network, Settings: cfg.conv,
		Parallel: d.parallel, MTASTS: d.mtaSTS, DANE: d.dane, MTASTSPort: d.mtaSTSPort,
		Roots: cfg.conv.TLS.Roots,
	}, domain.Deps{Resolver: cfg.dns, Dialer: env.dialer, Now: env.now})
	return evaluateDomain(cfg, res)
}

// dnsDialer resolves with our resolver (--dns-server in single-server mode)
// and connects to each address in turn.
type dnsDialer struct {
	dns  *dnsx.Client
	base probe.Dialer
}

func (d dnsDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil || network == "unix" || net.ParseIP(host) != nil {
		return d.base.DialContext(ctx, network, address)
	}
	ips, err := d.dns.LookupIP(ctx, host, network)
	if err != nil {
		var de *dnsx.Error
		if errors.As(err, &de) && de.Timeout {
			return nil, context.DeadlineExceeded
		}
		return nil, &net.DNSError{Err: err.Error(), Name: host}
	}
	if len(ips) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var errs []error
	for _, ip := range ips {
		c, err := d.base.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errs[0]
}

// targetLabel names a target in perfdata: MX and address with characters
// outside [A-Za-z0-9._-] replaced by "_".
func targetLabel(mx, addr string) string {
	b := []byte(mx + "_" + addr)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	return string(b)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return strconv.Itoa(n) + " " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
