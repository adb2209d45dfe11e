// Package domain is domain mode's gathering of facts: the MX records of a
// domain, every address of every MX host, one probe per address (at most
// Parallel at once), the MTA-STS policy, the TLSRPT record and each host's
// TLSA records. It returns values in a fixed order (preference, name,
// address), never in completion order, and judges nothing: the caller
// evaluates the Result into states.
package domain

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/check-smtp/check-smtp/lib/internal/dane"
	"github.com/check-smtp/check-smtp/lib/internal/dnsx"
	"github.com/check-smtp/check-smtp/lib/internal/mtasts"
	"github.com/check-smtp/check-smtp/lib/internal/probe"
	"github.com/check-smtp/check-smtp/lib/internal/tlsrpt"
	"github.com/check-smtp/check-smtp/lib/internal/tlsverify"
)

// Resolver is the DNS the domain is looked up with; *dnsx.Client is one.
type Resolver interface {
	MX(ctx context.Context, name string) ([]dnsx.MX, dnsx.Result, error)
	A(ctx context.Context, name string) ([]net.IP, dnsx.Result, error)
	AAAA(ctx context.Context, name string) ([]net.IP, dnsx.Result, error)
	TXT(ctx context.Context, name string) ([]string, dnsx.Result, error)
	TLSA(ctx context.Context, name string) ([]dnsx.TLSA, dnsx.Result, error)
	LookupIP(ctx context.Context, host, network string) ([]net.IP, error)
}

// Config is what to check.
type Config struct {
	Domain   string // A-labels, no trailing dot
	Port     int
	Network  string         // tcp, tcp4 or tcp6: which address families are targets
	Settings probe.Settings // the conversation for every target; TLS.ServerName is set per MX
	Parallel int
	MTASTS   bool // look up the MTA-STS policy
	DANE     bool // look up TLSA records
	// MTASTSPort is the HTTPS port of the policy host (443; tests change it).
	MTASTSPort int
	Roots      *tlsverify.Roots
}

// Deps are the outside world.
type Deps struct {
	Resolver Resolver
	Dialer   probe.Dialer // connects to the addresses found (no name lookups)
	Now      func() time.Time
}

// Result is everything domain mode learnt.
type Result struct {
	Domain   string
	Started  time.Time
	Total    time.Duration
	MXAnswer dnsx.Result
	MXError  error     // the MX lookup failed (SERVFAIL, timeout...)
	MX       []dnsx.MX // sorted by preference then name
	NullMX   bool      // the single record "0 ."
	Implicit bool      // no MX records: the domain itself is the MX
	Hosts    []Host    // one per MX record, in MX order
	Targets  []Target  // one per address, in host order then address order
	MTASTS   *MTASTS   // nil with Config.MTASTS off
	TLSRPT   TLSRPT
}

// Host is one MX host and what DNS said about it.
type Host struct {
	Name       string
	Preference int
	IPLiteral  bool   // the MX names an address
	CNAME      string // the MX name is an alias of this name
	// Secure: the MX answer and this host's address answers were all
	// DNSSEC-authenticated, the condition for DANE to apply.
	Secure    bool
	AddrError error // the address lookups failed
	TLSA      *TLSA // nil when not looked up
}

// TLSA is a host's TLSA lookup at _PORT._tcp.HOST.
type TLSA struct {
	Name    string
	Records []dane.Record
	Answer  dnsx.Result
	Err     error
}

// Target is one address of one MX host and its conversation.
type Target struct {
	Host    int // index into Result.Hosts
	Address net.IP
	Probe   *probe.Result
	DANE    *dane.Verdict // set where TLSA records were found and a chain was presented
}

// MTASTS is the domain's MTA-STS record and policy.
type MTASTS struct {
	Record       mtasts.Record
	RecordStatus mtasts.Status
	RecordError  error // the TXT lookup failed, or several/malformed records
	Policy       *mtasts.Policy
	Fetch        mtasts.FetchInfo
	FetchError   error
}

// TLSRPT is the domain's TLSRPT record.
type TLSRPT struct {
	Record tlsrpt.Record
	Status tlsrpt.Status
	Error  error
}

// Run gathers everything under ctx's deadline.
func Run(ctx context.Context, cfg Config, deps Deps) *Result {
	if deps.Now == nil {
		deps.Now = time.Now
	}
	res := &Result{Domain: cfg.Domain, Started: deps.Now()}
	defer func() { res.Total = deps.Now().Sub(res.Started) }()

	// The policy lookups run beside the MX walk: they need none of it.
	var wg sync.WaitGroup
	if cfg.MTASTS {
		res.MTASTS = &MTASTS{}
		wg.Add(1)
		go func() { defer wg.Done(); lookupMTASTS(ctx, cfg, deps, res.MTASTS) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); lookupTLSRPT(ctx, cfg, deps, &res.TLSRPT) }()
	defer wg.Wait()

	mxs, ans, err := deps.Resolver.MX(ctx, cfg.Domain)
	res.MXAnswer = ans
	if err != nil {
		res.MXError = err
		return res
	}
	if ans.NXDomain {
		return res
	}
	switch {
	case len(mxs) == 1 && mxs[0].IsNull():
		res.NullMX = true
		return res
	case len(mxs) == 0:
		res.Implicit = true
		mxs = []dnsx.MX{{Pref: 0, Host: cfg.Domain}}
	}
	sort.SliceStable(mxs, func(i, j int) bool {
		if mxs[i].Pref != mxs[j].Pref {
			return mxs[i].Pref < mxs[j].Pref
		}
		return mxs[i].Host < mxs[j].Host
	})
	res.MX = mxs
	res.Hosts = make([]Host, len(mxs))
	addrs := make([][]net.IP, len(mxs))
	var hw sync.WaitGroup
	for i, mx := range mxs {
		hw.Add(1)
		go func() {
			defer hw.Done()
			res.Hosts[i], addrs[i] = lookupHost(ctx, cfg, deps, mx, ans.Authentic)
		}()
	}
	hw.Wait()
	for i := range res.Hosts {
		for _, ip := range addrs[i] {
			res.Targets = append(res.Targets, Target{Host: i, Address: ip})
		}
	}
	probeAll(ctx, cfg, deps, res)
	return res
}

