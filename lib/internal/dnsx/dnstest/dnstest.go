// Package dnstest is a test double for DNS: a real miekg/dns server on a
// loopback address (UDP and TCP on one port) that answers like a recursive
// resolver from a per-test table of zone-file records, with per-name/type
// misbehaviours (SERVFAIL, REFUSED, NXDOMAIN, truncation over UDP, no answer,
// delay, the AD bit, forged replies) and per-name/type query counts.
//
// It is for tests only: every constructor takes a testing.TB, fails the test
// on error, and stops the server in t.Cleanup.
package dnstest

import (
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Behavior is how the server treats queries for one name and type. The zero
// value answers from the table.
type Behavior struct {
	// Rcode, when non-zero, is answered instead of the table's answer
	// (dns.RcodeServerFailure, dns.RcodeRefused, dns.RcodeNameError, ...),
	// with empty sections.
	Rcode int
	// AD sets the AD (authenticated data) bit in the reply.
	AD bool
	// TruncateUDP answers over UDP with the TC bit and no records; TCP gets
	// the full answer. (Answers larger than the client's EDNS0 size are
	// truncated over UDP anyway, as a real server does.)
	TruncateUDP bool
	// Drop never answers (the query is still counted).
	Drop bool
	// DropFirst drops the first N queries and answers the later ones
	// (a lost datagram, to exercise retransmission).
	DropFirst int
	// Delay waits this long before answering (cut short when the server
	// stops).
	Delay time.Duration
	// Mangle, if set, edits the reply before it is sent (a wrong ID, a
	// different question, flags...).
	Mangle func(reply *dns.Msg)
	// Spoof, if set, sends over UDP first a copy of the reply edited by
	// Spoof, then the genuine reply: a client must ignore the forgery.
	Spoof func(forged *dns.Msg)
}

// Wildcard matches any name or any type in Server.Set.
const Wildcard = "*"

// Option configures New.
type Option func(*options)

type options struct {
	addr string
}

// WithAddr listens on addr ("127.0.0.2", "127.0.0.2:5353", "[::1]",
// "[::1]:0") instead of 127.0.0.1 on a random port. Only loopback addresses
// are accepted.
func WithAddr(addr string) Option {
	return func(o *options) { o.addr = addr }
}

// Server is a running DNS double. Its methods are safe for concurrent use,
// including while queries are being served.
type Server struct {
	t    testing.TB
	addr string
	udp  *dns.Server
	tcp  *dns.Server
	stop chan struct{}

	mu        sync.Mutex
	records   []dns.RR
	behaviors map[key]Behavior
	counts    map[key]*count
	last      map[key]*dns.Msg
}

type key struct{ name, qtype string }

type count struct{ udp, tcp int }

// New starts a server and registers its shutdown with t.Cleanup.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	o := options{addr: "127.0.0.1"}
	for _, opt := range opts {
		opt(&o)
	}
	host, port, err := splitAddr(o.addr)
	if err != nil {
		t.Fatalf("dnstest: %v", err)
	}
	pc, ln, err := listenBoth(host, port)
	if err != nil {
		t.Fatalf("dnstest: %v", err)
	}
	s := &Server{
		t:         t,
		addr:      pc.LocalAddr().String(),
		stop:      make(chan struct{}),
		behaviors: map[key]Behavior{},
		counts:    map[key]*count{},
		last:      map[key]*dns.Msg{},
	}
	var started sync.WaitGroup
	started.Add(2)
	s.udp = &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(s.serve), NotifyStartedFunc: started.Done}
	s.tcp = &dns.Server{Listener: ln, Handler: dns.HandlerFunc(s.serve), NotifyStartedFunc: started.Done}
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		go func() { _ = srv.ActivateAndServe() }()
	}
	started.Wait()
	t.Cleanup(s.close)
	return s
}

// splitAddr accepts "HOST", "HOST:PORT", "[V6]" and "[V6]:PORT"; the host
// must be a loopback IP so that tests never touch another machine.
func splitAddr(addr string) (host, port string, err error) {
	host, port = addr, "0"
	if h, p, err := net.SplitHostPort(addr); err == nil {
		host, port = h, p
	} else if strings.HasPrefix(addr, "[") && strings.HasSuffix(addr, "]") {
		host = addr[1 : len(addr)-1]
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return "", "", &net.AddrError{Err: "not a loopback IP address", Addr: addr}
	}
	return host, port, nil
}

// listenBoth opens UDP and TCP on the same port. With port 0 the kernel picks
// the UDP port, which may be taken for TCP: try a few times.
func listenBoth(host, port string) (net.PacketConn, net.Listener, error) {
	var lastErr error
	for range 10 {
		pc, err := net.ListenPacket("udp", net.JoinHostPort(host, port))
		if err != nil {
			return nil, nil, err
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
		lastErr = err
		if port != "0" {
			break
		}
	}
	return nil, nil, lastErr
}

func (s *Server) close() {
	close(s.stop)
	_ = s.udp.Shutdown()
	_ = s.tcp.Shutdown()
}

// Addr is the "IP:PORT" the server listens on (UDP and TCP).
func (s *Server) Addr() string { return s.addr }

// Add puts records into the table, in zone-file text: one or more lines
// such as "example.org. 300 IN MX 10 mx1.example.org." (origin ".",
// default TTL 3600; comments and blank lines allowed). A syntax error fails
// the test.
func (s *Server) Add(zone ...string) {
	s.t.Helper()
	var rrs []dns.RR
	for _, text := range zone {
		zp := dns.NewZoneParser(strings.NewReader(text), ".", "dnstest")
		zp.SetDefaultTTL(3600)
		for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
			rrs = append(rrs, rr)
		}
		if err := zp.Err(); err != nil {
			s.t.Fatalf("dnstest: bad zone text %q: %v", text, err)
		}
	}
	s.mu.Lock()
	s.records = append(s.records, rrs...)
	s.mu.Unlock()
}

