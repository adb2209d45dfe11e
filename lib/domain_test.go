package checksmtp

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mackerelio/checkers"
	"github.com/miekg/dns"

	"github.com/check-smtp/check-smtp/lib/internal/dane"
	"github.com/check-smtp/check-smtp/lib/internal/dnsx/dnstest"

	"github.com/check-smtp/check-smtp/lib/internal/smtptest"
)

// Domain mode over real sockets: a DNS server built on miekg/dns answering
// from a table, scripted SMTP servers on 127.0.21.x addresses that share one
// port (domain mode reaches every MX on the same port), and an HTTPS server
// for MTA-STS policies.

// domainIP hands out a fresh loopback address per target, so parallel tests
// never share one.
var domainIPs atomic.Int32

func nextDomainIP() string {
	n := domainIPs.Add(1)
	return fmt.Sprintf("127.0.%d.%d", 21+n/250, 1+n%250)
}

// domainLab is one test's DNS server, port and certificates.
type domainLab struct {
	t     *testing.T
	dns   *dnstest.Server
	port  string
	certs *smtptest.Certs
	env   environ
}

func newDomainLab(t *testing.T) *domainLab {
	t.Helper()
	l := &domainLab{t: t, dns: dnstest.New(t), certs: smtptest.NewCerts(t), env: processEnviron()}
	l.port = smtptest.ClosedPort(t)
	return l
}

// listen opens a listener on a fresh address and the lab's port.
func (l *domainLab) listen() (net.Listener, string) {
	l.t.Helper()
	for i := 0; i < 20; i++ {
		ip := nextDomainIP()
		ln, err := net.Listen("tcp4", net.JoinHostPort(ip, l.port))
		if err == nil {
			return ln, ip
		}
	}
	l.t.Fatal("no free loopback address")
	return nil, ""
}

// mx serves a STARTTLS conversation as mxName (certificate for certName,
// or none when certName is "-": the server offers no STARTTLS).
func (l *domainLab) mx(mxName, certName string) string {
	l.t.Helper()
	ln, ip := l.listen()
	if certName == "-" {
		smtptest.Serve(l.t, ln, smtptest.Script(smtptest.Greeting(), smtptest.Tail()))
		return ip
	}
	now := time.Now()
	cert := l.certs.Leaf(l.t, certName, []string{certName}, nil, now.Add(-smtptest.Day), now.Add(90*smtptest.Day), false)
	smtptest.ServeTLS(l.t, ln, smtptest.ServerTLS(cert), smtptest.Script(smtptest.STARTTLS(), smtptest.EHLOAgain(), smtptest.Tail()))
	return ip
}

// mxCert is mx with a given certificate, for DANE.
func (l *domainLab) mxCert(cert tls.Certificate) string {
	l.t.Helper()
	ln, ip := l.listen()
	smtptest.ServeTLS(l.t, ln, smtptest.ServerTLS(cert), smtptest.Script(smtptest.STARTTLS(), smtptest.EHLOAgain(), smtptest.Tail()))
	return ip
}

// down is an address nothing listens on.
func (l *domainLab) down() string {
	ln, ip := l.listen()
	ln.Close()
	return ip
}

// expect runs the check with the lab's resolver, port, CA and a 5s
// deadline before args; see smtptest.Expect.
func (l *domainLab) expect(status checkers.Status, pattern string, args ...string) string {
	l.t.Helper()
	all := append([]string{"--dns-server", l.dns.Addr(), "-p", l.port, "--cafile", l.certs.CAFile, "-t", "5"}, args...)
	return smtptest.Expect(l.t, checkIn(l.env), smtptest.Case{Args: all, Status: status, Output: pattern})
}