// lookupHost finds the addresses (and TLSA records) of one MX host.
// mxSecure says whether the MX answer was authenticated.
func lookupHost(ctx context.Context, cfg Config, deps Deps, mx dnsx.MX, mxSecure bool) (Host, []net.IP) {
	h := Host{Name: mx.Host, Preference: int(mx.Pref)}
	if ip := net.ParseIP(mx.Host); ip != nil {
		h.IPLiteral = true
		if familyOK(cfg.Network, ip) {
			return h, []net.IP{ip}
		}
		return h, nil
	}
	secure := mxSecure
	var ips []net.IP
	var errs []error
	for _, fam := range []struct {
		net    string
		lookup func(context.Context, string) ([]net.IP, dnsx.Result, error)
	}{{"tcp4", deps.Resolver.A}, {"tcp6", deps.Resolver.AAAA}} {
		if cfg.Network != "tcp" && cfg.Network != fam.net {
			continue
		}
		got, ans, err := fam.lookup(ctx, mx.Host)
		if err != nil {
			errs = append(errs, err)
			secure = false
			continue
		}
		if ans.CNAME != "" {
			h.CNAME = ans.CNAME
		}
		secure = secure && ans.Authentic
		ips = append(ips, got...)
	}
	if len(ips) == 0 && len(errs) > 0 {
		h.AddrError = errors.Join(errs...)
	}
	h.Secure = secure
	if cfg.DANE {
		h.TLSA = lookupTLSA(ctx, cfg, deps, mx.Host)
	}
	return h, ips
}

func familyOK(network string, ip net.IP) bool {
	switch network {
	case "tcp4":
		return ip.To4() != nil
	case "tcp6":
		return ip.To4() == nil
	}
	return true
}

func lookupTLSA(ctx context.Context, cfg Config, deps Deps, host string) *TLSA {
	t := &TLSA{Name: "_" + strconv.Itoa(cfg.Port) + "._tcp." + host}
	recs, ans, err := deps.Resolver.TLSA(ctx, t.Name)
	t.Answer, t.Err = ans, err
	for _, r := range recs {
		t.Records = append(t.Records, dane.Record{Usage: r.Usage, Selector: r.Selector, MatchingType: r.MatchingType, Data: r.Data})
	}
	return t
}

// probeAll runs the conversations, at most cfg.Parallel at once; each result
// goes to its own slot, so the order is the targets' order.
func probeAll(ctx context.Context, cfg Config, deps Deps, res *Result) {
	par := cfg.Parallel
	if par < 1 {
		par = 1
	}
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for i := range res.Targets {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			t := &res.Targets[i]
			h := res.Hosts[t.Host]
			set := cfg.Settings
			set.TLS.ServerName = h.Name
			set.TLS.Roots = cfg.Roots
			network := "tcp4"
			if t.Address.To4() == nil {
				network = "tcp6"
			}
			tg := probe.Target{Host: t.Address.String(), Port: cfg.Port, Network: network}
			t.Probe = probe.Run(ctx, tg, set, probe.Deps{Dialer: deps.Dialer, Now: deps.Now})
			if h.TLSA != nil && len(h.TLSA.Records) > 0 && t.Probe.TLS != nil && len(t.Probe.TLS.Chain) > 0 {
				v := dane.Verify(h.TLSA.Records, t.Probe.TLS.Chain, h.Name, deps.Now())
				t.DANE = &v
			}
		}()
	}
	wg.Wait()
}

func lookupMTASTS(ctx context.Context, cfg Config, deps Deps, m *MTASTS) {
	txts, _, err := deps.Resolver.TXT(ctx, "_mta-sts."+cfg.Domain)
	if err != nil {
		m.RecordError = err
		return
	}
	m.Record, m.RecordStatus, m.RecordError = mtasts.SelectRecord(txts)
	if m.RecordStatus != mtasts.Found {
		return
	}
	f := &mtasts.Fetcher{
		LookupIP: func(ctx context.Context, host string) ([]net.IP, error) {
			return deps.Resolver.LookupIP(ctx, host, "tcp")
		},
		Port: cfg.MTASTSPort,
		Verify: func(cs tls.ConnectionState) error {
			// PKIX with the system roots plus --cafile; -k does not apply.
			now := deps.Now()
			if len(cs.PeerCertificates) > 0 && now.After(cs.PeerCertificates[0].NotAfter) {
				return fmt.Errorf("certificate expired (NotAfter %s)", cs.PeerCertificates[0].NotAfter.UTC().Format(time.RFC3339))
			}
			return tlsverify.Verify(cs.PeerCertificates, cs.ServerName, cfg.Roots, now)
		},
	}
	m.Policy, m.Fetch, m.FetchError = f.Fetch(ctx, cfg.Domain)
}

func lookupTLSRPT(ctx context.Context, cfg Config, deps Deps, t *TLSRPT) {
	txts, _, err := deps.Resolver.TXT(ctx, "_smtp._tls."+cfg.Domain)
	if err != nil {
		t.Error = err
		t.Status = tlsrpt.Invalid
		return
	}
	t.Record, t.Status, t.Error = tlsrpt.SelectRecord(txts)
}
