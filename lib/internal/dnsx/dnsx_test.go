package dnsx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/check-smtp/check-smtp/lib/internal/dnsx/dnstest"
	"github.com/miekg/dns"
)

// client builds a Client over the given doubles, in order.
func client(t *testing.T, cfg Config, servers ...*dnstest.Server) *Client {
	t.Helper()
	for _, s := range servers {
		cfg.Servers = append(cfg.Servers, s.Addr())
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func lookupErr(t *testing.T, err error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *dnsx.Error", err, err)
	}
	return e
}

func TestMX(t *testing.T) {
	s := dnstest.New(t)
	s.Add(`example.org. IN MX 20 MX-B.Example.ORG.
example.org. IN MX 10 mx2.example.org.
example.org. IN MX 20 mx-a.example.org.
example.org. IN MX 10 mx1.example.org.
null.example. IN MX 0 .`)
	c := client(t, Config{}, s)
	mxs, res, err := c.MX(ctx(t), "example.org")
	if err != nil {
		t.Fatal(err)
	}
	want := []MX{{10, "mx1.example.org"}, {10, "mx2.example.org"}, {20, "mx-a.example.org"}, {20, "mx-b.example.org"}}
	if !slices.Equal(mxs, want) {
		t.Errorf("MX = %v, want %v", mxs, want)
	}
	if res.Rcode != dns.RcodeSuccess || res.NXDomain || res.NoData || res.Capped || res.CNAME != "" || res.Server != s.Addr() {
		t.Errorf("Result = %+v", res)
	}

	mxs, _, err = c.MX(ctx(t), "null.example.")
	if err != nil || len(mxs) != 1 || !mxs[0].IsNull() || mxs[0].Host != "" || mxs[0].Pref != 0 {
		t.Errorf("null MX = %v, %v", mxs, err)
	}
}

func TestQueryCarriesEDNS0DOAndRD(t *testing.T) {
	s := dnstest.New(t)
	s.Add("example.org. IN A 192.0.2.1")
	c := client(t, Config{}, s)
	if _, _, err := c.A(ctx(t), "Example.Org"); err != nil {
		t.Fatal(err)
	}
	q := s.LastQuery("example.org", "A")
	if q == nil {
		t.Fatal("no query seen")
	}
	opt := q.IsEdns0()
	if opt == nil || !opt.Do() || opt.UDPSize() != 1232 || !q.RecursionDesired {
		t.Errorf("query %v: want EDNS0 UDP size 1232, DO and RD", q)
	}
}

func TestAAndAAAA(t *testing.T) {
	s := dnstest.New(t)
	s.Add("host.example. IN A 192.0.2.1", "host.example. IN A 192.0.2.2", "host.example. IN AAAA 2001:db8::1")
	c := client(t, Config{}, s)
	ips, _, err := c.A(ctx(t), "host.example")
	if err != nil || len(ips) != 2 || !ips[0].Equal(net.IPv4(192, 0, 2, 1)) || len(ips[0]) != 4 {
		t.Errorf("A = %v, %v", ips, err)
	}
	ips, _, err = c.AAAA(ctx(t), "host.example")
	if err != nil || len(ips) != 1 || !ips[0].Equal(net.ParseIP("2001:db8::1")) {
		t.Errorf("AAAA = %v, %v", ips, err)
	}
}

func TestTXTConcatenatesStringsAsRawBytes(t *testing.T) {
	s := dnstest.New(t)
	s.Add(`_mta-sts.example.org. IN TXT "v=STSv1; " "id=2024"`,
		`_mta-sts.example.org. IN TXT "other"`,
		`odd.example.org. IN TXT "a\"b\\c\255\010d"`)
	c := client(t, Config{}, s)
	txts, _, err := c.TXT(ctx(t), "_mta-sts.example.org")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(txts, []string{"v=STSv1; id=2024", "other"}) {
		t.Errorf("TXT = %q", txts)
	}
	txts, _, err = c.TXT(ctx(t), "odd.example.org")
	if err != nil || len(txts) != 1 || txts[0] != "a\"b\\c\xff\nd" {
		t.Errorf("TXT with escapes = %q, %v", txts, err)
	}
}

func TestTLSA(t *testing.T) {
	s := dnstest.New(t)
	s.Add("_25._tcp.mx.example.org. IN TLSA 3 1 1 0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789abcdef",
		"_25._tcp.mx.example.org. IN TLSA 2 0 2 ff")
	s.Set("_25._tcp.mx.example.org", "TLSA", dnstest.Behavior{AD: true})
	c := client(t, Config{}, s)
	recs, res, err := c.TLSA(ctx(t), "_25._tcp.mx.example.org")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].Usage != 3 || recs[0].Selector != 1 || recs[0].MatchingType != 1 ||
		len(recs[0].Data) != 32 || recs[0].Data[0] != 0x01 || recs[0].Data[31] != 0xef ||
		recs[1].Usage != 2 || recs[1].MatchingType != 2 || !bytes.Equal(recs[1].Data, []byte{0xff}) {
		t.Errorf("TLSA = %+v", recs)
	}
	if !res.AD || !res.Authentic {
		t.Errorf("AD from loopback not authentic: %+v", res)
	}
}

