package dnstest

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// exchange asks srv over net ("udp" or "tcp") with EDNS0 1232, as a
// resolver's client would.
func exchange(t *testing.T, addr, network, name string, qtype uint16) (*dns.Msg, error) {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), qtype)
	q.SetEdns0(1232, true)
	c := &dns.Client{Net: network, Timeout: 2 * time.Second}
	m, _, err := c.Exchange(q, addr)
	return m, err
}

func mustExchange(t *testing.T, addr, network, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m, err := exchange(t, addr, network, name, qtype)
	if err != nil {
		t.Fatalf("%s %s over %s: %v", name, dns.TypeToString[qtype], network, err)
	}
	return m
}

func TestAnswersFromTable(t *testing.T) {
	s := New(t)
	// A TTL carries over to later lines of one text (zone-file rules);
	// each text starts at the default TTL.
	s.Add(`example.org. 300 IN MX 10 mx1.example.org.
example.org. IN MX 30 mx3.example.org. ; comment`, "example.org. IN MX 20 mx2.example.org.")
	for _, network := range []string{"udp", "tcp"} {
		m := mustExchange(t, s.Addr(), network, "Example.ORG", dns.TypeMX)
		if m.Rcode != dns.RcodeSuccess || len(m.Answer) != 3 {
			t.Fatalf("%s: want 3 MX, got %v", network, m)
		}
		if m.Answer[0].Header().Ttl != 300 || m.Answer[1].Header().Ttl != 300 || m.Answer[2].Header().Ttl != 3600 {
			t.Errorf("TTLs: %v", m.Answer)
		}
		if m.IsEdns0() == nil || !m.IsEdns0().Do() {
			t.Errorf("%s: reply lacks EDNS0 with DO echoed: %v", network, m)
		}
		if m.AuthenticatedData {
			t.Errorf("AD set without a behaviour")
		}
	}
	if udp, tcp := s.Count("example.org.", "mx"); udp != 1 || tcp != 1 {
		t.Errorf("Count = %d udp, %d tcp, want 1, 1", udp, tcp)
	}
	if q := s.LastQuery("example.org", "MX"); q == nil || q.Question[0].Name != "Example.ORG." {
		t.Errorf("LastQuery = %v", q)
	}
}

func TestNXDomainNoDataAndEmptyNonTerminal(t *testing.T) {
	s := New(t)
	s.Add("a.b.example.org. IN TXT \"x\"")
	cases := []struct {
		name  string
		rcode int
	}{
		{"missing.example.org", dns.RcodeNameError},
		{"a.b.example.org", dns.RcodeSuccess},    // exists, no A: NODATA
		{"b.example.org", dns.RcodeSuccess},      // empty non-terminal
		{"example.org", dns.RcodeSuccess},        // empty non-terminal
		{"xa.b.example.org", dns.RcodeNameError}, // not a label boundary
	}
	for _, c := range cases {
		m := mustExchange(t, s.Addr(), "udp", c.name, dns.TypeA)
		if m.Rcode != c.rcode || len(m.Answer) != 0 {
			t.Errorf("%s: rcode %s, %d answers; want %s, none", c.name, dns.RcodeToString[m.Rcode], len(m.Answer), dns.RcodeToString[c.rcode])
		}
	}
}

func TestFollowsCNAME(t *testing.T) {
	s := New(t)
	s.Add("alias.example.org. IN CNAME mid.example.org.",
		"mid.example.org. IN CNAME host.example.net.",
		"host.example.net. IN A 192.0.2.7",
		"loop1.example.org. IN CNAME loop2.example.org.",
		"loop2.example.org. IN CNAME loop1.example.org.",
		"dangling.example.org. IN CNAME nowhere.example.org.")
	m := mustExchange(t, s.Addr(), "udp", "alias.example.org", dns.TypeA)
	if len(m.Answer) != 3 {
		t.Fatalf("want CNAME, CNAME, A; got %v", m.Answer)
	}
	if a, ok := m.Answer[2].(*dns.A); !ok || !a.A.Equal(net.IPv4(192, 0, 2, 7)) {
		t.Errorf("last answer %v", m.Answer[2])
	}
	// Asking for the CNAME itself gives it, not the target.
	if m := mustExchange(t, s.Addr(), "udp", "alias.example.org", dns.TypeCNAME); len(m.Answer) != 1 {
		t.Errorf("CNAME query: %v", m.Answer)
	}
	if m := mustExchange(t, s.Addr(), "udp", "loop1.example.org", dns.TypeA); m.Rcode != dns.RcodeServerFailure {
		t.Errorf("CNAME loop: rcode %s, want SERVFAIL", dns.RcodeToString[m.Rcode])
	}
	m = mustExchange(t, s.Addr(), "udp", "dangling.example.org", dns.TypeA)
	if m.Rcode != dns.RcodeNameError || len(m.Answer) != 1 {
		t.Errorf("dangling CNAME: %s %v, want NXDOMAIN with the CNAME", dns.RcodeToString[m.Rcode], m.Answer)
	}
}

