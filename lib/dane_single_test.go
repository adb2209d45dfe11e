package checksmtp

import (
	"crypto/tls"
	"testing"
	"time"

	"github.com/mackerelio/checkers"
	"github.com/miekg/dns"

	"github.com/check-smtp/check-smtp/lib/internal/dane"
	"github.com/check-smtp/check-smtp/lib/internal/dnsx/dnstest"

	"github.com/check-smtp/check-smtp/lib/internal/smtptest"
)

// --dane in single-server mode: TLSA at _PORT._tcp.HOST through a resolver
// (a miekg/dns server on loopback, so its AD bit is trusted), the server a
// scripted STARTTLS mock on its own loopback address.
func TestSingleServerDANE(t *testing.T) {
	t.Parallel()
	now := time.Now()
	type server struct {
		cert      func(c *smtptest.Certs) tls.Certificate
		noCAFile  bool // a PKIX failure would show too: the match must carry it
		records   func(port string, served tls.Certificate, c *smtptest.Certs) []string
		insecure  bool // answers without AD
		tlsaRcode int
	}
	tlsa := func(port string, r dane.Record) string { return "_" + port + "._tcp.mx.dane.test. TLSA " + r.String() }
	good := func(c *smtptest.Certs) tls.Certificate {
		return c.Leaf(t, "mx.dane.test", []string{"mx.dane.test"}, nil, now.Add(-smtptest.Day), now.Add(60*smtptest.Day), false)
	}
	ee := func(port string, served tls.Certificate, _ *smtptest.Certs) []string {
		return []string{tlsa(port, dane.RecordFor(served.Leaf, 3, 1, 1))}
	}
	for _, tc := range []struct {
		name    string
		srv     server
		args    []string
		status  checkers.Status
		pattern string
	}{
		{"DANE-EE match names the record", server{cert: good, records: ee}, nil, checkers.OK,
			`^SMTP OK: DANE-EE 3 1 1 matches -- `},
		{"DANE-EE match of a self-signed certificate: PKIX is not judged", server{cert: func(c *smtptest.Certs) tls.Certificate {
			return c.Leaf(t, "mx.dane.test", []string{"mx.dane.test"}, nil, now.Add(-smtptest.Day), now.Add(60*smtptest.Day), true)
		}, records: ee, noCAFile: true}, nil, checkers.OK, `^SMTP OK: DANE-EE 3 1 1 matches`},
		{"DANE-EE match of an expired leaf: dates not judged", server{cert: func(c *smtptest.Certs) tls.Certificate {
			return c.Leaf(t, "mx.dane.test", []string{"mx.dane.test"}, nil, now.Add(-90*smtptest.Day), now.Add(-3*smtptest.Day), false)
		}, records: ee}, nil, checkers.OK, `^SMTP OK: DANE-EE 3 1 1 matches.*cert_days=-[34] `},
		{"DANE-TA on the CA", server{cert: good, records: func(port string, _ tls.Certificate, c *smtptest.Certs) []string {
			return []string{tlsa(port, dane.RecordFor(c.CA, 2, 1, 0))} // the CA is not presented: its key
		}}, nil, checkers.OK, `^SMTP OK: DANE-TA 2 1 0 matches`},
		{"mismatch: the copy-paste fix", server{cert: good, records: func(port string, _ tls.Certificate, _ *smtptest.Certs) []string {
			return []string{tlsa(port, dane.RecordFor(smtptest.NewCerts(t).Valid.Leaf, 3, 1, 1))}
		}}, nil, checkers.CRITICAL, `^SMTP CRITICAL: no TLSA record matches the certificate \(certificate renewed without updating TLSA\?\).* served _\d+\._tcp\.mx\.dane\.test\. IN TLSA 3 1 1 [0-9a-f]{64}`},
		{"--dane-rollover with one record", server{cert: good, records: ee}, []string{"--dane-rollover"}, checkers.WARNING,
			`^SMTP WARNING: only 1 usable TLSA record at _\d+\._tcp\.mx\.dane\.test: publish the next key`},
		{"only unusable records", server{cert: good, records: func(port string, served tls.Certificate, _ *smtptest.Certs) []string {
			return []string{tlsa(port, dane.RecordFor(served.Leaf, 1, 1, 1))}
		}}, nil, checkers.CRITICAL, `^SMTP CRITICAL: DANE required but no usable TLSA record`},
		{"insecure answer", server{cert: good, records: ee, insecure: true}, nil, checkers.CRITICAL,
			`^SMTP CRITICAL: DANE required but the TLSA answer for _\d+\._tcp\.mx\.dane\.test is not DNSSEC-signed`},
		{"no TLSA records", server{cert: good, records: func(string, tls.Certificate, *smtptest.Certs) []string { return nil }}, nil, checkers.CRITICAL,
			`^SMTP CRITICAL: DANE required but no TLSA records at`},
		{"TLSA SERVFAIL", server{cert: good, records: ee, tlsaRcode: dns.RcodeServerFailure}, nil, checkers.CRITICAL,
			`^SMTP CRITICAL: TLSA lookup of _\d+\._tcp\.mx\.dane\.test failed, DANE senders defer: .*SERVFAIL`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newDomainLab(t)
			served := tc.srv.cert(l.certs)
			ip := l.mxCert(served)
			l.dns.Add("mx.dane.test. A " + ip)
			l.dns.Add(tc.srv.records(l.port, served, l.certs)...)
			if !tc.srv.insecure {
				l.dns.Set(dnstest.Wildcard, dnstest.Wildcard, dnstest.Behavior{AD: true})
			}
			if tc.srv.tlsaRcode != 0 {
				l.dns.Set(dnstest.Wildcard, "TLSA", dnstest.Behavior{Rcode: tc.srv.tlsaRcode})
			}
			args := append([]string{"-H", "mx.dane.test", "-S", "--dane", "--dns-server", l.dns.Addr(), "-p", l.port, "-t", "5"}, tc.args...)
			if !tc.srv.noCAFile {
				args = append(args, "--cafile", l.certs.CAFile)
			}
			smtptest.Expect(t, checkIn(l.env), smtptest.Case{Args: args, Status: tc.status, Output: tc.pattern})
		})
	}
	expectCases(t, []smtptest.Case{
		{Name: "--dane without TLS", Args: []string{"-H", "mx.dane.test", "--dane"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: --dane needs -s or -S`},
		{Name: "--dane with an IP literal", Args: []string{"-H", "127.0.0.1", "-S", "--dane", "--dns-server", "127.0.0.1"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: --dane needs -H to be a host name`},
		{Name: "--dane through a resolver not on loopback", Args: []string{"-H", "mx.dane.test", "-S", "--dane", "--dns-server", "192.0.2.53"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: --dane needs a resolver whose DNSSEC answers can be trusted`},
		{Name: "--dane-rollover without --dane", Args: []string{"-H", "mx.dane.test", "-S", "--dane-rollover"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: --dane-rollover needs --dane`},
	})
}