func TestCNAMEIsReported(t *testing.T) {
	s := dnstest.New(t)
	s.Add("mx.example.org. IN CNAME Real.Example.NET.", "real.example.net. IN A 192.0.2.9",
		"example.org. IN CNAME other.example.", "other.example. IN MX 5 mx.other.example.",
		"gone.example.org. IN CNAME nowhere.example.")
	c := client(t, Config{}, s)
	ips, res, err := c.A(ctx(t), "mx.example.org")
	if err != nil || len(ips) != 1 || res.CNAME != "real.example.net" {
		t.Errorf("A via CNAME = %v, %+v, %v", ips, res, err)
	}
	mxs, res, err := c.MX(ctx(t), "example.org")
	if err != nil || len(mxs) != 1 || mxs[0].Host != "mx.other.example" || res.CNAME != "other.example" {
		t.Errorf("MX via CNAME = %v, %+v, %v", mxs, res, err)
	}
	_, res, err = c.A(ctx(t), "gone.example.org")
	if err != nil || !res.NXDomain || res.CNAME != "nowhere.example" {
		t.Errorf("CNAME to nowhere = %+v, %v", res, err)
	}
	// No CNAME: the field stays empty even when the case differs.
	_, res, err = c.A(ctx(t), "REAL.example.net")
	if err != nil || res.CNAME != "" {
		t.Errorf("direct = %+v, %v", res, err)
	}
}

func TestADTrust(t *testing.T) {
	s := dnstest.New(t)
	s.Add("example.org. IN MX 10 mx.example.org.")
	s.Set(dnstest.Wildcard, dnstest.Wildcard, dnstest.Behavior{AD: true})
	untrusted := func(netip.AddrPort) bool { return false }

	cases := []struct {
		name string
		cfg  Config
		want bool
	}{
		{"loopback by default", Config{}, true},
		{"injected rule distrusts it", Config{Trusted: untrusted}, false},
		{"TrustAD overrides", Config{Trusted: untrusted, TrustAD: true}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := client(t, tc.cfg, s)
			_, res, err := c.MX(ctx(t), "example.org")
			if err != nil {
				t.Fatal(err)
			}
			if !res.AD || res.Authentic != tc.want || c.TrustsAD() != tc.want {
				t.Errorf("AD %v Authentic %v TrustsAD %v, want AD and %v", res.AD, res.Authentic, c.TrustsAD(), tc.want)
			}
		})
	}

	// Without the AD bit nothing is authentic, trusted or not.
	s.Set(dnstest.Wildcard, dnstest.Wildcard, dnstest.Behavior{})
	_, res, err := client(t, Config{TrustAD: true}, s).MX(ctx(t), "example.org")
	if err != nil || res.AD || res.Authentic {
		t.Errorf("no AD: %+v, %v", res, err)
	}
}