func TestBehaviours(t *testing.T) {
	s := New(t)
	s.Add("example.org. IN A 192.0.2.1", "example.org. IN TXT \"t\"")
	for _, rc := range []int{dns.RcodeServerFailure, dns.RcodeRefused, dns.RcodeNameError} {
		s.Set("example.org", "A", Behavior{Rcode: rc})
		m := mustExchange(t, s.Addr(), "udp", "example.org", dns.TypeA)
		if m.Rcode != rc || len(m.Answer) != 0 {
			t.Errorf("Rcode %s: got %s, %v", dns.RcodeToString[rc], dns.RcodeToString[m.Rcode], m.Answer)
		}
	}
	// The behaviour is per type: TXT still answers.
	if m := mustExchange(t, s.Addr(), "udp", "example.org", dns.TypeTXT); len(m.Answer) != 1 {
		t.Errorf("TXT affected by the A behaviour: %v", m)
	}

	s.Set("example.org", "A", Behavior{AD: true})
	if m := mustExchange(t, s.Addr(), "udp", "example.org", dns.TypeA); !m.AuthenticatedData || len(m.Answer) != 1 {
		t.Errorf("AD: %v", m)
	}

	s.Set("example.org", "A", Behavior{TruncateUDP: true})
	if m := mustExchange(t, s.Addr(), "udp", "example.org", dns.TypeA); !m.Truncated || len(m.Answer) != 0 {
		t.Errorf("UDP with TruncateUDP: %v", m)
	}
	if m := mustExchange(t, s.Addr(), "tcp", "example.org", dns.TypeA); m.Truncated || len(m.Answer) != 1 {
		t.Errorf("TCP with TruncateUDP: %v", m)
	}
}

func TestWildcardBehaviour(t *testing.T) {
	s := New(t)
	s.Add("a.example. IN A 192.0.2.1", "b.example. IN A 192.0.2.2")
	s.Set(Wildcard, Wildcard, Behavior{Rcode: dns.RcodeRefused})
	s.Set("b.example", Wildcard, Behavior{AD: true})
	if m := mustExchange(t, s.Addr(), "udp", "a.example", dns.TypeA); m.Rcode != dns.RcodeRefused {
		t.Errorf("a.example: %s, want REFUSED", dns.RcodeToString[m.Rcode])
	}
	if m := mustExchange(t, s.Addr(), "udp", "b.example", dns.TypeA); m.Rcode != dns.RcodeSuccess || !m.AuthenticatedData {
		t.Errorf("b.example: %v, want the answer with AD", m)
	}
}

func TestOversizedAnswerTruncatedOverUDP(t *testing.T) {
	s := New(t)
	for i := range 60 {
		s.Add("big.example. IN TXT \"" + string(rune('a'+i%26)) + "0123456789012345678901234567890123456789\"")
	}
	m := mustExchange(t, s.Addr(), "udp", "big.example", dns.TypeTXT)
	m.Compress = true // measure as sent
	if !m.Truncated || m.Len() > 1232 {
		t.Errorf("UDP: truncated=%v len=%d, want TC within 1232 bytes", m.Truncated, m.Len())
	}
	if m := mustExchange(t, s.Addr(), "tcp", "big.example", dns.TypeTXT); m.Truncated || len(m.Answer) != 60 {
		t.Errorf("TCP: truncated=%v answers=%d, want all 60", m.Truncated, len(m.Answer))
	}
}

func TestDropDropFirstAndDelay(t *testing.T) {
	s := New(t)
	s.Add("example.org. IN A 192.0.2.1")
	s.Set("example.org", "A", Behavior{Drop: true})
	q := new(dns.Msg)
	q.SetQuestion("example.org.", dns.TypeA)
	c := &dns.Client{Timeout: 200 * time.Millisecond}
	if _, _, err := c.Exchange(q, s.Addr()); err == nil {
		t.Errorf("Drop: got an answer")
	}
	if udp, _ := s.Count("example.org", "A"); udp != 1 {
		t.Errorf("Drop: count %d, want 1 (dropped queries count)", udp)
	}

	s.Set("example.org", "A", Behavior{DropFirst: 2}) // count is already 1
	if _, _, err := c.Exchange(q, s.Addr()); err == nil {
		t.Errorf("DropFirst: second query answered")
	}
	if m, _, err := c.Exchange(q, s.Addr()); err != nil || len(m.Answer) != 1 {
		t.Errorf("DropFirst: third query: %v %v", m, err)
	}

	s.Set("example.org", "A", Behavior{Delay: 50 * time.Millisecond})
	c.Timeout = 5 * time.Second
	if m, _, err := c.Exchange(q, s.Addr()); err != nil || len(m.Answer) != 1 {
		t.Errorf("Delay: %v %v", m, err)
	}
}

