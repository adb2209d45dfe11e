package dnsx

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// Seeds live in testdata/fuzz/FuzzName/.

func FuzzParseResolvConf(f *testing.F) {
	f.Fuzz(func(t *testing.T, text string) {
		servers, err := parseResolvConf(strings.NewReader(text))
		if err != nil {
			return
		}
		if len(servers) > maxNameservers {
			t.Fatalf("%d servers, more than %d", len(servers), maxNameservers)
		}
		for _, s := range servers {
			if s.Port() != 53 || !s.Addr().IsValid() {
				t.Fatalf("server %v", s)
			}
			// netip normalises IPv6 (zeros, case): check IPv4 only.
			if s.Addr().Is4() && !strings.Contains(text, s.Addr().String()) {
				t.Fatalf("server %v not in the input", s)
			}
		}
	})
}

func FuzzParseServer(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		ap, err := parseServer(s)
		if err != nil {
			if !strings.Contains(err.Error(), "dns server ") {
				t.Fatalf("error %q does not say what it is about", err)
			}
			return
		}
		if ap.Port() == 0 || !ap.Addr().IsValid() {
			t.Fatalf("parseServer(%q) = %v", s, ap)
		}
		again, err := parseServer(ap.String())
		if err != nil || again != ap {
			t.Fatalf("round trip of %q: %v -> %v, %v", s, ap, again, err)
		}
	})
}

func FuzzToASCII(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ToASCII(s)
		if err != nil {
			return
		}
		if _, err := checkName(a); err != nil {
			t.Fatalf("ToASCII(%q) = %q, not a valid name: %v", s, a, err)
		}
		if a != strings.ToLower(a) || strings.HasSuffix(a, ".") {
			t.Fatalf("ToASCII(%q) = %q, not lower-case without trailing dot", s, a)
		}
		if again, err := ToASCII(a); err != nil || again != a {
			t.Fatalf("ToASCII not idempotent on %q: %q, %v", a, again, err)
		}
	})
}

// FuzzUnescapeTXT checks that any character-string on the wire (packed by
// miekg/dns) comes back byte for byte through parseReply and toTXT. (The
// name is from when miekg/dns's escaping had to be undone.)
func FuzzUnescapeTXT(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) > 255 {
			raw = raw[:255]
		}
		rr := &dns.RFC3597{
			Hdr:   dns.RR_Header{Name: "x.", Rrtype: dns.TypeTXT, Class: dns.ClassINET},
			Rdata: hex.EncodeToString(append([]byte{byte(len(raw))}, raw...)),
		}
		m := new(dns.Msg)
		m.SetQuestion("x.", dns.TypeTXT)
		m.Response = true
		m.Answer = []dns.RR{rr}
		wire, err := m.Pack()
		if err != nil {
			t.Skip(err)
		}
		got, err := parseReply(wire)
		if err != nil {
			t.Fatal(err)
		}
		txts, _ := toTXT(got.answer)
		if len(txts) != 1 || !bytes.Equal([]byte(txts[0]), raw) {
			t.Fatalf("TXT %q came back as %q", raw, txts)
		}
	})
}

// FuzzAnswer feeds any reply a server could send through the picking and
// conversion of every lookup type: no panic, only records of the asked
// type, MX sorted and capped.
func FuzzAnswer(f *testing.F) {
	f.Fuzz(func(t *testing.T, wire []byte) {
		m, err := parseReply(wire)
		if err != nil || len(m.question) == 0 {
			return
		}
		fqdn := m.question[0].name
		for _, qtype := range []uint16{dns.TypeMX, dns.TypeA, dns.TypeAAAA, dns.TypeTXT, dns.TypeTLSA} {
			rrs, _ := pick(m, fqdn, qtype)
			for _, rr := range rrs {
				if rr.rtype != qtype {
					t.Fatalf("picked %+v for %s", rr, dns.TypeToString[qtype])
				}
			}
			switch qtype {
			case dns.TypeMX:
				mxs, capped := toMX(rrs)
				if len(mxs) > MaxMX || capped != (len(rrs) > MaxMX) {
					t.Fatalf("%d MX from %d records, capped %v", len(mxs), len(rrs), capped)
				}
				for i := 1; i < len(mxs); i++ {
					if mxs[i-1].Pref > mxs[i].Pref {
						t.Fatalf("MX not sorted: %v", mxs)
					}
				}
			case dns.TypeA, dns.TypeAAAA:
				for _, ip := range toIPs(rrs) {
					if qtype == dns.TypeA && len(ip) != 4 || qtype == dns.TypeAAAA && len(ip) != 16 {
						t.Fatalf("%s address %v", dns.TypeToString[qtype], ip)
					}
				}
			case dns.TypeTXT:
				toTXT(rrs)
			case dns.TypeTLSA:
				if _, err := toTLSA(rrs); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}