func TestDefaultTrustRule(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1": true, "127.0.0.53": true, "127.255.0.1:53": true, "::1": true, "[::ffff:127.0.0.1]:53": true,
		"192.0.2.1": false, "10.0.0.1": false, "::": false, "2001:db8::1": false, "0.0.0.0": false,
	} {
		c, err := New(Config{Servers: []string{addr}})
		if err != nil {
			t.Fatal(err)
		}
		if c.TrustsAD() != want || c.trusted[0] != want {
			t.Errorf("%s: trusted %v, want %v", addr, c.TrustsAD(), want)
		}
	}
	// Mixed: one untrusted server makes the client as a whole not trusted,
	// while the loopback one still is per answer.
	c, err := New(Config{Servers: []string{"127.0.0.1", "192.0.2.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.TrustsAD() || !c.trusted[0] || c.trusted[1] {
		t.Errorf("mixed: TrustsAD %v, per server %v", c.TrustsAD(), c.trusted)
	}
}

func TestTruncatedRetriesOverTCP(t *testing.T) {
	s := dnstest.New(t)
	s.Add("example.org. IN A 192.0.2.1")
	s.Set("example.org", "A", dnstest.Behavior{TruncateUDP: true})
	c := client(t, Config{}, s)
	ips, res, err := c.A(ctx(t), "example.org")
	if err != nil || len(ips) != 1 || res.Server != s.Addr() {
		t.Fatalf("A = %v, %+v, %v", ips, res, err)
	}
	if udp, tcp := s.Count("example.org", "A"); udp != 1 || tcp != 1 {
		t.Errorf("queries: %d udp, %d tcp; want 1 and 1", udp, tcp)
	}
}

func TestFallbackToNextServer(t *testing.T) {
	cases := []struct {
		name string
		bad  dnstest.Behavior
		// what the error of the first server alone looks like
		rcode   int
		timeout bool
		msg     string
	}{
		{"SERVFAIL", dnstest.Behavior{Rcode: dns.RcodeServerFailure}, dns.RcodeServerFailure, false, "SERVFAIL from "},
		{"REFUSED", dnstest.Behavior{Rcode: dns.RcodeRefused}, dns.RcodeRefused, false, "REFUSED from "},
		{"FORMERR", dnstest.Behavior{Rcode: dns.RcodeFormatError}, dns.RcodeFormatError, false, "FORMERR from "},
		{"no answer", dnstest.Behavior{Drop: true}, -1, true, "no answer from "},
		{"wrong question only", dnstest.Behavior{Mangle: func(m *dns.Msg) { m.Question[0].Name = "evil.example." }}, -1, true, "no answer from "},
		{"wrong ID only", dnstest.Behavior{Mangle: func(m *dns.Msg) { m.Id++ }}, -1, true, "no answer from "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // the silent servers' tests mostly wait
			first, second := dnstest.New(t), dnstest.New(t, dnstest.WithAddr("127.0.0.2"))
			for _, s := range []*dnstest.Server{first, second} {
				s.Add("example.org. IN MX 10 mx.example.org.")
			}
			first.Set(dnstest.Wildcard, dnstest.Wildcard, tc.bad)
			// The deadline is split between the two servers: a silent first
			// one costs half of it.
			cx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			mxs, res, err := client(t, Config{}, first, second).MX(cx, "example.org")
			if err != nil || len(mxs) != 1 || res.Server != second.Addr() {
				t.Fatalf("MX = %v, %+v, %v; want the second server's answer", mxs, res, err)
			}
			if udp, tcp := first.Count("example.org", "MX"); udp+tcp == 0 {
				t.Errorf("first server never asked")
			}

			// Alone, the first server's failure is the error.
			cx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			_, _, err = client(t, Config{}, first).MX(cx, "example.org")
			e := lookupErr(t, err)
			if e.Rcode != tc.rcode || e.Timeout != tc.timeout || e.Server != first.Addr() || e.Type != "MX" || e.Name != "example.org" {
				t.Errorf("error %+v", e)
			}
			if want := "MX lookup of example.org: " + tc.msg + first.Addr(); !strings.HasPrefix(err.Error(), want) {
				t.Errorf("message %q, want prefix %q", err, want)
			}
		})
	}
}

