package dnsx

import (
	"bytes"
	"cmp"
	"context"
	"encoding/hex"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/check-smtp/check-smtp/lib/internal/dnsx/dnstest"
	"github.com/miekg/dns"
)

// TestCheckSMTPDoesNotLinkMiekgDNS: the binary reads DNS with dnsmessage;
// miekg/dns (init-time maps, ~600 KB) is for the tests' doubles only.
func TestCheckSMTPDoesNotLinkMiekgDNS(t *testing.T) {
	gotool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool:", err)
	}
	for _, pkg := range []string{"github.com/check-smtp/check-smtp/check-smtp", "github.com/check-smtp/check-smtp/lib/internal/dnsx"} {
		out, err := exec.Command(gotool, "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		if !strings.Contains(string(out), "golang.org/x/net/dns/dnsmessage\n") {
			t.Errorf("%s does not link golang.org/x/net/dns/dnsmessage: is the list right?\n%s", pkg, out)
		}
		for line := range strings.SplitSeq(string(out), "\n") {
			if strings.HasPrefix(line, "github.com/miekg/") {
				t.Errorf("%s links %s", pkg, line)
			}
		}
	}
}

func TestQueryWire(t *testing.T) {
	pkt, q, id, err := packQuery("_25._tcp.mx.example.org.", typeTLSA)
	if err != nil {
		t.Fatal(err)
	}
	var m dns.Msg
	if err := m.Unpack(pkt); err != nil {
		t.Fatal(err)
	}
	opt := m.IsEdns0()
	if m.Id != id || m.Response || !m.RecursionDesired || m.Opcode != dns.OpcodeQuery || m.Rcode != 0 ||
		len(m.Question) != 1 || m.Question[0] != (dns.Question{Name: "_25._tcp.mx.example.org.", Qtype: dns.TypeTLSA, Qclass: dns.ClassINET}) ||
		len(m.Answer)+len(m.Ns) != 0 || len(m.Extra) != 1 || opt == nil || !opt.Do() || opt.UDPSize() != ednsUDPSize || opt.Version() != 0 || len(opt.Option) != 0 {
		t.Errorf("query:\n%v", &m)
	}
	if q != (question{name: "_25._tcp.mx.example.org.", qtype: dns.TypeTLSA, qclass: dns.ClassINET}) {
		t.Errorf("question %+v", q)
	}
	_, _, id2, _ := packQuery("example.org.", typeA)
	_, _, id3, _ := packQuery("example.org.", typeA)
	if id == id2 && id2 == id3 {
		t.Errorf("three queries with ID %d: not random", id)
	}
}

func TestRcodeNamesAsMiekgDNS(t *testing.T) {
	for rc := range 4096 {
		want, ok := dns.RcodeToString[rc]
		if !ok {
			want = "rcode " + strconv.Itoa(rc)
		}
		if got := rcodeName(rc); got != want {
			t.Errorf("rcodeName(%d) = %q, want %q", rc, got, want)
		}
	}
	for _, typ := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeMX, dns.TypeTXT, dns.TypeTLSA, dns.TypeCNAME} {
		if got := typeName(typ); got != dns.TypeToString[typ] {
			t.Errorf("typeName(%d) = %q, want %q", typ, got, dns.TypeToString[typ])
		}
	}
}

// TestNamesEscapedAsMiekgDNS: an MX host with bytes that are not plain
// comes out escaped as miekg/dns wrote it, never raw (no control bytes in
// messages).
func TestNamesEscapedAsMiekgDNS(t *testing.T) {
	s := dnstest.New(t)
	s.Add("example.org. IN MX 10 mx.example.org.")
	s.Set("example.org", "MX", dnstest.Behavior{Mangle: func(m *dns.Msg) {
		m.Answer[0].(*dns.MX).Mx = `a\032b\"\010\255.Example.org.`
	}})
	mxs, _, err := client(t, Config{}, s).MX(ctx(t), "example.org")
	if err != nil || len(mxs) != 1 || mxs[0].Host != `a\ b\"\010\255.example.org` {
		t.Errorf("MX = %+v, %v", mxs, err)
	}
}

