package dnsx

import (
	"cmp"
	"context"
	"net"
	"slices"
	"strings"
)

// Limits on what an answer may hold.
const (
	// MaxMX is how many MX records are kept (the most preferred);
	// Result.Capped says when more were published.
	MaxMX = 100
	// MaxTXT is the largest TXT record set accepted, in bytes: the sum of
	// every record's concatenated character-strings. MTA-STS and TLSRPT
	// records are a few dozen bytes; a larger set is an error.
	MaxTXT = 4096
	// maxCNAMEHops bounds how far a CNAME chain in one answer is followed.
	maxCNAMEHops = 16
)

// Result describes the answer a lookup's records came from.
type Result struct {
	// Rcode is the answer's rcode: 0 (NOERROR) or 3 (NXDOMAIN)
	// (every other rcode is an *Error).
	Rcode int
	// NXDomain: the name does not exist (Rcode NXDOMAIN); no records.
	NXDomain bool
	// NoData: the name exists without records of the type (NOERROR, none).
	NoData bool
	// AD is the raw AD bit of the reply.
	AD bool
	// Authentic is AD from a server whose AD bit is believed (loopback,
	// Config.TrustAD or Config.Trusted): the answer is DNSSEC-secure.
	Authentic bool
	// Server is who answered, "IP:PORT".
	Server string
	// CNAME is the canonical name (lower-case, no trailing dot) when the
	// answer followed one or more CNAMEs; "" otherwise.
	CNAME string
	// Capped: more records than the limit were published (MX: MaxMX kept).
	Capped bool
}

// MX is one mail exchanger. Host is lower-case without the trailing dot;
// the null MX of RFC 7505 ("0 .") has Host == "" (see IsNull).
type MX struct {
	Pref uint16
	Host string
}

// IsNull reports whether m is the null MX "0 ." (the domain accepts no
// mail, RFC 7505). A null MX with another preference is also reported: it
// still names no host.
func (m MX) IsNull() bool { return m.Host == "" }

// TLSA is one TLSA record (RFC 6698); Data is the certificate association
// data as bytes.
type TLSA struct {
	Usage, Selector, MatchingType uint8
	Data                          []byte
}

// MX looks up the MX records of name, sorted by preference, then host.
func (c *Client) MX(ctx context.Context, name string) ([]MX, Result, error) {
	rrs, res, err := c.lookup(ctx, name, typeMX)
	if err != nil {
		return nil, res, err
	}
	mxs, capped := toMX(rrs)
	res.Capped = capped
	return mxs, res, nil
}

// toMX converts MX records, sorted and capped at MaxMX.
func toMX(rrs []record) (mxs []MX, capped bool) {
	mxs = make([]MX, 0, len(rrs))
	for _, rr := range rrs {
		if rr.rtype != typeMX {
			continue
		}
		mxs = append(mxs, MX{Pref: rr.pref, Host: hostName(rr.target)})
	}
	slices.SortFunc(mxs, func(a, b MX) int {
		return cmp.Or(cmp.Compare(a.Pref, b.Pref), strings.Compare(a.Host, b.Host))
	})
	if len(mxs) > MaxMX {
		return mxs[:MaxMX], true
	}
	return mxs, false
}

// A looks up the IPv4 addresses of name.
func (c *Client) A(ctx context.Context, name string) ([]net.IP, Result, error) {
	rrs, res, err := c.lookup(ctx, name, typeA)
	if err != nil {
		return nil, res, err
	}
	return toIPs(rrs), res, nil
}

// AAAA looks up the IPv6 addresses of name.
func (c *Client) AAAA(ctx context.Context, name string) ([]net.IP, Result, error) {
	rrs, res, err := c.lookup(ctx, name, typeAAAA)
	if err != nil {
		return nil, res, err
	}
	return toIPs(rrs), res, nil
}

// TXT looks up the TXT records of name, one string per record: its
// character-strings concatenated without separator (RFC 7208 3.3, RFC 8461
// 3.1), as raw bytes. A record set over MaxTXT bytes is an *Error whose Err
// is a *LimitError.
func (c *Client) TXT(ctx context.Context, name string) ([]string, Result, error) {
	rrs, res, err := c.lookup(ctx, name, typeTXT)
	if err != nil {
		return nil, res, err
	}
	txts, total := toTXT(rrs)
	if total > MaxTXT {
		return nil, res, &Error{Name: name, Type: "TXT", Rcode: res.Rcode, Server: res.Server,
			Err: &LimitError{What: "TXT record set", Size: total, Limit: MaxTXT, Unit: "bytes"}}
	}
	return txts, res, nil
}

// TLSA looks up the TLSA records at name (for SMTP: "_25._tcp.MXHOST"), in
// answer order.
func (c *Client) TLSA(ctx context.Context, name string) ([]TLSA, Result, error) {
	rrs, res, err := c.lookup(ctx, name, typeTLSA)
	if err != nil {
		return nil, res, err
	}
	out, err := toTLSA(rrs)
	if err != nil {
		return nil, res, &Error{Name: name, Type: "TLSA", Rcode: res.Rcode, Server: res.Server, Err: err}
	}
	return out, res, nil
}

// toIPs converts A and AAAA records (4- and 16-byte net.IPs).
func toIPs(rrs []record) []net.IP {
	ips := make([]net.IP, 0, len(rrs))
	for _, rr := range rrs {
		if (rr.rtype == typeA || rr.rtype == typeAAAA) && rr.ip != nil {
			ips = append(ips, slices.Clone(rr.ip))
		}
	}
	return ips
}