func TestDomainGood(t *testing.T) {
	t.Parallel()
	l := newDomainLab(t)
	ip1, ip2 := l.mx("mx1.good.test", "mx1.good.test"), l.mx("mx2.good.test", "mx2.good.test")
	l.dns.Add("good.test. MX 20 mx2.good.test.", "good.test. MX 10 mx1.good.test.",
		"mx1.good.test. A "+ip1, "mx2.good.test. A "+ip2,
		`_smtp._tls.good.test. TXT "v=TLSRPTv1; rua=mailto:tls@good.test"`)
	out := l.expect(checkers.OK, `^SMTP OK: good\.test: 2 of 2 MX addresses OK, no MTA-STS, TLSRPT, \d+\.\d{3}s \| time=\S+ mx_addresses=2;;;0 mx_failed=0;;;0 mx1\.good\.test_`+regexp.QuoteMeta(ip1)+`_time=\S+ mx1\.good\.test_`+regexp.QuoteMeta(ip1)+`_cert_days=89 mx2\.good\.test_`, "-M", "good.test")
	// Long output: one line per target in preference order, then the domain findings.
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 3 || !strings.HasPrefix(lines[1], "mx1.good.test ["+ip1+"], OK, ") || !strings.HasPrefix(lines[2], "mx2.good.test ["+ip2+"], OK, ") {
		t.Errorf("long output not in preference order:\n%s", out)
	}
}

// -v: each transcript follows, headed by its target, in target order.
func TestDomainVerboseTranscripts(t *testing.T) {
	t.Parallel()
	l := newDomainLab(t)
	ip1, ip2 := l.mx("mx1.v.test", "mx1.v.test"), l.mx("mx2.v.test", "mx2.v.test")
	l.dns.Add("v.test. MX 10 mx1.v.test.", "v.test. MX 20 mx2.v.test.", "mx1.v.test. A "+ip1, "mx2.v.test. A "+ip2)
	out := l.expect(checkers.OK, `(?s)\n--- mx1\.v\.test `+regexp.QuoteMeta(ip1)+`\nS: 220 .*\nC: STARTTLS\n.*\n--- mx2\.v\.test `+regexp.QuoteMeta(ip2)+`\nS: 220 `, "-M", "v.test", "-v")
	if strings.Count(out, "C: QUIT") != 2 {
		t.Errorf("want both transcripts:\n%s", out)
	}
}

func TestDomainTargetsCounted(t *testing.T) {
	t.Parallel()
	t.Run("one MX down: still delivered, WARNING naming it", func(t *testing.T) {
		t.Parallel()
		l := newDomainLab(t)
		ip1, ip2 := l.mx("mx1.one.test", "mx1.one.test"), l.down()
		l.dns.Add("one.test. MX 10 mx1.one.test.", "one.test. MX 20 mx2.one.test.", "mx1.one.test. A "+ip1, "mx2.one.test. A "+ip2)
		l.expect(checkers.WARNING, `^SMTP WARNING: one\.test: mail is still delivered, but 1 MX address of 2 failed \(counted as WARNING\): mx2\.one\.test \[`+regexp.QuoteMeta(ip2)+`\] -- mx2\.one\.test \[`+regexp.QuoteMeta(ip2)+`\]: connection refused`, "-M", "one.test")
	})
	t.Run("--mx-strict: the worst target as is", func(t *testing.T) {
		t.Parallel()
		l := newDomainLab(t)
		ip1, ip2 := l.mx("mx1.one.test", "mx1.one.test"), l.down()
		l.dns.Add("one.test. MX 10 mx1.one.test.", "one.test. MX 20 mx2.one.test.", "mx1.one.test. A "+ip1, "mx2.one.test. A "+ip2)
		l.expect(checkers.CRITICAL, `^SMTP CRITICAL: one\.test: mx2\.one\.test \[\S+\]: connection refused`, "-M", "one.test", "--mx-strict")
	})
	t.Run("all down: no MX accepts mail", func(t *testing.T) {
		t.Parallel()
		l := newDomainLab(t)
		l.dns.Add("down.test. MX 10 mx1.down.test.", "mx1.down.test. A "+l.down(), "mx1.down.test. AAAA ::1")
		l.expect(checkers.CRITICAL, `^SMTP CRITICAL: down\.test: no MX accepts mail -- mx1\.down\.test \[127\.\S+\]: connection refused.* \| time=\S+ mx_addresses=2;;;0 mx_failed=2;;;0`, "-M", "down.test")
	})
	t.Run("-4 restricts targets to IPv4", func(t *testing.T) {
		t.Parallel()
		l := newDomainLab(t)
		ip := l.mx("mx1.v4.test", "mx1.v4.test")
		l.dns.Add("v4.test. MX 10 mx1.v4.test.", "mx1.v4.test. A "+ip, "mx1.v4.test. AAAA 2001:db8::1")
		l.expect(checkers.OK, `^SMTP OK: v4\.test: 1 of 1 MX addresses OK`, "-M", "v4.test", "-4")
	})
	t.Run("an MX host without addresses is a failed target", func(t *testing.T) {
		t.Parallel()
		l := newDomainLab(t)
		ip := l.mx("mx1.noaddr.test", "mx1.noaddr.test")
		l.dns.Add("noaddr.test. MX 10 mx1.noaddr.test.", "noaddr.test. MX 20 mx2.noaddr.test.", "mx1.noaddr.test. A "+ip, "mx2.noaddr.test. TXT \"x\"")
		l.expect(checkers.WARNING, `^SMTP WARNING: noaddr\.test: mail is still delivered, but 1 MX address of 2 failed .*mx2\.noaddr\.test has no address`, "-M", "noaddr.test")
	})
}