// TestShortMXIsMalformed: an MX of a preference without a name (miekg/dns
// read it as the null MX) makes the reply malformed, as any record whose
// data does not fill its RDLENGTH: the next server is asked.
func TestShortMXIsMalformed(t *testing.T) {
	bad, good := dnstest.New(t), dnstest.New(t)
	for _, s := range []*dnstest.Server{bad, good} {
		s.Add("example.org. IN MX 10 mx.example.org.")
	}
	for _, rdata := range []string{"000a", "000a026d78", "000a00ff", "000a0000"} {
		bad.Set("example.org", "MX", dnstest.Behavior{Mangle: func(m *dns.Msg) {
			m.Answer = []dns.RR{&dns.RFC3597{Hdr: dns.RR_Header{Name: "example.org.", Rrtype: dns.TypeMX, Class: dns.ClassINET, Ttl: 60}, Rdata: rdata}}
		}})
		// A malformed UDP reply is ignored until the server's share of
		// the deadline ends (a valid one may still come): keep it short.
		c, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		mxs, res, err := client(t, Config{}, bad, good).MX(c, "example.org")
		cancel()
		if err != nil || len(mxs) != 1 || mxs[0].Host != "mx.example.org" || res.Server != good.Addr() {
			t.Errorf("MX rdata %s: %v, %+v, %v; want the second server's answer", rdata, mxs, res, err)
		}
	}
}

func TestShortRecordsParse(t *testing.T) {
	for _, tc := range []struct {
		rtype uint16
		rdata string
		ok    bool
	}{
		{dns.TypeA, "7f000001", true},
		{dns.TypeA, "7f0000", false},
		{dns.TypeA, "7f00000100", false},
		{dns.TypeAAAA, "00000000000000000000000000000001", true},
		{dns.TypeAAAA, "7f000001", false},
		{dns.TypeTXT, "0161", true},
		{dns.TypeTXT, "0261", false},
		{dns.TypeTXT, "016100", true}, // "a" and ""
		{dns.TypeTLSA, "03", true},    // as miekg/dns: the rest is 0
		{dns.TypeTLSA, "030101ab", true},
		{dns.TypeCNAME, "0161", false},
		{dns.TypeCNAME, "016100", true},
		{dns.TypeCNAME, "01610000", false},
		{dns.TypeMX, "00", false},
		{dns.TypeMX, "000a00", true},
		{dns.TypeMX, "000a0000", false},
		{dns.TypeNS, "ffff", true}, // not a type the package reads
	} {
		m := new(dns.Msg)
		m.SetQuestion("x.", tc.rtype)
		m.Response = true
		m.Answer = []dns.RR{&dns.RFC3597{Hdr: dns.RR_Header{Name: "x.", Rrtype: tc.rtype, Class: dns.ClassINET}, Rdata: tc.rdata}}
		wire, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		got, err := parseReply(wire)
		if (err == nil) != tc.ok {
			t.Errorf("%s %s: error %v, want ok %v", dns.TypeToString[tc.rtype], tc.rdata, err, tc.ok)
			continue
		}
		if err == nil && (len(got.answer) != 1 || got.answer[0].rdlen != uint16(len(tc.rdata)/2)) {
			t.Errorf("%s %s: answer %+v", dns.TypeToString[tc.rtype], tc.rdata, got.answer)
		}
	}
}

func TestExtendedRcode(t *testing.T) {
	m := new(dns.Msg)
	m.SetQuestion("x.", dns.TypeA)
	m.Response = true
	m.SetEdns0(1232, true)
	m.Rcode = dns.RcodeBadCookie // 23: 7 in the header, 1 in the OPT record
	wire, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseReply(wire)
	if err != nil || got.rcode != dns.RcodeBadCookie {
		t.Errorf("rcode %+v, %v; want 23", got, err)
	}
}