func TestMangleAndSpoof(t *testing.T) {
	s := New(t)
	s.Add("example.org. IN A 192.0.2.1")
	s.Set("example.org", "A", Behavior{Mangle: func(m *dns.Msg) { m.Question[0].Name = "other.example." }})
	m := mustExchange(t, s.Addr(), "udp", "example.org", dns.TypeA)
	if m.Question[0].Name != "other.example." {
		t.Errorf("Mangle not applied: %v", m.Question)
	}

	// Read the raw datagrams: the forgery first, then the genuine reply.
	s.Set("example.org", "A", Behavior{Spoof: func(m *dns.Msg) { m.Id ^= 0xffff }})
	conn, err := net.Dial("udp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	q := new(dns.Msg)
	q.SetQuestion("example.org.", dns.TypeA)
	co := &dns.Conn{Conn: conn}
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if err := co.WriteMsg(q); err != nil {
		t.Fatal(err)
	}
	first, err := co.ReadMsg()
	if err != nil {
		t.Fatal(err)
	}
	second, err := co.ReadMsg()
	if err != nil {
		t.Fatal(err)
	}
	if first.Id != q.Id^0xffff || second.Id != q.Id || len(second.Answer) != 1 {
		t.Errorf("Spoof: first id %d, second id %d (query %d)", first.Id, second.Id, q.Id)
	}
}

func TestOtherLoopbackAddresses(t *testing.T) {
	s := New(t, WithAddr("127.0.0.2"))
	s.Add("example.org. IN A 192.0.2.1")
	if host, _, _ := net.SplitHostPort(s.Addr()); host != "127.0.0.2" {
		t.Fatalf("Addr = %s", s.Addr())
	}
	mustExchange(t, s.Addr(), "udp", "example.org", dns.TypeA)

	if ln, err := net.ListenPacket("udp", "[::1]:0"); err != nil {
		t.Logf("no IPv6 loopback here, skipping [::1]: %v", err)
	} else {
		ln.Close()
		s6 := New(t, WithAddr("[::1]"))
		s6.Add("example.org. IN AAAA 2001:db8::1")
		if host, _, _ := net.SplitHostPort(s6.Addr()); host != "::1" {
			t.Fatalf("Addr = %s", s6.Addr())
		}
		mustExchange(t, s6.Addr(), "tcp", "example.org", dns.TypeAAAA)
	}
}

func TestSplitAddrRefusesNonLoopback(t *testing.T) {
	for _, a := range []string{"192.0.2.1", "0.0.0.0:53", "example.org", "[2001:db8::1]"} {
		if _, _, err := splitAddr(a); err == nil {
			t.Errorf("splitAddr(%q) accepted", a)
		}
	}
	for a, want := range map[string][2]string{
		"127.0.0.3": {"127.0.0.3", "0"}, "127.0.0.1:5353": {"127.0.0.1", "5353"}, "[::1]": {"::1", "0"}, "[::1]:53": {"::1", "53"},
	} {
		h, p, err := splitAddr(a)
		if err != nil || h != want[0] || p != want[1] {
			t.Errorf("splitAddr(%q) = %q %q %v, want %v", a, h, p, err, want)
		}
	}
}

func TestStoppedByCleanup(t *testing.T) {
	var addr string
	t.Run("server", func(t *testing.T) {
		s := New(t)
		s.Set("slow.example", "A", Behavior{Delay: time.Hour}) // must not block the shutdown
		addr = s.Addr()
		go func() {
			q := new(dns.Msg)
			q.SetQuestion("slow.example.", dns.TypeA)
			_, _, _ = (&dns.Client{Timeout: 2 * time.Second}).Exchange(q, addr)
		}()
		for {
			if udp, _ := s.Count("slow.example", "A"); udp == 1 {
				break
			}
			time.Sleep(time.Millisecond)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var d net.Dialer
	if conn, err := d.DialContext(ctx, "tcp", addr); err == nil {
		conn.Close()
		t.Errorf("TCP still accepting on %s after cleanup", addr)
	}
}
