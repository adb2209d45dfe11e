// Command benchdns is the DNS responder of the domain-mode benchmark: it
// answers, on UDP and TCP of one loopback port, for a made-up zone in which
// the domain dN.bench.test (N = 1 to -hosts) has N MX records, mx1 to mxN
// under bench.test, and mxK.bench.test has the single address -addrs[K-1].
// Every other name, the MTA-STS and TLSRPT records included, does not
// exist; the MX hosts have no AAAA record. Nothing is signed, so no TLSA
// record is asked for. It prints
//
//	READY port=PORT
//
// and runs until killed or until -lifetime has passed.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

const zone = "bench.test."

func main() {
	log.SetFlags(0)
	log.SetPrefix("benchdns: ")
	addr := flag.String("addr", "127.0.0.1", "loopback address to listen on")
	addrs := flag.String("addrs", "", "the address of mx1, mx2... comma-separated (loopback only)")
	lifetime := flag.Duration("lifetime", 30*time.Minute, "exit after this long, whatever happens")
	flag.Parse()
	var hosts []net.IP
	for _, a := range strings.Split(*addrs, ",") {
		ip := net.ParseIP(strings.TrimSpace(a))
		if ip == nil || !ip.IsLoopback() || ip.To4() == nil {
			log.Fatalf("-addrs: %q is not an IPv4 loopback address", a)
		}
		hosts = append(hosts, ip)
	}
	if ip := net.ParseIP(*addr); ip == nil || !ip.IsLoopback() {
		log.Fatalf("-addr %q: only loopback addresses are allowed", *addr)
	}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) { w.WriteMsg(answer(q, hosts)) })
	pc, err := net.ListenPacket("udp", net.JoinHostPort(*addr, "0"))
	if err != nil {
		log.Fatal(err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	l, err := net.Listen("tcp", net.JoinHostPort(*addr, strconv.Itoa(port)))
	if err != nil {
		log.Fatal(err)
	}
	go func() { log.Fatal((&dns.Server{PacketConn: pc, Handler: h}).ActivateAndServe()) }()
	go func() { log.Fatal((&dns.Server{Listener: l, Handler: h}).ActivateAndServe()) }()
	fmt.Printf("READY port=%d\n", port)
	time.Sleep(*lifetime)
	log.Print("lifetime over, exiting")
}

// answer is the reply to q.
func answer(q *dns.Msg, hosts []net.IP) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(q)
	m.Authoritative = true
	if len(q.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		return m
	}
	qn, qt := strings.ToLower(q.Question[0].Name), q.Question[0].Qtype
	hdr := func(t uint16) dns.RR_Header {
		return dns.RR_Header{Name: q.Question[0].Name, Rrtype: t, Class: dns.ClassINET, Ttl: 300}
	}
	if n, ok := numbered(qn, "d", zone); ok && n <= len(hosts) {
		if qt == dns.TypeMX {
			for k := 1; k <= n; k++ {
				m.Answer = append(m.Answer, &dns.MX{Hdr: hdr(dns.TypeMX), Preference: uint16(10 * k), Mx: fmt.Sprintf("mx%d.%s", k, zone)})
			}
		}
		return withSOA(m)
	}
	if k, ok := numbered(qn, "mx", zone); ok && k <= len(hosts) {
		if qt == dns.TypeA {
			m.Answer = append(m.Answer, &dns.A{Hdr: hdr(dns.TypeA), A: hosts[k-1]})
		}
		return withSOA(m)
	}
	m.Rcode = dns.RcodeNameError
	return withSOA(m)
}

// numbered reads PREFIX N . suffix, N from 1.
func numbered(name, prefix, suffix string) (int, bool) {
	label, ok := strings.CutSuffix(name, "."+suffix)
	if !ok {
		return 0, false
	}
	digits, ok := strings.CutPrefix(label, prefix)
	n, err := strconv.Atoi(digits)
	if !ok || err != nil || n < 1 || strconv.Itoa(n) != digits {
		return 0, false
	}
	return n, true
}

// withSOA adds the zone's SOA to an answer without records (NODATA or
// NXDOMAIN), as an authoritative server does, for negative caching.
func withSOA(m *dns.Msg) *dns.Msg {
	if len(m.Answer) == 0 {
		m.Ns = append(m.Ns, &dns.SOA{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 300},
			Ns: "ns." + zone, Mbox: "hostmaster." + zone, Serial: 1, Refresh: 3600, Retry: 600, Expire: 86400, Minttl: 300})
	}
	return m
}