func TestSpoofedReplyIgnored(t *testing.T) {
	s := dnstest.New(t)
	s.Add("example.org. IN A 192.0.2.1")
	forgeries := []func(*dns.Msg){
		func(m *dns.Msg) { m.Id ^= 0x5a5a; m.Answer[0].(*dns.A).A = net.IPv4(203, 0, 113, 66) },
		func(m *dns.Msg) { m.Question[0].Qtype = dns.TypeAAAA; m.Answer = nil },
		func(m *dns.Msg) { m.Response = false; m.Answer[0].(*dns.A).A = net.IPv4(203, 0, 113, 66) },
		func(m *dns.Msg) {
			m.Question[0].Name = "example.net."
			m.Answer[0].(*dns.A).A = net.IPv4(203, 0, 113, 66)
		},
	}
	c := client(t, Config{}, s)
	for i, f := range forgeries {
		s.Set("example.org", "A", dnstest.Behavior{Spoof: f})
		ips, _, err := c.A(ctx(t), "example.org")
		if err != nil || len(ips) != 1 || !ips[0].Equal(net.IPv4(192, 0, 2, 1)) {
			t.Errorf("forgery %d: A = %v, %v", i, ips, err)
		}
	}
}

func TestMismatchedTCPReplyIsAFailure(t *testing.T) {
	s := dnstest.New(t)
	s.Add("example.org. IN A 192.0.2.1")
	s.Set("example.org", "A", dnstest.Behavior{TruncateUDP: true, Mangle: func(m *dns.Msg) {
		if !m.Truncated {
			m.Id++
		}
	}})
	_, _, err := client(t, Config{}, s).A(ctx(t), "example.org")
	if e := lookupErr(t, err); e.Timeout || !strings.Contains(err.Error(), "does not match the query") {
		t.Errorf("error %v", err)
	}
}

func TestAnswersStopTheSearch(t *testing.T) {
	first, second := dnstest.New(t), dnstest.New(t, dnstest.WithAddr("127.0.0.2"))
	first.Add("nodata.example. IN A 192.0.2.1")
	second.Add("nodata.example. IN MX 10 mx.example.", "missing.example. IN MX 10 mx.example.")
	c := client(t, Config{}, first, second)

	mxs, res, err := c.MX(ctx(t), "missing.example")
	if err != nil || len(mxs) != 0 || !res.NXDomain || res.NoData || res.Rcode != dns.RcodeNameError || res.Server != first.Addr() {
		t.Errorf("NXDOMAIN: %v, %+v, %v", mxs, res, err)
	}
	mxs, res, err = c.MX(ctx(t), "nodata.example")
	if err != nil || len(mxs) != 0 || res.NXDomain || !res.NoData || res.Rcode != dns.RcodeSuccess {
		t.Errorf("NODATA: %v, %+v, %v", mxs, res, err)
	}
	for _, name := range []string{"missing.example", "nodata.example"} {
		if udp, tcp := second.Count(name, "MX"); udp+tcp != 0 {
			t.Errorf("%s: second server asked after an answer", name)
		}
	}
}

func TestAllServersFail(t *testing.T) {
	first, second := dnstest.New(t), dnstest.New(t, dnstest.WithAddr("127.0.0.2"))
	first.Set(dnstest.Wildcard, dnstest.Wildcard, dnstest.Behavior{Rcode: dns.RcodeRefused})
	second.Set(dnstest.Wildcard, dnstest.Wildcard, dnstest.Behavior{Rcode: dns.RcodeServerFailure})
	_, _, err := client(t, Config{}, first, second).TXT(ctx(t), "example.org")
	e := lookupErr(t, err)
	want := fmt.Sprintf("TXT lookup of example.org: REFUSED from %s, then SERVFAIL from %s", first.Addr(), second.Addr())
	if err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
	if e.Rcode != dns.RcodeServerFailure || e.Server != second.Addr() || len(e.Attempts) != 2 || e.Attempts[0].Rcode != dns.RcodeRefused {
		t.Errorf("error %+v", e)
	}
}