// Set gives queries for name (with or without the trailing dot, any case)
// and qtype ("MX", "TXT"...) a behaviour, replacing an earlier one. Either
// may be Wildcard; the most specific setting wins (name and type, then name
// and any type, then any name and type, then any name and any type).
func (s *Server) Set(name, qtype string, b Behavior) {
	s.mu.Lock()
	s.behaviors[key{canon(name), strings.ToUpper(qtype)}] = b
	s.mu.Unlock()
}

// Count reports how many queries for name and qtype arrived over UDP and
// over TCP (dropped ones included).
func (s *Server) Count(name, qtype string) (udp, tcp int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.counts[key{canon(name), strings.ToUpper(qtype)}]; c != nil {
		return c.udp, c.tcp
	}
	return 0, 0
}

// LastQuery is a copy of the last query received for name and qtype, or nil.
func (s *Server) LastQuery(name, qtype string) *dns.Msg {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.last[key{canon(name), strings.ToUpper(qtype)}]; m != nil {
		return m.Copy()
	}
	return nil
}

func canon(name string) string {
	if name == Wildcard {
		return name
	}
	return strings.ToLower(strings.TrimSuffix(name, "."))
}

func (s *Server) serve(w dns.ResponseWriter, req *dns.Msg) {
	if len(req.Question) != 1 {
		m := new(dns.Msg)
		m.SetRcode(req, dns.RcodeFormatError)
		_ = w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	_, overUDP := w.LocalAddr().(*net.UDPAddr)
	k := key{canon(q.Name), typeName(q.Qtype)}

	s.mu.Lock()
	c := s.counts[k]
	if c == nil {
		c = &count{}
		s.counts[k] = c
	}
	if overUDP {
		c.udp++
	} else {
		c.tcp++
	}
	n := c.udp + c.tcp
	s.last[k] = req.Copy()
	b := s.behaviorLocked(k)
	s.mu.Unlock()

	if b.Drop || n <= b.DropFirst {
		return
	}
	if b.Delay > 0 {
		timer := time.NewTimer(b.Delay)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-s.stop:
			return
		}
	}

	reply := s.answer(req, b)
	if opt := req.IsEdns0(); opt != nil {
		reply.SetEdns0(1232, opt.Do())
	}
	if overUDP {
		size := dns.MinMsgSize
		if opt := req.IsEdns0(); opt != nil {
			size = int(opt.UDPSize())
		}
		if b.TruncateUDP {
			reply.Answer, reply.Ns, reply.Extra = nil, nil, nil
			reply.Truncated = true
		} else {
			reply.Truncate(size)
		}
	}
	if b.Mangle != nil {
		b.Mangle(reply)
	}
	if overUDP && b.Spoof != nil {
		forged := reply.Copy()
		b.Spoof(forged)
		_ = w.WriteMsg(forged)
	}
	_ = w.WriteMsg(reply)
}

func (s *Server) behaviorLocked(k key) Behavior {
	for _, try := range []key{k, {k.name, Wildcard}, {Wildcard, k.qtype}, {Wildcard, Wildcard}} {
		if b, ok := s.behaviors[try]; ok {
			return b
		}
	}
	return Behavior{}
}

// answer builds the reply a recursive resolver would give from the table:
// the CNAME chain from the question name, then the target's records of the
// asked type; NXDOMAIN when the final name does not exist (not even as an
// empty non-terminal), NODATA when it exists without such records.
func (s *Server) answer(req *dns.Msg, b Behavior) *dns.Msg {
	reply := new(dns.Msg)
	reply.SetReply(req)
	reply.RecursionAvailable = true
	reply.AuthenticatedData = b.AD
	if b.Rcode != 0 {
		reply.Rcode = b.Rcode
		return reply
	}
	q := req.Question[0]
	name := dns.CanonicalName(q.Name)

	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	for hop := 0; ; hop++ {
		seen[name] = true
		var cname *dns.CNAME
		var found []dns.RR
		for _, rr := range s.records {
			h := rr.Header()
			if dns.CanonicalName(h.Name) != name || h.Class != q.Qclass && q.Qclass != dns.ClassANY {
				continue
			}
			if h.Rrtype == q.Qtype || q.Qtype == dns.TypeANY {
				found = append(found, dns.Copy(rr))
			} else if c, ok := rr.(*dns.CNAME); ok && cname == nil {
				cname = c
			}
		}
		if len(found) > 0 || cname == nil {
			reply.Answer = append(reply.Answer, found...)
			if len(found) == 0 && !s.existsLocked(name) {
				reply.Rcode = dns.RcodeNameError
			}
			return reply
		}
		reply.Answer = append(reply.Answer, dns.Copy(cname))
		name = dns.CanonicalName(cname.Target)
		if seen[name] || hop >= 8 {
			// A loop or an overlong chain: a resolver gives up.
			reply.Rcode = dns.RcodeServerFailure
			reply.Answer = nil
			return reply
		}
	}
}

func (s *Server) existsLocked(name string) bool {
	for _, rr := range s.records {
		owner := dns.CanonicalName(rr.Header().Name)
		if owner == name || dns.IsSubDomain(name, owner) {
			return true
		}
	}
	return false
}

func typeName(t uint16) string {
	if name, ok := dns.TypeToString[t]; ok {
		return name
	}
	return dns.Type(t).String()
}