func TestDomainDNSOutcomes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		setup   func(l *domainLab)
		status  checkers.Status
		pattern string
	}{
		{"NXDOMAIN", func(l *domainLab) {}, checkers.CRITICAL, `^SMTP CRITICAL: nx\.test: domain does not exist \(NXDOMAIN\)`},
		{"SERVFAIL", func(l *domainLab) { l.dns.Set("nx.test", "MX", dnstest.Behavior{Rcode: dns.RcodeServerFailure}) }, checkers.CRITICAL, `^SMTP CRITICAL: nx\.test: MX lookup failed, senders defer: .*SERVFAIL`},
		{"null MX", func(l *domainLab) { l.dns.Add("nx.test. MX 0 .") }, checkers.CRITICAL, `^SMTP CRITICAL: nx\.test: accepts no mail: null MX`},
		{"no answer within the deadline", func(l *domainLab) { l.dns.Set("nx.test", "MX", dnstest.Behavior{Drop: true}) }, checkers.CRITICAL, `^SMTP CRITICAL: nx\.test: MX lookup failed, senders defer: `},
		{"implicit MX", func(l *domainLab) {
			l.dns.Add("nx.test. A "+l.mx("nx.test", "nx.test"), "nx.test. TXT \"v=spf1 -all\"")
		}, checkers.OK, `^SMTP OK: nx\.test: 1 of 1 MX addresses OK.*\n.*\n(?s:.*)OK: no MX records: the domain's own address is the implicit MX`},
		{"MX as IP literal and CNAME: WARNING, still probed", func(l *domainLab) {
			ip := l.mx("127.0.0.1", "-")
			l.dns.Add("nx.test. MX 10 "+ip+".", "nx.test. MX 20 alias.nx.test.", "alias.nx.test. CNAME real.nx.test.", "real.nx.test. A "+l.mx("alias.nx.test", "alias.nx.test"))
		}, checkers.WARNING, `names an IP address.*is an alias \(CNAME\) of real\.nx\.test`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newDomainLab(t)
			tc.setup(l)
			args := []string{"-M", "nx.test"}
			if strings.HasPrefix(tc.name, "no answer") {
				args = append(args, "-t", "1")
			}
			l.expect(tc.status, tc.pattern, args...)
		})
	}
}