// FuzzReplyMatchesMiekgDNS: where miekg/dns (the parser before) and
// parseReply both read a reply, every lookup type gets the same records
// from it. (Where they disagree on reading one at all: parseReply refuses
// header counts larger than the records, dots inside labels, an MX without
// a name; it does not decode the data of types it does not use.)
func FuzzReplyMatchesMiekgDNS(f *testing.F) {
	f.Fuzz(func(t *testing.T, wire []byte) {
		var want dns.Msg
		werr := want.Unpack(wire)
		got, gerr := parseReply(wire)
		if werr != nil || gerr != nil {
			return
		}
		if got.id != want.Id || got.response != want.Response || got.rcode != want.Rcode || got.ad != want.AuthenticatedData {
			t.Fatalf("header %+v, miekg/dns %v", got, want.MsgHdr)
		}
		if len(got.question) != len(want.Question) {
			t.Fatalf("questions %+v, miekg/dns %v", got.question, want.Question)
		}
		for i, q := range want.Question {
			if got.question[i] != (question{name: q.Name, qtype: q.Qtype, qclass: q.Qclass}) {
				t.Fatalf("question %+v, miekg/dns %v", got.question[i], q)
			}
		}
		if len(got.answer) != len(want.Answer) {
			t.Fatalf("%d answers, miekg/dns %d", len(got.answer), len(want.Answer))
		}
		if len(want.Question) == 0 {
			return
		}
		fqdn := want.Question[0].Name
		for _, qtype := range []uint16{dns.TypeMX, dns.TypeA, dns.TypeAAAA, dns.TypeTXT, dns.TypeTLSA} {
			rrs, cname := pick(got, fqdn, qtype)
			wrrs, wcname := miekgPick(&want, fqdn, qtype)
			if cname != wcname || len(rrs) != len(wrrs) {
				t.Fatalf("%s: %d records, CNAME %q; miekg/dns %d, %q", dns.TypeToString[qtype], len(rrs), cname, len(wrrs), wcname)
			}
			switch qtype {
			case dns.TypeMX:
				a, _ := toMX(rrs)
				b := miekgMX(wrrs)
				if !slices.Equal(a, b) {
					t.Fatalf("MX %+v, miekg/dns %+v", a, b)
				}
			case dns.TypeA, dns.TypeAAAA:
				a, b := toIPs(rrs), miekgIPs(wrrs)
				if !slices.EqualFunc(a, b, func(x, y net.IP) bool { return bytes.Equal(x, y) }) {
					t.Fatalf("IPs %v, miekg/dns %v", a, b)
				}
			case dns.TypeTXT:
				a, n := toTXT(rrs)
				b, wn := miekgTXT(wrrs)
				if !slices.Equal(a, b) || n != wn {
					t.Fatalf("TXT %q (%d), miekg/dns %q (%d)", a, n, b, wn)
				}
			case dns.TypeTLSA:
				a, _ := toTLSA(rrs)
				b := miekgTLSA(t, wrrs)
				if !slices.EqualFunc(a, b, func(x, y TLSA) bool {
					return x.Usage == y.Usage && x.Selector == y.Selector && x.MatchingType == y.MatchingType && bytes.Equal(x.Data, y.Data)
				}) {
					t.Fatalf("TLSA %v, miekg/dns %v", a, b)
				}
			}
		}
	})
}

// What the package did with miekg/dns before, kept as the reference.

func miekgPick(m *dns.Msg, fqdn string, qtype uint16) (rrs []dns.RR, cname string) {
	owner := fqdn
	for range maxCNAMEHops {
		next := ""
		for _, rr := range m.Answer {
			if cn, ok := rr.(*dns.CNAME); ok && strings.EqualFold(cn.Hdr.Name, owner) && qtype != dns.TypeCNAME {
				next = cn.Target
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
	for _, rr := range m.Answer {
		h := rr.Header()
		if h.Rrtype == qtype && h.Class == dns.ClassINET && h.Rdlength > 0 && strings.EqualFold(h.Name, owner) {
			rrs = append(rrs, rr)
		}
	}
	return rrs, cname
}

func miekgMX(rrs []dns.RR) []MX {
	var mxs []MX
	for _, rr := range rrs {
		mx := rr.(*dns.MX)
		mxs = append(mxs, MX{Pref: mx.Preference, Host: hostName(mx.Mx)})
	}
	slices.SortFunc(mxs, func(a, b MX) int {
		return cmp.Or(cmp.Compare(a.Pref, b.Pref), strings.Compare(a.Host, b.Host))
	})
	if len(mxs) > MaxMX {
		mxs = mxs[:MaxMX]
	}
	return mxs
}

func miekgIPs(rrs []dns.RR) []net.IP {
	var ips []net.IP
	for _, rr := range rrs {
		switch r := rr.(type) {
		case *dns.A:
			ips = append(ips, r.A.To4())
		case *dns.AAAA:
			ips = append(ips, r.AAAA.To16())
		}
	}
	return ips
}

func miekgTXT(rrs []dns.RR) (txts []string, total int) {
	for _, rr := range rrs {
		var b strings.Builder
		for _, s := range rr.(*dns.TXT).Txt {
			b.WriteString(unescapeMiekgTXT(s))
		}
		total += b.Len()
		txts = append(txts, b.String())
	}
	return txts, total
}

func miekgTLSA(t *testing.T, rrs []dns.RR) []TLSA {
	var out []TLSA
	for _, rr := range rrs {
		r := rr.(*dns.TLSA)
		data, err := hex.DecodeString(r.Certificate)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, TLSA{Usage: r.Usage, Selector: r.Selector, MatchingType: r.MatchingType, Data: data})
	}
	return out
}

// unescapeMiekgTXT undoes miekg/dns's presentation escaping of a TXT
// character-string.
func unescapeMiekgTXT(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		if i+3 < len(s) && isDigitTest(s[i+1]) && isDigitTest(s[i+2]) && isDigitTest(s[i+3]) {
			if v := int(s[i+1]-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0'); v <= 255 {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i+1])
		i++
	}
	return b.String()
}

func isDigitTest(b byte) bool { return '0' <= b && b <= '9' }