func TestClosedPortMovesOn(t *testing.T) {
	// A UDP port nobody listens on answers with ICMP port unreachable.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := pc.LocalAddr().String()
	pc.Close()
	s := dnstest.New(t)
	s.Add("example.org. IN A 192.0.2.1")
	c, err := New(Config{Servers: []string{closed, s.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	ips, res, err := c.A(ctx(t), "example.org")
	if err != nil || len(ips) != 1 || res.Server != s.Addr() {
		t.Errorf("A = %v, %+v, %v", ips, res, err)
	}
}

func TestNeverAnsweringServerEndsAtTheDeadline(t *testing.T) {
	s := dnstest.New(t)
	s.Set(dnstest.Wildcard, dnstest.Wildcard, dnstest.Behavior{Drop: true})
	c := client(t, Config{}, s)
	cx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, _, err := c.MX(cx, "example.org")
	e := lookupErr(t, err)
	if !e.Timeout || e.Rcode != -1 || e.Server != s.Addr() {
		t.Errorf("error %+v", e)
	}
	if want := "MX lookup of example.org: no answer from " + s.Addr() + " within the deadline"; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}

	// A deadline already past asks nobody and says so. (The socket deadline
	// can fire a hair before the context's timer marks it done.)
	<-cx.Done()
	_, _, err = c.MX(cx, "example.org")
	if e := lookupErr(t, err); !e.Timeout || !strings.Contains(err.Error(), "deadline reached before asking") {
		t.Errorf("past deadline: %v", err)
	}
}

func TestCancelEndsTheLookup(t *testing.T) {
	s := dnstest.New(t)
	s.Set(dnstest.Wildcard, dnstest.Wildcard, dnstest.Behavior{Drop: true})
	second := dnstest.New(t, dnstest.WithAddr("127.0.0.2"))
	c := client(t, Config{}, s, second)
	cx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for cx.Err() == nil {
			if udp, _ := s.Count("example.org", "A"); udp > 0 {
				cancel()
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	_, _, err := c.A(cx, "example.org") // no deadline: would wait DefaultServerTimeout without the cancel
	if !errors.Is(err, context.Canceled) || lookupErr(t, err).Timeout {
		t.Errorf("error %v, want canceled", err)
	}
	if udp, tcp := second.Count("example.org", "A"); udp+tcp != 0 {
		t.Errorf("second server asked after the cancel")
	}
}

func TestLostDatagramIsResent(t *testing.T) {
	s := dnstest.New(t)
	s.Add("example.org. IN A 192.0.2.1")
	s.Set("example.org", "A", dnstest.Behavior{DropFirst: 1})
	c := client(t, Config{}, s)
	c.resend = 20 * time.Millisecond
	ips, _, err := c.A(ctx(t), "example.org")
	if err != nil || len(ips) != 1 {
		t.Fatalf("A = %v, %v", ips, err)
	}
	if udp, _ := s.Count("example.org", "A"); udp < 2 {
		t.Errorf("%d UDP queries, want the query re-sent", udp)
	}
}

func TestTXTLimit(t *testing.T) {
	s := dnstest.New(t)
	chunk := strings.Repeat("x", 256) // two character-strings of 128
	var exact, over []string
	for i := range 16 { // 16 * 256 = 4096
		rec := fmt.Sprintf(`%%s IN TXT "%02d%s" "%s"`, i, chunk[:126], chunk[:128])
		exact = append(exact, fmt.Sprintf(rec, "exact.example."))
		over = append(over, fmt.Sprintf(rec, "over.example."))
	}
	over = append(over, `over.example. IN TXT "!"`)
	s.Add(exact...)
	s.Add(over...)
	c := client(t, Config{}, s)

	txts, _, err := c.TXT(ctx(t), "exact.example")
	if err != nil || len(txts) != 16 || len(txts[0]) != 256 {
		t.Fatalf("4096 bytes: %d records, %v", len(txts), err)
	}
	if udp, tcp := s.Count("exact.example", "TXT"); udp != 1 || tcp != 1 {
		t.Errorf("a 4 KiB answer should come over TCP after truncation: %d udp %d tcp", udp, tcp)
	}
	txts, _, err = c.TXT(ctx(t), "over.example")
	var le *LimitError
	if txts != nil || !errors.As(err, &le) || le.Size != 4097 || le.Limit != MaxTXT {
		t.Fatalf("4097 bytes: %v, %v", txts, err)
	}
	if want := "TXT lookup of over.example: TXT record set of 4097 bytes exceeds the limit of 4096 bytes (from " + s.Addr() + ")"; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
}

func TestMXCap(t *testing.T) {
	s := dnstest.New(t)
	for i := range 101 {
		s.Add(fmt.Sprintf("many.example. IN MX %d mx%03d.many.example.", 101-i, i))
		if i < 100 {
			s.Add(fmt.Sprintf("hundred.example. IN MX 10 mx%03d.hundred.example.", i))
		}
	}
	c := client(t, Config{}, s)
	mxs, res, err := c.MX(ctx(t), "hundred.example")
	if err != nil || len(mxs) != 100 || res.Capped {
		t.Errorf("100 MX: %d, capped %v, %v", len(mxs), res.Capped, err)
	}
	mxs, res, err = c.MX(ctx(t), "many.example")
	if err != nil || len(mxs) != MaxMX || !res.Capped {
		t.Fatalf("101 MX: %d, capped %v, %v", len(mxs), res.Capped, err)
	}
	// The most preferred are kept: preference 101 (mx000) is the one cut.
	if mxs[0] != (MX{1, "mx100.many.example"}) || mxs[99] != (MX{100, "mx001.many.example"}) {
		t.Errorf("kept %v ... %v", mxs[0], mxs[99])
	}
}

func TestBadNames(t *testing.T) {
	s := dnstest.New(t)
	c := client(t, Config{}, s)
	long := strings.Repeat("a.", 126) + "ab" // 254 characters
	cases := map[string]string{
		"":                                   "empty",
		".":                                  "empty",
		"a..b":                               "empty label",
		strings.Repeat("a", 64) + ".example": "label of 64 characters",
		long:                                 "254 characters",
		"bücher.example":                     "not ASCII",
		"a b.example":                        `character ' '`,
		"a\\.b.example":                      `character '\\'`,
	}
	for name, want := range cases {
		_, _, err := c.MX(ctx(t), name)
		e := lookupErr(t, err)
		if e.Server != "" || e.Rcode != -1 || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "MX lookup of ") {
			t.Errorf("%q: %v (%+v), want %q", name, err, e, want)
		}
	}
	// The limits themselves are accepted (and reach the server).
	ok := strings.Repeat("a", 63) + "." + strings.Repeat("b.", 93) + "ccc" // 253
	if len(ok) != 253 {
		t.Fatal(len(ok))
	}
	if _, res, err := c.MX(ctx(t), ok+"."); err != nil || !res.NXDomain {
		t.Errorf("253 characters: %+v, %v", res, err)
	}
	if _, _, err := c.TLSA(ctx(t), "_25._tcp.mx.example"); err != nil {
		t.Errorf("underscore labels: %v", err)
	}
}

func TestToASCII(t *testing.T) {
	good := map[string]string{
		"example.org":                  "example.org",
		"Example.ORG.":                 "example.org",
		"bücher.example":               "xn--bcher-kva.example",
		"BÜCHER.Example.":              "xn--bcher-kva.example",
		"xn--bcher-kva.example":        "xn--bcher-kva.example",
		"XN--BCHER-KVA.example":        "xn--bcher-kva.example",
		"bu\u0308cher.example":         "xn--bcher-kva.example", // decomposed ü is normalised
		"日本語.jp":                       "xn--wgv71a119e.jp",
		"münchen.de":                   "xn--mnchen-3ya.de",
		strings.Repeat("a", 63) + ".b": strings.Repeat("a", 63) + ".b",
	}
	for in, want := range good {
		got, err := ToASCII(in)
		if err != nil || got != want {
			t.Errorf("ToASCII(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	bad := []string{"", ".", "a..b", "-bad.example", "bad-.example", "xn--a.example", "a b.example",
		"_mta-sts.example", "example.org..", strings.Repeat("a", 64) + ".example", strings.Repeat("ab.", 84) + "ab", "exa\x00mple.org"}
	for _, in := range bad {
		if got, err := ToASCII(in); err == nil {
			t.Errorf("ToASCII(%q) = %q, want an error", in, got)
		} else if !strings.Contains(err.Error(), fmt.Sprintf("%q", in)) {
			t.Errorf("ToASCII(%q): error %q does not name the input", in, err)
		}
	}
}

func TestLookupIP(t *testing.T) {
	s := dnstest.New(t)
	s.Add("dual.example. IN A 192.0.2.1", "dual.example. IN AAAA 2001:db8::1", "v4.example. IN A 192.0.2.4",
		"v6broken.example. IN A 192.0.2.5", "txt.example. IN TXT \"x\"")
	s.Set("v6broken.example", "AAAA", dnstest.Behavior{Rcode: dns.RcodeServerFailure})
	c := client(t, Config{}, s)
	cases := []struct {
		host, network string
		want          []string
	}{
		{"dual.example", "tcp", []string{"192.0.2.1", "2001:db8::1"}},
		{"dual.example", "tcp4", []string{"192.0.2.1"}},
		{"dual.example", "tcp6", []string{"2001:db8::1"}},
		{"v4.example", "tcp", []string{"192.0.2.4"}},
		{"v6broken.example", "tcp", []string{"192.0.2.5"}},
		{"192.0.2.99", "tcp", []string{"192.0.2.99"}},
		{"2001:db8::99", "tcp6", []string{"2001:db8::99"}},
		{"[2001:db8::99]", "tcp", []string{"2001:db8::99"}},
	}
	for _, tc := range cases {
		ips, err := c.LookupIP(ctx(t), tc.host, tc.network)
		var got []string
		for _, ip := range ips {
			got = append(got, ip.String())
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("LookupIP(%s, %s) = %v, %v; want %v", tc.host, tc.network, got, err, tc.want)
		}
	}
	if n, _ := s.Count("192.0.2.99", "A"); n != 0 {
		t.Errorf("an IP literal was looked up")
	}

	failures := []struct {
		host, network, want string
	}{
		{"v4.example", "tcp6", "AAAA lookup of v4.example: no AAAA records (from "},
		{"txt.example", "tcp", "A/AAAA lookup of txt.example: no A/AAAA records (from "},
		{"missing.example", "tcp", "A/AAAA lookup of missing.example: no such domain (NXDOMAIN) (from "},
		{"v6broken.example", "tcp6", "AAAA lookup of v6broken.example: SERVFAIL from "},
		{"192.0.2.1", "tcp6", "address family does not match"},
		{"dual.example", "unix", "unknown network"},
	}
	for _, tc := range failures {
		ips, err := c.LookupIP(ctx(t), tc.host, tc.network)
		if err == nil || ips != nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("LookupIP(%s, %s) = %v, %v; want error %q", tc.host, tc.network, ips, err, tc.want)
		}
	}
}

func TestConcurrentLookups(t *testing.T) {
	s := dnstest.New(t)
	s.Add("example.org. IN MX 10 mx.example.org.", "mx.example.org. IN A 192.0.2.1", "mx.example.org. IN AAAA 2001:db8::1")
	c := client(t, Config{}, s)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 16 {
		wg.Go(func() {
			if _, _, err := c.MX(ctx(t), "example.org"); err != nil {
				errs <- err
			}
			if ips, err := c.LookupIP(ctx(t), "mx.example.org", "tcp"); err != nil || len(ips) != 2 {
				errs <- fmt.Errorf("LookupIP: %v %v", ips, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestNewServers(t *testing.T) {
	c, err := New(Config{Servers: []string{"127.0.0.1", "192.0.2.1:5353", "::1", "[2001:db8::1]", "[::1]:5300", "fe80::1%lo"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"127.0.0.1:53", "192.0.2.1:5353", "[::1]:53", "[2001:db8::1]:53", "[::1]:5300", "[fe80::1%lo]:53"}
	if got := c.Servers(); !slices.Equal(got, want) {
		t.Errorf("Servers() = %v, want %v", got, want)
	}
	c.Servers()[0] = "changed"
	if c.Servers()[0] != "127.0.0.1:53" {
		t.Errorf("Servers() shares its slice")
	}

	for _, bad := range []string{"", "dns.example", "127.0.0.1:99999", "127.0.0.1:0", "[::1", "[127.0.0.1]", "::1:53:x", "1.2.3", "127.0.0.1:", "udp://127.0.0.1"} {
		_, err := New(Config{Servers: []string{"127.0.0.1", bad}})
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("dns server %q", bad)) {
			t.Errorf("New(%q): %v", bad, err)
		}
	}
}

func TestResolvConf(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	conf := write("resolv.conf", `# generated
search example.org
options edns0 trust-ad
; nameserver 192.0.2.99
nameserver 127.0.0.53 # systemd-resolved
nameserver	fe80::1%eth0
nameserver not-an-address
nameserver
  nameserver 192.0.2.2
nameserver 192.0.2.3
nameserver 192.0.2.4
`)
	c, err := New(Config{ResolvConf: conf})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"127.0.0.53:53", "[fe80::1%eth0]:53", "192.0.2.2:53"} // glibc's first three
	if got := c.Servers(); !slices.Equal(got, want) {
		t.Errorf("Servers() = %v, want %v", got, want)
	}
	if c.TrustsAD() {
		t.Errorf("TrustsAD with non-loopback servers")
	}

	// Servers given win over the file.
	c, err = New(Config{ResolvConf: filepath.Join(dir, "missing"), Servers: []string{"127.0.0.1"}})
	if err != nil || !c.TrustsAD() {
		t.Errorf("explicit servers: %v, %v", c, err)
	}

	for _, tc := range []struct{ path, want string }{
		{write("empty.conf", "search example.org\n# nameserver 127.0.0.1\n"), "no nameserver line in"},
		{filepath.Join(dir, "missing"), "no such file"},
		{write("long.conf", strings.Repeat("x", 70<<10)), "too long"},
	} {
		if _, err := New(Config{ResolvConf: tc.path}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.path, err, tc.want)
		}
	}
}

func TestEmptyMXRdataIsNotTheNullMX(t *testing.T) {
	s := dnstest.New(t)
	s.Add("example.org. IN MX 10 mx.example.org.")
	s.Set("example.org", "MX", dnstest.Behavior{Mangle: func(m *dns.Msg) {
		m.Answer = []dns.RR{&dns.RFC3597{Hdr: dns.RR_Header{Name: "example.org.", Rrtype: dns.TypeMX, Class: dns.ClassINET, Ttl: 60}}}
	}})
	mxs, res, err := client(t, Config{}, s).MX(ctx(t), "example.org")
	if err != nil || len(mxs) != 0 || !res.NoData {
		t.Errorf("MX with RDLENGTH 0 = %v, %+v, %v; want it skipped", mxs, res, err)
	}
}

// BenchmarkMX is one MX lookup over loopback UDP: the client's own cost
// plus a round trip to the double.
func BenchmarkMX(b *testing.B) {
	s := dnstest.New(b)
	s.Add("example.org. IN MX 10 mx1.example.org.", "example.org. IN MX 20 mx2.example.org.")
	c, err := New(Config{Servers: []string{s.Addr()}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := c.MX(ctx, "example.org"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNew is the start-up cost of a Client from a resolv.conf.
func BenchmarkNew(b *testing.B) {
	p := filepath.Join(b.TempDir(), "resolv.conf")
	if err := os.WriteFile(p, []byte("search example.org\nnameserver 127.0.0.53\noptions edns0 trust-ad\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := New(Config{ResolvConf: p}); err != nil {
			b.Fatal(err)
		}
	}
}