func TestDomainSTARTTLSAndCertificates(t *testing.T) {
	t.Parallel()
	t.Run("STARTTLS missing is a WARNING", func(t *testing.T) {
		t.Parallel()
		l := newDomainLab(t)
		l.dns.Add("plain.test. MX 10 mx.plain.test.", "mx.plain.test. A "+l.mx("mx.plain.test", "-"))
		l.expect(checkers.WARNING, `^SMTP WARNING: plain\.test: mx\.plain\.test \[\S+\]: STARTTLS not offered: mail goes in cleartext`, "-M", "plain.test")
	})
	t.Run("with -S STARTTLS missing fails the target", func(t *testing.T) {
		t.Parallel()
		l := newDomainLab(t)
		l.dns.Add("plain.test. MX 10 mx.plain.test.", "mx.plain.test. A "+l.mx("mx.plain.test", "-"))
		l.expect(checkers.CRITICAL, `^SMTP CRITICAL: plain\.test: no MX accepts mail -- mx\.plain\.test \[\S+\]: STARTTLS not offered`, "-M", "plain.test", "-S")
	})
	t.Run("wrong-name certificate without a policy: WARNING, -k silences it", func(t *testing.T) {
		t.Parallel()
		l := newDomainLab(t)
		ip := l.mx("mx.wrong.test", "other.test")
		l.dns.Add("wrong.test. MX 10 mx.wrong.test.", "mx.wrong.test. A "+ip)
		l.expect(checkers.WARNING, `^SMTP WARNING: wrong\.test: mx\.wrong\.test \[\S+\]: certificate is (valid|issued) for other\.test, not mx\.wrong\.test .*opportunistic senders deliver anyway`, "-M", "wrong.test")
	})
	t.Run("-k silences the certificate WARNING", func(t *testing.T) {
		t.Parallel()
		l := newDomainLab(t)
		ip := l.mx("mx.wrong.test", "other.test")
		l.dns.Add("wrong.test. MX 10 mx.wrong.test.", "mx.wrong.test. A "+ip)
		l.expect(checkers.OK, `^SMTP OK: wrong\.test: 1 of 1 MX addresses OK`, "-M", "wrong.test", "-k")
	})
}

// policyServer serves MTA-STS policies by SNI on 127.0.0.1, with
// certificates for mta-sts.DOMAIN from the lab's CA.
func (l *domainLab) policyServer(policies map[string]string) {
	l.t.Helper()
	now := time.Now()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := policies[strings.TrimPrefix(r.Host, "mta-sts.")]
		if !ok || body == "" || r.URL.Path != "/.well-known/mta-sts.txt" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, body)
	}))
	var names []string
	for d := range policies {
		names = append(names, "mta-sts."+d)
	}
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{l.certs.Leaf(l.t, names[0], names, nil, now.Add(-smtptest.Day), now.Add(90*smtptest.Day), false)}}
	srv.StartTLS()
	l.t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	fmt.Sscan(port, &l.env.mtaSTSPort)
	for d := range policies {
		l.dns.Add("mta-sts." + d + ". A 127.0.0.1")
	}
}

func TestDomainMTASTS(t *testing.T) {
	t.Parallel()
	enforce := "version: STSv1\r\nmode: enforce\r\nmx: mx.sts.test\r\nmax_age: 604800\r\n"
	for _, tc := range []struct {
		name    string
		cert    string // the MX's certificate name
		policy  string
		status  checkers.Status
		pattern string
		extra   []string
	}{
		{"enforce and a valid certificate", "mx.sts.test", enforce, checkers.OK, `^SMTP OK: sts\.test: 1 of 1 MX addresses OK, MTA-STS enforce`, nil},
		{"enforce and a wrong-name certificate: the target fails", "other.test", enforce, checkers.CRITICAL, `^SMTP CRITICAL: sts\.test: no MX accepts mail -- mx\.sts\.test \[\S+\]: certificate is (valid|issued) for other\.test.*MTA-STS mode enforce requires a valid certificate`, nil},
		{"testing and a wrong-name certificate: WARNING", "other.test", strings.Replace(enforce, "enforce", "testing", 1), checkers.WARNING, `MTA-STS mode testing requires a valid certificate`, nil},
		{"enforce, MX not covered", "mx.sts.test", strings.Replace(enforce, "mx: mx.sts.test", "mx: *.elsewhere.test", 1), checkers.CRITICAL, `mx\.sts\.test is not covered by the MTA-STS policy \(mode enforce, mx \*\.elsewhere\.test\)`, nil},
		{"-k never rescues an enforce violation", "other.test", enforce, checkers.CRITICAL, `MTA-STS mode enforce requires a valid certificate`, []string{"-k"}},
		{"short max_age: WARNING", "mx.sts.test", strings.Replace(enforce, "604800", "3600", 1), checkers.WARNING, `MTA-STS max_age 3600 is under a day`, nil},
		{"policy not found: WARNING, treated as none", "mx.sts.test", "", checkers.WARNING, `MTA-STS record published but the policy is unusable .*404`, nil},
		{"policy not found with --mta-sts-required: CRITICAL", "mx.sts.test", "", checkers.CRITICAL, `MTA-STS record published but the policy is unusable`, []string{"--mta-sts-required"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newDomainLab(t)
			ip := l.mx("mx.sts.test", tc.cert)
			l.dns.Add("sts.test. MX 10 mx.sts.test.", "mx.sts.test. A "+ip, `_mta-sts.sts.test. TXT "v=STSv1; id=20261201"`)
			pol := map[string]string{"sts.test": tc.policy}
			if tc.policy == "" {
				pol = map[string]string{"other.test": enforce, "sts.test": ""} // sts.test gets a 404
			}
			l.policyServer(pol)
			l.expect(tc.status, tc.pattern, append([]string{"-M", "sts.test"}, tc.extra...)...)
		})
	}
	t.Run("no MTA-STS record with --mta-sts-required: CRITICAL", func(t *testing.T) {
		t.Parallel()
		l := newDomainLab(t)
		l.dns.Add("sts.test. MX 10 mx.sts.test.", "mx.sts.test. A "+l.mx("mx.sts.test", "mx.sts.test"))
		l.expect(checkers.CRITICAL, `^SMTP CRITICAL: sts\.test: no MTA-STS`, "-M", "sts.test", "--mta-sts-required")
	})
}