// toTXT joins each record's character-strings (raw bytes) and counts the
// bytes of the whole set.
func toTXT(rrs []record) (txts []string, total int) {
	txts = make([]string, 0, len(rrs))
	for _, rr := range rrs {
		if rr.rtype != typeTXT {
			continue
		}
		var b strings.Builder
		for _, s := range rr.txt {
			b.WriteString(s)
		}
		total += b.Len()
		txts = append(txts, b.String())
	}
	return txts, total
}

// toTLSA converts TLSA records. It has no error left to give (miekg/dns
// gave the data as hex to decode); the signature keeps TLSA's error path.
func toTLSA(rrs []record) ([]TLSA, error) {
	out := make([]TLSA, 0, len(rrs))
	for _, rr := range rrs {
		if rr.rtype != typeTLSA {
			continue
		}
		t := rr.tlsa
		t.Data = append([]byte{}, t.Data...) // never nil, as before
		out = append(out, t)
	}
	return out, nil
}

// LookupIP returns the addresses to dial for host on network "tcp" (IPv4
// first, then IPv6), "tcp4" or "tcp6", asking the configured resolvers (not
// /etc/hosts). An IP literal is returned as is (an error if of the wrong
// family). With "tcp" the A and AAAA queries run in parallel, and one
// failing is not an error while the other gives addresses. No address at
// all is an *Error (Type "A/AAAA", Rcode NXDOMAIN or NOERROR for NODATA).
func (c *Client) LookupIP(ctx context.Context, host, network string) ([]net.IP, error) {
	want4, want6 := true, true
	switch network {
	case "tcp", "udp", "ip":
	case "tcp4", "udp4", "ip4":
		want6 = false
	case "tcp6", "udp6", "ip6":
		want4 = false
	default:
		return nil, &net.AddrError{Err: "unknown network " + network, Addr: host}
	}
	if ip := net.ParseIP(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")); ip != nil {
		if is4 := ip.To4() != nil; is4 && !want4 || !is4 && !want6 {
			return nil, &net.AddrError{Err: "address family does not match network " + network, Addr: host}
		}
		return []net.IP{ip}, nil
	}

	type answer struct {
		ips []net.IP
		res Result
		err error
	}
	var a4, a6 answer
	switch {
	case want4 && want6:
		done := make(chan struct{})
		go func() {
			defer close(done)
			a6.ips, a6.res, a6.err = c.AAAA(ctx, host)
		}()
		a4.ips, a4.res, a4.err = c.A(ctx, host)
		<-done
	case want4:
		a4.ips, a4.res, a4.err = c.A(ctx, host)
	default:
		a6.ips, a6.res, a6.err = c.AAAA(ctx, host)
	}
	ips := append(a4.ips, a6.ips...)
	if len(ips) > 0 {
		return ips, nil
	}
	for _, a := range []answer{a4, a6} {
		if a.err != nil {
			return nil, a.err
		}
	}
	res, typ := a4.res, "A/AAAA"
	switch {
	case !want6:
		typ = "A"
	case !want4:
		res, typ = a6.res, "AAAA"
	}
	return nil, &Error{Name: host, Type: typ, Rcode: res.Rcode, Server: res.Server}
}

// lookup checks the name, asks the servers and picks out of the answer the
// records of qtype at the end of the CNAME chain starting at name.
func (c *Client) lookup(ctx context.Context, name string, qtype uint16) ([]record, Result, error) {
	typ := typeName(qtype)
	fqdn, err := checkName(name)
	if err != nil {
		return nil, Result{}, &Error{Name: name, Type: typ, Rcode: -1, Err: err}
	}
	m, i, attempts := c.query(ctx, fqdn, qtype)
	if m == nil {
		last := attempts[len(attempts)-1]
		return nil, Result{}, &Error{Name: name, Type: typ, Rcode: last.Rcode, Timeout: last.Timeout,
			Server: last.Server, Err: last.Err, Attempts: attempts}
	}
	res := Result{
		Rcode:     m.rcode,
		NXDomain:  m.rcode == rcodeNameError,
		AD:        m.ad,
		Authentic: m.ad && c.trusted[i],
		Server:    c.servers[i].String(),
	}
	var rrs []record
	rrs, res.CNAME = pick(m, fqdn, qtype)
	if res.NXDomain {
		rrs = nil
	}
	res.NoData = !res.NXDomain && len(rrs) == 0
	return rrs, res, nil
}

// pick returns the answer's records of qtype at the end of the CNAME chain
// starting at fqdn, and that end's name when it differs from fqdn. Records
// without data (RDLENGTH 0, malformed for every type asked here) are
// skipped: an empty MX must not read as the null MX.
func pick(m *reply, fqdn string, qtype uint16) (rrs []record, cname string) {
	owner := fqdn
	for range maxCNAMEHops {
		next := ""
		for _, rr := range m.answer {
			if rr.rtype == typeCNAME && strings.EqualFold(rr.name, owner) && qtype != typeCNAME {
				next = rr.target
				break
			}
		}
		if next == "" {
			break
		}
		owner = next
	}
	if !strings.EqualFold(owner, fqdn) {
		cname = hostName(owner)
	}
	for _, rr := range m.answer {
		if rr.rtype == qtype && rr.class == classINET && rr.rdlen > 0 && strings.EqualFold(rr.name, owner) {
			rrs = append(rrs, rr)
		}
	}
	return rrs, cname
}

// hostName is a domain name as this package reports it: lower-case, no
// trailing dot, the root "" .
func hostName(s string) string {
	return strings.ToLower(strings.TrimSuffix(s, "."))
}
