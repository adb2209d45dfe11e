package checksmtp

import (
	"net"

	"github.com/check-smtp/check-smtp/lib/internal/dnsx"
	"github.com/check-smtp/check-smtp/lib/internal/probe"
)

// domainOptions is what domain mode (-M) adds to the configuration.
type domainOptions struct {
	name           string // A-labels
	display        string // as given (U-labels kept for the message)
	strict         bool
	parallel       int
	mtaSTS         bool
	mtaSTSRequired bool
	tlsrptRequired bool
	dane           bool // look up TLSA
	daneRequired   bool
	daneRollover   bool
	requireTLS     bool // -S: STARTTLS must be offered
	insecure       bool // -k: silence certificate WARNINGs
	mtaSTSPort     int  // 443
}

// domainConflicts refuses what domain mode cannot mean: an MX is reached
// on its own name and port 25 with STARTTLS.
func (o *options) domainConflicts() error {
	switch {
	case o.DANE && o.NoDANE:
		return usagef("--dane and --no-dane cannot be used together")
	case o.MTASTSRequired && o.NoMTASTS:
		return usagef("--mta-sts-required and --no-mta-sts cannot be used together")
	case o.Parallel < 1 || o.Parallel > 64:
		return usagef("--parallel %d: want 1-64 conversations at once, e.g. --parallel 8", o.Parallel)
	}
	if o.MX == "" {
		for name, set := range map[string]bool{"--mx-strict": o.MXStrict, "--no-mta-sts": o.NoMTASTS,
			"--mta-sts-required": o.MTASTSRequired, "--tlsrpt-required": o.TLSRPTRequired} {
			if set {
				return usagef("%s needs -M DOMAIN (domain mode)", name)
			}
		}
		return nil
	}
	for name, set := range map[string]bool{
		"-H": o.Host != "", "a host argument": len(o.Args.Host) > 0, "-s": o.SMTPS, "-L": o.LMTP,
		"-A": o.AuthMech != "", "-U": o.AuthUser != "", "-P": o.AuthPassword != "",
		"--authpassword-file": o.AuthPasswordFile != "", "--sni": o.SNI != "", "-r": o.Proxy,
	} {
		if set {
			return usagef("%s cannot be used with -M: every MX is reached by its own name on port 25 (or -p) with STARTTLS whenever offered", name)
		}
	}
	return nil
}

// dnsConfig makes the resolver (the environment's files are read here, once)
// and, with -M, the domain-mode configuration.
func (o *options) dnsConfig(c *config, env environ) error {
	if o.MX == "" && len(o.DNSServer) == 0 && !o.DANE {
		if o.DNSTrustAD {
			return usagef("--dns-trust-ad needs --dns-server or -M")
		}
		return nil
	}
	servers := o.DNSServer
	if env.dnsPin != nil {
		servers = env.dnsPin
	}
	cl, err := dnsx.New(dnsx.Config{Servers: servers, TrustAD: o.DNSTrustAD, ResolvConf: env.resolvConf})
	if err != nil {
		return usagef("--dns-server: %v", err)
	}
	c.dns = cl
	if o.DANE && !cl.TrustsAD() {
		return usagef("--dane needs a resolver whose DNSSEC answers can be trusted: %v is not on a loopback address (run a validating resolver such as unbound on 127.0.0.1 and use --dns-server 127.0.0.1, or --dns-trust-ad if the path to it is secure)", cl.Servers())
	}
	if o.MX == "" {
		if o.DANE {
			if c.target.UnixSocket || net.ParseIP(c.target.Host) != nil {
				return usageHelpf("--dane needs -H to be a host name: the TLSA records are at _PORT._tcp.HOST")
			}
			c.singleDANE = &singleDANE{rollover: o.DANERollover}
		}
		return nil
	}
	name, err := dnsx.ToASCII(o.MX)
	if err != nil {
		return usagef("-M %q: %v", o.MX, err)
	}
	d := &domainOptions{name: name, display: o.MX, strict: o.MXStrict, parallel: o.Parallel,
		mtaSTS: !o.NoMTASTS, mtaSTSRequired: o.MTASTSRequired, tlsrptRequired: o.TLSRPTRequired,
		dane: !o.NoDANE, daneRequired: o.DANE, daneRollover: o.DANERollover,
		requireTLS: o.STARTTLS, insecure: o.Insecure, mtaSTSPort: env.mtaSTSPort}
	c.domain = d
	c.conv.TLS.Mode = probe.OpportunisticTLS
	if o.STARTTLS {
		c.conv.TLS.Mode = probe.STARTTLS
	}
	// The evaluation decides what a certificate defect means for a target.
	c.conv.TLS.Lenient = true
	c.conv.TLS.Insecure = false
	return nil
}

// singleDANE is --dane in single-server mode: TLSA at _PORT._tcp.HOST must
// be DNSSEC-secure and match.
type singleDANE struct {
	rollover bool
	state    string // set by prepareDANE when DANE could not be judged: error, insecure, none
}