func TestDomainDANE(t *testing.T) {
	t.Parallel()
	setup := func(t *testing.T, records func(port string, leaf tls.Certificate) []string, secure bool) *domainLab {
		l := newDomainLab(t)
		now := time.Now()
		cert := l.certs.Leaf(t, "mx.dane.test", []string{"mx.dane.test"}, nil, now.Add(-smtptest.Day), now.Add(90*smtptest.Day), false)
		ip := l.mxCert(cert)
		l.dns.Add("dane.test. MX 10 mx.dane.test.", "mx.dane.test. A "+ip)
		l.dns.Add(records(l.port, cert)...)
		if secure {
			for _, q := range []string{"MX", "A", "AAAA", "TLSA"} {
				l.dns.Set(dnstest.Wildcard, q, dnstest.Behavior{AD: true})
			}
		}
		return l
	}
	// The MX is served on -p PORT, so its TLSA records are at _PORT._tcp.
	tlsa := func(port string, r dane.Record) string { return "_" + port + "._tcp.mx.dane.test. TLSA " + r.String() }
	match := func(port string, c tls.Certificate) []string {
		return []string{tlsa(port, dane.RecordFor(c.Leaf, 3, 1, 1))}
	}
	other := smtptest.NewCerts(t).Valid
	mismatch := func(port string, _ tls.Certificate) []string {
		return []string{tlsa(port, dane.RecordFor(other.Leaf, 3, 1, 1))}
	}
	for _, tc := range []struct {
		name    string
		records func(string, tls.Certificate) []string
		secure  bool
		status  checkers.Status
		pattern string
		extra   []string
	}{
		{"secure and matching", match, true, checkers.OK, `^SMTP OK: dane\.test: 1 of 1 MX addresses OK, no MTA-STS, DANE 1 of 1`, nil},
		{"secure and not matching: renewed without updating TLSA?", mismatch, true, checkers.CRITICAL, `(?i)renewed without updating TLSA`, nil},
		{"--dane-rollover with one record", match, true, checkers.WARNING, `only 1 usable TLSA record at _\d+\._tcp\.mx\.dane\.test: publish the next key`, []string{"--dane-rollover"}},
		{"insecure zone: not applicable, noted", match, false, checkers.OK, `\n.*DANE not applicable: TLSA published, but DANE senders will not use it: the MX records or addresses are not signed`, nil},
		{"insecure zone with --dane: CRITICAL", match, false, checkers.CRITICAL, `DANE required but`, []string{"--dane"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := setup(t, tc.records, tc.secure)
			l.expect(tc.status, tc.pattern, append([]string{"-M", "dane.test"}, tc.extra...)...)
		})
	}
}

func TestDomainOptionErrors(t *testing.T) {
	t.Parallel()
	expectCases(t, []smtptest.Case{
		{Name: "-M with -H", Args: []string{"-M", "example.test", "-H", "mx.example.test"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: -H cannot be used with -M`},
		{Name: "-M with -s", Args: []string{"-M", "example.test", "-s"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: -s cannot be used with -M`},
		{Name: "-M with AUTH", Args: []string{"-M", "example.test", "-A", "PLAIN"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: -A cannot be used with -M`},
		{Name: "--dane with --no-dane", Args: []string{"-M", "example.test", "--dane", "--no-dane"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: --dane and --no-dane cannot be used together`},
		{Name: "--mta-sts-required with --no-mta-sts", Args: []string{"-M", "example.test", "--mta-sts-required", "--no-mta-sts"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: --mta-sts-required and --no-mta-sts`},
		{Name: "--parallel 0", Args: []string{"-M", "example.test", "--parallel", "0"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: --parallel 0: want 1-64`},
		{Name: "--parallel 65", Args: []string{"-M", "example.test", "--parallel", "65"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: --parallel 65: want 1-64`},
		{Name: "--dane with a resolver not on loopback", Args: []string{"-M", "example.test", "--dane", "--dns-server", "192.0.2.53"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: --dane needs a resolver whose DNSSEC answers can be trusted`},
		{Name: "--mx-strict without -M", Args: []string{"--mx-strict"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: --mx-strict needs -M DOMAIN`},
		{Name: "bad domain", Args: []string{"-M", "bad..test"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: -M "bad\.\.test": `},
	})
}

func TestDomainIPv6AndMixedFamilies(t *testing.T) {
	t.Parallel()
	l := newDomainLab(t)
	ip4 := l.mx("mx.six.test", "mx.six.test")
	ln6 := smtptest.ListenLoopback(t, "::1") // skips without an IPv6 loopback
	ln6.Close()
	ln, err := net.Listen("tcp6", net.JoinHostPort("::1", l.port))
	if err != nil {
		t.Skipf("[::1]:%s: %v", l.port, err)
	}
	now := time.Now()
	cert := l.certs.Leaf(t, "mx.six.test", []string{"mx.six.test"}, nil, now.Add(-smtptest.Day), now.Add(90*smtptest.Day), false)
	smtptest.ServeTLS(t, ln, smtptest.ServerTLS(cert), smtptest.Script(smtptest.STARTTLS(), smtptest.EHLOAgain(), smtptest.Tail()))
	l.dns.Add("six.test. MX 10 mx.six.test.", "mx.six.test. A "+ip4, "mx.six.test. AAAA ::1")
	out := l.expect(checkers.OK, `^SMTP OK: six\.test: 2 of 2 MX addresses OK.* mx\.six\.test___1_time=`, "-M", "six.test")
	if !strings.Contains(out, "mx.six.test [::1], OK") || !strings.Contains(out, "mx.six.test ["+ip4+"], OK") {
		t.Errorf("both families must be targets:\n%s", out)
	}
	// -6 leaves the IPv4 address out.
	l2 := newDomainLab(t)
	l2.dns.Add("six.test. MX 10 mx.six.test.", "mx.six.test. A 127.0.0.1", "mx.six.test. AAAA ::1")
	// Nothing listens on l2's port: the one target fails.
	l2.expect(checkers.CRITICAL, `^SMTP CRITICAL: six\.test: no MX accepts mail -- mx\.six\.test \[::1\]: `, "-M", "six.test", "-6")
}

func TestDomainFirstLineWithinMackerelLimit(t *testing.T) {
	t.Parallel()
	l := newDomainLab(t)
	zone := []string{"many.test. MX 1 mx0.many.test.", "mx0.many.test. A " + l.mx("mx0.many.test", "mx0.many.test")}
	for i := 1; i <= 30; i++ {
		name := fmt.Sprintf("mx%02d-with-a-rather-long-host-name.many.test", i)
		zone = append(zone, fmt.Sprintf("many.test. MX %d %s.", 10+i, name), name+". A "+l.down())
	}
	l.dns.Add(zone...)
	out := l.expect(checkers.WARNING, `^SMTP WARNING: many\.test: mail is still delivered, but 30 MX addresses of 31 failed \(counted as WARNING\): mx01-\S+ \[\S+\], mx02-\S+ \[\S+\], mx03-\S+ \[\S+\] and 27 more -- mx01-`, "-M", "many.test")
	if first := out[:min(1024, len(out))]; !strings.Contains(first, "connection refused") {
		t.Errorf("the first 1024 characters lack the worst finding's reason:\n%s", first)
	}
}
