package checksmtp

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mackerelio/checkers"

	"github.com/check-smtp/check-smtp/lib/internal/smtptest"
)

// TLS over real loopback sockets: implicit TLS (-s) and STARTTLS (-S), each
// against the scripted mock and against go-smtp, an independent SMTP server
// running in-process.

// verifyCase is one certificate verification outcome, run over every
// transport: the mock and go-smtp, each with -s and with -S.
type verifyCase struct {
	name     string
	cert     func(c *smtptest.Certs, t testing.TB) tls.Certificate
	listen   string   // 127.0.0.1 (default) or ::1
	host     string   // -H; default: the listen address
	args     []string // after -H and -p; "CAFILE" is the CA file
	status   checkers.Status
	message  string // regexp over the whole output
	sni      string // what the server must have seen ("" = no SNI)
	proceeds bool   // the conversation goes on after the handshake
}

var (
	validCert      = func(c *smtptest.Certs, _ testing.TB) tls.Certificate { return c.Valid }
	wrongNameCert  = func(c *smtptest.Certs, _ testing.TB) tls.Certificate { return c.WrongName }
	expiredCert    = func(c *smtptest.Certs, _ testing.TB) tls.Certificate { return c.Expired }
	selfSignedCert = func(c *smtptest.Certs, _ testing.TB) tls.Certificate { return c.SelfSigned }
	expiring10Cert = func(c *smtptest.Certs, t testing.TB) tls.Certificate { return c.ExpiringIn(t, 10) }
)

// The whole summary of a TLS conversation that went well.
const tlsOKSummary = `, TLS 1\.3, TLS_(AES_128_GCM_SHA256|AES_256_GCM_SHA384|CHACHA20_POLY1305_SHA256), certificate expires in 364 days \| `

var verifyCases = []verifyCase{
	{name: "trusted via --cafile, IP literal verified against the IP SAN, no SNI",
		cert: validCert, args: []string{"--cafile", "CAFILE"},
		status: checkers.OK, message: `^SMTP OK: \d+\.\d{3}s response time, .+` + tlsOKSummary, proceeds: true},
	{name: "trusted via --ca-file alias, host name sent as SNI",
		cert: validCert, host: "localhost", args: []string{"--ca-file", "CAFILE"},
		status: checkers.OK, message: `^SMTP OK: ` + `.+` + tlsOKSummary, sni: "localhost", proceeds: true},
	{name: "bare --sni means the host name",
		cert: validCert, host: "localhost", args: []string{"--cafile", "CAFILE", "--sni"},
		status: checkers.OK, message: `^SMTP OK: `, sni: "localhost", proceeds: true},
	{name: "unknown authority without --cafile",
		cert: validCert, host: "localhost",
		status:  checkers.CRITICAL,
		message: `^SMTP CRITICAL: certificate signed by unknown authority \(issuer "CN=check-smtp test CA"\): not anchored by the system roots \(use --cafile or -k\) -- .*TLS 1\.3`,
		sni:     "localhost"},
	{name: "self-signed is an unknown authority even with --cafile",
		cert: selfSignedCert, args: []string{"--cafile", "CAFILE"},
		status: checkers.CRITICAL, message: `^SMTP CRITICAL: certificate signed by unknown authority \(issuer "CN=localhost"\): not anchored by --cafile \S+ or the system roots \(use -k to skip verification\)`},
	{name: "-k accepts an unknown authority and still reports the certificate",
		cert: validCert, args: []string{"-k"},
		status: checkers.OK, message: `^SMTP OK: .+` + tlsOKSummary + `.* cert_days=364 chain_days=364\n$`, proceeds: true},
	{name: "--no-check-certificate accepts a self-signed certificate",
		cert: selfSignedCert, host: "localhost", args: []string{"--no-check-certificate"},
		status: checkers.OK, message: `^SMTP OK: .+` + tlsOKSummary, sni: "localhost", proceeds: true},
	{name: "wrong name against an IP literal names both",
		cert: wrongNameCert, args: []string{"--cafile", "CAFILE"},
		status: checkers.CRITICAL, message: `^SMTP CRITICAL: certificate is issued for wrong\.example, not 127\.0\.0\.1 \(use --sni=NAME or -k\) -- `},
	{name: "wrong name against a host name names both",
		cert: wrongNameCert, host: "localhost", args: []string{"--cafile", "CAFILE"},
		status: checkers.CRITICAL, message: `^SMTP CRITICAL: certificate is issued for wrong\.example, not localhost \(use --sni=NAME or -k\) -- `,
		sni: "localhost"},
	{name: "--sni=NAME verifies against NAME and sends it",
		cert: wrongNameCert, args: []string{"--cafile", "CAFILE", "--sni=wrong.example"},
		status: checkers.OK, message: `^SMTP OK: .+` + tlsOKSummary, sni: "wrong.example", proceeds: true},
	{name: "--sni=NAME fails a certificate for other names, listing them",
		cert: validCert, host: "localhost", args: []string{"--cafile", "CAFILE", "--sni=wrong.example"},
		status: checkers.CRITICAL, message: `^SMTP CRITICAL: certificate is issued for localhost, 127\.0\.0\.1, ::1, not wrong\.example `,
		sni: "wrong.example"},
	{name: "-k accepts a wrong name",
		cert: wrongNameCert, host: "localhost", args: []string{"-k"},
		status: checkers.OK, message: `^SMTP OK: .+` + tlsOKSummary, sni: "localhost", proceeds: true},
	{name: "expired is CRITICAL and the conversation still runs",
		cert: expiredCert, args: []string{"--cafile", "CAFILE"},
		status:   checkers.CRITICAL,
		message:  `^SMTP CRITICAL: certificate expired 30 days ago \(NotAfter \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\) -- \d+\.\d{3}s response time, .+, TLS 1\.3, \S+ \| .*quit=\S+ cert_days=-31 chain_days=-31\n$`,
		proceeds: true},
	{name: "expired with -k is still CRITICAL",
		cert: expiredCert, args: []string{"-k"},
		status: checkers.CRITICAL, message: `^SMTP CRITICAL: certificate expired 30 days ago `, proceeds: true},
	{name: "expired with --ignore-certificate-expiration is OK",
		cert: expiredCert, args: []string{"--cafile", "CAFILE", "--ignore-certificate-expiration"},
		status: checkers.OK, message: `^SMTP OK: \d+\.\d{3}s response time, .+, TLS 1\.3, \S+ \| .* cert_days=-31 chain_days=-31\n$`, proceeds: true},
	{name: "expired with -k and --ignore-certificate-expiration is OK",
		cert: expiredCert, args: []string{"-k", "--ignore-certificate-expiration"},
		status: checkers.OK, message: `^SMTP OK: `, proceeds: true},
	{name: "expired with -D and --ignore-certificate-expiration is OK",
		cert: expiredCert, args: []string{"--cafile", "CAFILE", "-D", "30,7", "--ignore-certificate-expiration"},
		status: checkers.OK, message: `^SMTP OK: .* cert_days=-31;30:;7: chain_days=-31;30:;7:\n$`, proceeds: true},
	{name: "expired with -D is one CRITICAL, the expiry",
		cert: expiredCert, args: []string{"--cafile", "CAFILE", "-D", "30,7"},
		status: checkers.CRITICAL, message: `^SMTP CRITICAL: certificate expired 30 days ago \(NotAfter [^)]+\) -- \d+\.\d{3}s response time`, proceeds: true},

	{name: "chain through an intermediate the server sends",
		cert: func(c *smtptest.Certs, _ testing.TB) tls.Certificate { return c.Chained }, host: "localhost", args: []string{"--cafile", "CAFILE"},
		status: checkers.OK, message: `^SMTP OK: .+` + tlsOKSummary, sni: "localhost", proceeds: true},
	{name: "a long name list is cut in the message",
		cert: func(c *smtptest.Certs, t testing.TB) tls.Certificate {
			names := []string{"a.example", "b.example", "c.example", "d.example", "e.example", "f.example", "g.example"}
			return c.Leaf(t, "a.example", names, nil, time.Now().Add(-smtptest.Day), time.Now().Add(365*smtptest.Day), false)
		},
		host: "localhost", args: []string{"--cafile", "CAFILE"}, sni: "localhost",
		status:  checkers.CRITICAL,
		message: `^SMTP CRITICAL: certificate is issued for a\.example, b\.example, c\.example, d\.example, e\.example and 2 more, not localhost \(use --sni=NAME or -k\) -- `},
	{name: "a name only in the Common Name is not verified",
		cert: func(c *smtptest.Certs, t testing.TB) tls.Certificate {
			return c.Leaf(t, "localhost", nil, nil, time.Now().Add(-smtptest.Day), time.Now().Add(365*smtptest.Day), false)
		},
		host: "localhost", args: []string{"--cafile", "CAFILE"}, sni: "localhost",
		status:  checkers.CRITICAL,
		message: `^SMTP CRITICAL: certificate has no subject alternative names \(subject "CN=localhost", its Common Name is not a name to verify\), so not valid for localhost \(use -k\) -- `},
	{name: "not yet valid",
		cert: func(c *smtptest.Certs, _ testing.TB) tls.Certificate { return c.NotYetValid }, args: []string{"--cafile", "CAFILE"},
		status: checkers.CRITICAL, message: `^SMTP CRITICAL: certificate not valid at this time \(NotBefore \S+, NotAfter \S+\) -- `},

	// -D boundaries with a certificate expiring in exactly 10 days.
	{name: "-D 9: W below the days left is OK",
		cert: expiring10Cert, args: []string{"--cafile", "CAFILE", "-D", "9"},
		status: checkers.OK, message: `^SMTP OK: .*certificate expires in 10 days \| .* cert_days=10;9:;0: chain_days=10;9:;0:\n$`, proceeds: true},
	{name: "-D 10: W exactly at the days left is OK",
		cert: expiring10Cert, args: []string{"--cafile", "CAFILE", "-D", "10"},
		status: checkers.OK, message: `^SMTP OK: .*certificate expires in 10 days \| .* cert_days=10;10:;0: chain_days=10;10:;0:\n$`, proceeds: true},
	{name: "-D 11: W one day over is WARNING",
		cert: expiring10Cert, args: []string{"--cafile", "CAFILE", "-D", "11"},
		status:   checkers.WARNING,
		message:  `^SMTP WARNING: certificate expires in 10 days \(NotAfter [^)]+\), fewer than 11 -- .*certificate expires in 10 days \| .* cert_days=10;11:;0: chain_days=10;11:;0:\n$`,
		proceeds: true},
	{name: "-D 20,9: C below the days left is WARNING",
		cert: expiring10Cert, args: []string{"--cafile", "CAFILE", "-D", "20,9"},
		status: checkers.WARNING, message: `^SMTP WARNING: certificate expires in 10 days \(NotAfter [^)]+\), fewer than 20 -- .* cert_days=10;20:;9: chain_days=10;20:;9:\n$`, proceeds: true},
	{name: "-D 20,10: C exactly at the days left is WARNING",
		cert: expiring10Cert, args: []string{"--cafile", "CAFILE", "-D", "20,10"},
		status: checkers.WARNING, message: `^SMTP WARNING: certificate expires in 10 days .*, fewer than 20 -- .* cert_days=10;20:;10: chain_days=10;20:;10:\n$`, proceeds: true},
	{name: "-D 20,11: C one day over is CRITICAL",
		cert: expiring10Cert, args: []string{"--cafile", "CAFILE", "--certificate", "20,11"},
		status: checkers.CRITICAL, message: `^SMTP CRITICAL: certificate expires in 10 days \(NotAfter [^)]+\), fewer than 11 -- .* cert_days=10;20:;11: chain_days=10;20:;11:\n$`, proceeds: true},
	{name: "-D with -k: WARNING",
		cert: expiring10Cert, args: []string{"-k", "-D", "11"},
		status: checkers.WARNING, message: `^SMTP WARNING: certificate expires in 10 days `, proceeds: true},
	{name: "-D with -k: CRITICAL",
		cert: expiring10Cert, args: []string{"-k", "-D", "20,11"},
		status: checkers.CRITICAL, message: `^SMTP CRITICAL: certificate expires in 10 days `, proceeds: true},
	{name: "-D with -k: OK at the boundary",
		cert: expiring10Cert, args: []string{"-k", "-D", "10,10"},
		status: checkers.OK, message: `^SMTP OK: .*certificate expires in 10 days \|`, proceeds: true},
	{name: "-D with a wrong name: both reported, the name first",
		cert: func(c *smtptest.Certs, _ testing.TB) tls.Certificate { return c.WrongName }, host: "localhost",
		args:   []string{"--cafile", "CAFILE", "-D", "400"},
		status: checkers.CRITICAL, message: `^SMTP CRITICAL: certificate is issued for wrong\.example, not localhost .* -- certificate expires in 364 days .*fewer than 400 -- `,
		sni: "localhost"},

	// IPv6 literal hosts, in every mode (skipped without an IPv6 loopback).
	{name: "::1 verified against the IP SAN",
		cert: validCert, listen: "::1", args: []string{"--cafile", "CAFILE"},
		status: checkers.OK, message: `^SMTP OK: .+` + tlsOKSummary, proceeds: true},
	{name: "::1 in brackets",
		cert: validCert, listen: "::1", host: "[::1]", args: []string{"--cafile", "CAFILE", "-6"},
		status: checkers.OK, message: `^SMTP OK: .+` + tlsOKSummary, proceeds: true},
	{name: "::1 with a wrong name",
		cert: wrongNameCert, listen: "::1", args: []string{"--cafile", "CAFILE"},
		status: checkers.CRITICAL, message: `^SMTP CRITICAL: certificate is issued for wrong\.example, not ::1 `},
	{name: "::1 with --sni=NAME",
		cert: wrongNameCert, listen: "::1", args: []string{"--cafile", "CAFILE", "--sni=wrong.example"},
		status: checkers.OK, message: `^SMTP OK: `, sni: "wrong.example", proceeds: true},
	{name: "::1 with -k",
		cert: selfSignedCert, listen: "::1", args: []string{"-k"},
		status: checkers.OK, message: `^SMTP OK: `, proceeds: true},
}

func TestTLSVerification(t *testing.T) {
	t.Parallel()
	certs := smtptest.NewCerts(t)
	transports := []struct {
		name     string
		flag     string
		implicit bool
		goSMTP   bool
	}{
		{"mock/smtps", "-s", true, false},
		{"mock/starttls", "-S", false, false},
		{"go-smtp/smtps", "--smtps", true, true},
		{"go-smtp/starttls", "--starttls", false, true},
	}
	for _, tr := range transports {
		for _, vc := range verifyCases {
			t.Run(tr.name+"/"+vc.name, func(t *testing.T) {
				t.Parallel()
				listen := vc.listen
				if listen == "" {
					listen = "127.0.0.1"
				}
				host := vc.host
				if host == "" {
					host = listen
				}
				cert := vc.cert(certs, t)
				c := smtptest.Case{Args: withWords(vc.args, "CAFILE", certs.CAFile), Status: vc.status, Output: vc.message}
				var out string
				var seen []string
				if tr.goSMTP {
					g := smtptest.StartGoSMTP(t, listen, cert, tr.implicit)
					c.Args = append([]string{"-H", host, "-p", g.Port, tr.flag}, c.Args...)
					out = expect(t, c)
					seen = g.SNI.Names()
				} else {
					var sc []string
					switch {
					case tr.implicit && vc.proceeds:
						sc = smtptest.Script("TLS", smtptest.Greeting(), smtptest.Tail())
					case tr.implicit:
						sc = smtptest.Script("TLS", "HANG")
					case vc.proceeds:
						sc = smtptest.Script(smtptest.STARTTLS(), smtptest.EHLOAgain(), smtptest.Tail())
					default:
						sc = smtptest.Script(smtptest.STARTTLS(), "HANG")
					}
					m := smtptest.ServeTLS(t, smtptest.ListenLoopback(t, listen), smtptest.ServerTLS(cert), sc)
					c.Args = append([]string{"-H", host, "-p", m.Port(), tr.flag}, c.Args...)
					out = expect(t, c)
					m.AssertDone(t, out)
					seen = []string{m.SNI()}
				}
				if len(seen) != 1 || seen[0] != vc.sni {
					t.Errorf("server saw SNI %q, want [%q]", seen, vc.sni)
				}
				// The verdict on the certificate comes right after the
				// handshake: a failure ends the conversation there.
				if proceeded := strings.Contains(out, " mail="); proceeded != vc.proceeds {
					t.Errorf("conversation reached MAIL: %v, want %v\noutput: %s", proceeded, vc.proceeds, out)
				}
			})
		}
	}
}

// cramMD5Line is the client's answer to challenge, base64-encoded.
func cramMD5Line(user, secret, challenge string) string {
	mac := hmac.New(md5.New, []byte(secret))
	mac.Write([]byte(challenge))
	return base64.StdEncoding.EncodeToString([]byte(user + " " + hex.EncodeToString(mac.Sum(nil))))
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// TestTLSMock covers what only a scripted server can do: exact replies,
// refusals, garbage, hangs, and the AUTH exchange byte for byte.
func TestTLSMock(t *testing.T) {
	t.Parallel()
	certs := smtptest.NewCerts(t)
	auth := []string{"-A", "PLAIN", "-U", "user", "-P", "secret"}
	const challenge = "<1896.697170952@postoffice.example.net>"
	authPlain := []string{"C: AUTH PLAIN " + regexp.QuoteMeta(b64("\x00user\x00secret")), "S: 235 2.7.0 Authentication successful"}
	authLogin := []string{"C: AUTH LOGIN", "S: 334 " + b64("Username:"), "C: " + regexp.QuoteMeta(b64("user")),
		"S: 334 " + b64("Password:"), "C: " + regexp.QuoteMeta(b64("secret")), "S: 235 2.7.0 Authentication successful"}
	authCRAM := []string{"C: AUTH CRAM-MD5", "S: 334 " + b64(challenge), "C: " + regexp.QuoteMeta(cramMD5Line("user", "secret", challenge)),
		"S: 235 2.7.0 Authentication successful"}
	ehloAuth := []string{"C: EHLO .+", "S: 250-mx.example.test", "S: 250 AUTH PLAIN LOGIN CRAM-MD5"}
	greetAuth := []string{"S: 220 mx.example.test ESMTP ready", "C: EHLO .+", "S: 250-mx.example.test", "S: 250 AUTH PLAIN LOGIN CRAM-MD5"}
	quit := smtptest.Quit()
	ca := []string{"--cafile", certs.CAFile}

	cases := []struct {
		name     string
		script   []string
		args     []string
		status   checkers.Status
		message  string
		scriptOK bool
		tls12    bool
		tls11    bool // the server speaks nothing newer than TLS 1.1
	}{
		{name: "SMTPS perfdata has tls= after connect and cert_days last, no starttls=",
			script: smtptest.Script("TLS", smtptest.Greeting(), smtptest.Tail()), args: append([]string{"-s"}, ca...),
			status: checkers.OK, scriptOK: true,
			message: `^SMTP OK: \d+\.\d{3}s response time, mx\.example\.test ESMTP ready` + tlsOKSummary +
				`time=\S+ connect=\d+\.\d{6}s;;;0 tls=\d+\.\d{6}s;;;0 banner=\S+ ehlo=\S+ mail=\S+ rset=\S+ quit=\S+ cert_days=364 chain_days=364\n$`},
		{name: "STARTTLS perfdata has tls= after starttls=, in conversation order",
			script: smtptest.Script(smtptest.STARTTLS(), smtptest.EHLOAgain(), smtptest.Tail()), args: append([]string{"-S"}, ca...),
			status: checkers.OK, scriptOK: true,
			message: `^SMTP OK: .+` + tlsOKSummary +
				`time=\S+ connect=\S+ banner=\S+ ehlo=\S+ starttls=\d+\.\d{6}s;;;0 tls=\d+\.\d{6}s;;;0 mail=\S+ rset=\S+ quit=\S+ cert_days=364 chain_days=364\n$`},
		{name: "TLS 1.2 names its version and cipher",
			script: smtptest.Script("TLS", smtptest.Greeting(), smtptest.Tail()), args: append([]string{"-s"}, ca...), tls12: true,
			status: checkers.OK, scriptOK: true,
			message: `^SMTP OK: .+, TLS 1\.2, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, certificate expires in 364 days \| `},
		{name: "a server stuck at TLS 1.1 fails the handshake",
			script: smtptest.Script("TLS", smtptest.Greeting(), smtptest.Tail()), args: append([]string{"-s"}, ca...), tls11: true,
			status:  checkers.CRITICAL,
			message: `^SMTP CRITICAL: TLS handshake failed: remote error: tls: protocol version not supported -- `},
		{name: "-v transcript shows the certificate and the second EHLO",
			script: smtptest.Script(smtptest.STARTTLS(), smtptest.EHLOAgain(), smtptest.Tail()), args: append([]string{"-S", "-v"}, ca...),
			status: checkers.OK, scriptOK: true,
			message: `\nC: STARTTLS\nS: 220 2\.0\.0 Ready to start TLS\n\* TLS: TLS 1\.3, \S+, certificate subject "CN=localhost", issuer "CN=check-smtp test CA", NotAfter \S+\nC: EHLO `},
		{name: "STARTTLS not offered",
			script: smtptest.Script(smtptest.Greeting(), quit), args: append([]string{"-S"}, ca...),
			status: checkers.CRITICAL, scriptOK: true,
			message: `^SMTP CRITICAL: STARTTLS not offered by the server \(EHLO reply: 250-mx\.example\.test .*8BITMIME\) -- `},
		{name: "STARTTLS refused quotes the reply",
			script: smtptest.Script("S: 220 mx ESMTP", "C: EHLO .+", "S: 250-mx", "S: 250 STARTTLS", "C: STARTTLS",
				"S: 454 4.7.0 TLS not available due to temporary reason", quit),
			args: append([]string{"-S"}, ca...), status: checkers.CRITICAL, scriptOK: true,
			message: `^SMTP CRITICAL: STARTTLS refused: 454 4\.7\.0 TLS not available due to temporary reason -- `},
		{name: "cleartext after the STARTTLS reply is refused",
			script: smtptest.Script("S: 220 mx ESMTP", "C: EHLO .+", "S: 250-mx", "S: 250 STARTTLS", "C: STARTTLS",
				`RAW: 220 go ahead\r\n250-mx\r\n250 AUTH PLAIN\r\n`, "HANG"),
			args: append(append([]string{"-S"}, ca...), auth...), status: checkers.CRITICAL,
			message: `^SMTP CRITICAL: (server sent data after its STARTTLS reply|TLS handshake failed)`},
		{name: "SMTPS handshake garbage",
			script: smtptest.Script(`RAW: 220 mx.example.test ESMTP plain text here\r\n`, "HANG"), args: append([]string{"-s"}, ca...),
			status: checkers.CRITICAL, scriptOK: true,
			message: `^SMTP CRITICAL: TLS handshake failed: first record does not look like a TLS handshake \(the server answered in plaintext: a STARTTLS port\? use -S\) -- `},
		{name: "STARTTLS handshake garbage",
			script: smtptest.Script("S: 220 mx ESMTP", "C: EHLO .+", "S: 250-mx", "S: 250 STARTTLS", "C: STARTTLS", "S: 220 go ahead",
				"READ", `RAW: 500 what is this\r\n`, "HANG"),
			args: append([]string{"-S"}, ca...), status: checkers.CRITICAL, scriptOK: true,
			message: `^SMTP CRITICAL: TLS handshake failed: first record does not look like a TLS handshake -- `},
		{name: "SMTPS server answers the ClientHello with text",
			script: smtptest.Script("READ", `RAW: 500 5.5.1 unrecognized command\r\n`, "HANG"), args: append([]string{"-s"}, ca...),
			status: checkers.CRITICAL, scriptOK: true,
			message: `^SMTP CRITICAL: TLS handshake failed: first record does not look like a TLS handshake \(the server answered in plaintext: a STARTTLS port\? use -S\) -- .* \| time=\S+ connect=\S+ tls=\S+\n$`},
		{name: "SMTPS server closes during the handshake",
			script: smtptest.Script("READ", "CLOSE"), args: append([]string{"-s"}, ca...),
			status: checkers.CRITICAL, scriptOK: true,
			message: `^SMTP CRITICAL: TLS handshake failed: EOF -- `},
		{name: "SMTPS server hangs mid-handshake: ends by the deadline at step tls",
			script: smtptest.Script("HANG"), args: append([]string{"-s", "-t", "1"}, ca...),
			status: checkers.CRITICAL, scriptOK: true,
			message: `^SMTP CRITICAL: timeout after 1s at step tls \(TLS handshake\) -- .* \| time=\S+ connect=\S+ tls=\S+\n$`},
		{name: "STARTTLS server hangs mid-handshake: ends by the deadline at step tls",
			script: smtptest.Script("S: 220 mx ESMTP", "C: EHLO .+", "S: 250-mx", "S: 250 STARTTLS", "C: STARTTLS", "S: 220 go ahead", "HANG"),
			args:   append([]string{"-S", "-t", "0.5:UNKNOWN"}, ca...), status: checkers.UNKNOWN, scriptOK: true,
			message: `^SMTP UNKNOWN: timeout after 0\.5s at step tls \(TLS handshake\) -- `},
		{name: "SMTPS server hangs after the handshake: step banner",
			script: smtptest.Script("TLS", "HANG"), args: append([]string{"-s", "-t", "0.5"}, ca...),
			status: checkers.CRITICAL, scriptOK: true,
			message: `^SMTP CRITICAL: timeout after 0\.5s at step banner `},

		// AUTH after STARTTLS and over SMTPS; payloads checked by the script.
		{name: "AUTH PLAIN after STARTTLS",
			script: smtptest.Script(smtptest.STARTTLS(), ehloAuth, authPlain, smtptest.Tail()), args: append(append([]string{"-S"}, ca...), auth...),
			status: checkers.OK, scriptOK: true, message: `^SMTP OK: .* auth=\S+ mail=`},
		{name: "AUTH LOGIN after STARTTLS",
			script: smtptest.Script(smtptest.STARTTLS(), ehloAuth, authLogin, smtptest.Tail()),
			args:   []string{"-S", "--cafile", certs.CAFile, "-A", "LOGIN", "-U", "user", "-P", "secret"},
			status: checkers.OK, scriptOK: true, message: `^SMTP OK: .* auth=\S+ mail=`},
		{name: "AUTH CRAM-MD5 after STARTTLS",
			script: smtptest.Script(smtptest.STARTTLS(), ehloAuth, authCRAM, smtptest.Tail()),
			args:   []string{"-S", "--cafile", certs.CAFile, "-A", "CRAM-MD5", "-U", "user", "-P", "secret"},
			status: checkers.OK, scriptOK: true, message: `^SMTP OK: .* auth=\S+ mail=`},
		{name: "AUTH PLAIN over SMTPS",
			script: smtptest.Script("TLS", greetAuth, authPlain, smtptest.Tail()), args: append(append([]string{"-s"}, ca...), auth...),
			status: checkers.OK, scriptOK: true, message: `^SMTP OK: .* tls=\S+ banner=\S+ ehlo=\S+ auth=\S+ mail=`},
		{name: "AUTH LOGIN over SMTPS",
			script: smtptest.Script("TLS", greetAuth, authLogin, smtptest.Tail()),
			args:   []string{"--ssl", "--cafile", certs.CAFile, "-A", "LOGIN", "-U", "user", "-P", "secret", "-v"},
			status: checkers.OK, scriptOK: true, message: `^SMTP OK: (?s:.*)\nC: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: <redacted>\n`},
		{name: "AUTH CRAM-MD5 over SMTPS",
			script: smtptest.Script("TLS", greetAuth, authCRAM, smtptest.Tail()),
			args:   []string{"--tls", "--cafile", certs.CAFile, "-A", "CRAM-MD5", "-U", "user", "-P", "secret"},
			status: checkers.OK, scriptOK: true, message: `^SMTP OK: .* auth=\S+ mail=`},
		{name: "AUTH refused over SMTPS",
			script: smtptest.Script("TLS", greetAuth, "C: AUTH PLAIN .+", "S: 535 5.7.8 Authentication credentials invalid", quit),
			args:   append(append([]string{"-s"}, ca...), auth...), status: checkers.CRITICAL, scriptOK: true,
			message: `^SMTP CRITICAL: AUTH PLAIN refused at step auth: 535 5\.7\.8 Authentication credentials invalid -- `},

		// With -S, AUTH waits for TLS, and the post-TLS EHLO decides.
		{name: "AUTH offered only after STARTTLS is used",
			script: smtptest.Script(smtptest.STARTTLS(), ehloAuth, authPlain, smtptest.Tail()), args: append(append([]string{"-S"}, ca...), auth...),
			status: checkers.OK, scriptOK: true, message: `^SMTP OK: `},
		{name: "AUTH offered only before STARTTLS is not offered",
			script: smtptest.Script("S: 220 mx ESMTP", "C: EHLO .+", "S: 250-mx", "S: 250-AUTH PLAIN LOGIN", "S: 250 STARTTLS",
				"C: STARTTLS", "S: 220 go ahead", "TLS", smtptest.EHLOAgain(), quit),
			args: append(append([]string{"-S"}, ca...), auth...), status: checkers.CRITICAL, scriptOK: true,
			message: `^SMTP CRITICAL: AUTH PLAIN not offered: the server offers no AUTH mechanism -- `},
		{name: "post-TLS EHLO offers other mechanisms: named",
			script: smtptest.Script(smtptest.STARTTLS(), "C: EHLO .+", "S: 250-mx", "S: 250 AUTH LOGIN", quit),
			args:   append(append([]string{"-S"}, ca...), auth...), status: checkers.CRITICAL, scriptOK: true,
			message: `^SMTP CRITICAL: AUTH PLAIN not offered: the server offers LOGIN -- `},
		{name: "certificate failure ends before AUTH",
			script: smtptest.Script("S: 220 mx ESMTP", "C: EHLO .+", "S: 250-mx", "S: 250-AUTH PLAIN", "S: 250 STARTTLS",
				"C: STARTTLS", "S: 220 go ahead", "TLS", "HANG"),
			args: append([]string{"-S"}, auth...), status: checkers.CRITICAL, scriptOK: true,
			message: `^SMTP CRITICAL: certificate signed by unknown authority `},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := smtptest.ServerTLS(certs.Valid)
			if tc.tls12 {
				cfg.MaxVersion = tls.VersionTLS12
				cfg.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}
			}
			if tc.tls11 {
				cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
			}
			expect(t, smtptest.Case{Script: tc.script, TLS: cfg, ScriptOK: tc.scriptOK,
				Args: tc.args, Absent: []string{"secret", b64("\x00user\x00secret")}, Status: tc.status, Output: tc.message})
		})
	}
}

// TestTLSGoSMTPAuth runs AUTH PLAIN and LOGIN against go-smtp, which offers
// AUTH only once TLS is up: with -S the post-TLS EHLO must drive it.
func TestTLSGoSMTPAuth(t *testing.T) {
	t.Parallel()
	certs := smtptest.NewCerts(t)
	for _, mode := range []string{"-s", "-S"} {
		for _, tc := range []struct {
			mech, password string
			status         checkers.Status
			message        string
		}{
			{"PLAIN", "secret", checkers.OK, `^SMTP OK: \d+\.\d{3}s response time, gosmtp\.example\.test ESMTP Service Ready` + tlsOKSummary + `.* auth=\S+ mail=`},
			{"LOGIN", "secret", checkers.OK, `^SMTP OK: .* auth=\S+ mail=`},
			{"PLAIN", "wrong", checkers.CRITICAL, `^SMTP CRITICAL: AUTH PLAIN refused at step auth: 535 5\.7\.8 Authentication credentials invalid -- `},
			{"LOGIN", "wrong", checkers.CRITICAL, `^SMTP CRITICAL: AUTH LOGIN refused at step auth: 535 5\.7\.8 Authentication credentials invalid -- `},
			{"CRAM-MD5", "secret", checkers.CRITICAL, `^SMTP CRITICAL: AUTH CRAM-MD5 not offered: the server offers PLAIN LOGIN -- `},
		} {
			t.Run(mode+"/"+tc.mech+"/"+tc.password, func(t *testing.T) {
				t.Parallel()
				g := smtptest.StartGoSMTP(t, "127.0.0.1", certs.Valid, mode == "-s")
				expect(t, smtptest.Case{Args: []string{"-H", "127.0.0.1", "-p", g.Port, mode, "--cafile", certs.CAFile,
					"-A", tc.mech, "-U", "user", "-P", tc.password, "-v"},
					Absent: []string{"secret", b64("\x00user\x00secret")}, Status: tc.status, Output: tc.message})
				wantAuthed := tc.status == checkers.OK
				if got := g.Backend.Authenticated(); (len(got) == 1) != wantAuthed {
					t.Errorf("server saw successful AUTH for %q, want success %v", got, wantAuthed)
				}
			})
		}
	}
}

// TestTLSOptions covers the option rules of TLS: they fail before any
// connection is made.
func TestTLSOptions(t *testing.T) {
	t.Parallel()
	certs := smtptest.NewCerts(t)
	for _, tc := range []struct {
		args    []string
		message string
	}{
		{[]string{"-H", "127.0.0.1", "-D", "30"}, `^SMTP UNKNOWN: -D needs -s or -S`},
		{[]string{"-H", "127.0.0.1", "--certificate", "30,14", "-k"}, `^SMTP UNKNOWN: -D needs -s or -S`},
		{[]string{"-H", "127.0.0.1", "-s", "-S"}, `^SMTP UNKNOWN: -s \(implicit TLS\) and -S \(STARTTLS\) cannot be used together`},
		{[]string{"-H", "127.0.0.1", "--tls", "--starttls"}, `cannot be used together`},
		{[]string{"-H", "127.0.0.1", "-s", "-D", "x"}, `^SMTP UNKNOWN: -D "x": want W\[,C\]`},
		{[]string{"-H", "127.0.0.1", "-s", "-D", "30,-1"}, `^SMTP UNKNOWN: -D "30,-1"`},
		{[]string{"-H", "127.0.0.1", "-s", "--cafile", "/nonexistent/ca.pem"}, `^SMTP UNKNOWN: cannot read --cafile: `},
		{[]string{"-H", "127.0.0.1", "-s", "--cafile", "CAFILE.missing"}, `^SMTP UNKNOWN: cannot read --cafile`},
		// Without TLS, AUTH to a non-loopback address is refused before
		// connecting (192.0.2.1 is TEST-NET-1: never contacted).
		{[]string{"-H", "192.0.2.1", "-A", "PLAIN", "-U", "u", "-P", "p"}, `^SMTP UNKNOWN: refusing to send AUTH in cleartext to 192\.0\.2\.1: use -s or -S`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			expect(t, smtptest.Case{Args: withWords(tc.args, "CAFILE", certs.CAFile), Status: checkers.UNKNOWN, Output: tc.message})
		})
	}

	// A CA file without a certificate is UNKNOWN too.
	t.Run("cafile without PEM", func(t *testing.T) {
		t.Parallel()
		expect(t, smtptest.Case{
			Args:   []string{"-H", "127.0.0.1", "-s", "--cafile", "/dev/null"},
			Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: --cafile /dev/null holds no PEM certificate`,
		})
	})

	// The cleartext refusal does not apply once AUTH goes over TLS; the
	// port defaults follow the mode.
	for _, tc := range []struct {
		args []string
		port int
		sni  string
	}{
		{[]string{"-H", "192.0.2.1", "-S", "-A", "PLAIN", "-U", "u", "-P", "p"}, 25, "192.0.2.1"},
		{[]string{"-H", "192.0.2.1", "-s", "-A", "PLAIN", "-U", "u", "-P", "p"}, 465, "192.0.2.1"},
		{[]string{"-H", "mail.example.test", "--ssl", "-p", "2465"}, 2465, "mail.example.test"},
		{[]string{"-H", "mail.example.test", "-S", "--sni=mx.example.test"}, 25, "mx.example.test"},
		{[]string{"-H", "mail.example.test", "-S", "--sni"}, 25, "mail.example.test"},
		{[]string{"-H", "[::1]", "-s"}, 465, "::1"},
	} {
		cfg, err := parseArgs(tc.args, processEnviron())
		if err != nil {
			t.Errorf("parseArgs(%q): %v", tc.args, err)
			continue
		}
		if cfg.target.Port != tc.port || cfg.conv.TLS.ServerName != tc.sni {
			t.Errorf("parseArgs(%q): port %d, server name %q; want %d, %q", tc.args, cfg.target.Port, cfg.conv.TLS.ServerName, tc.port, tc.sni)
		}
	}
}

// TestTLSUnixSocket: over a unix socket the server name is "localhost",
// sent as SNI and verified, with either kind of TLS.
func TestTLSUnixSocket(t *testing.T) {
	t.Parallel()
	certs := smtptest.NewCerts(t)
	for _, mode := range []string{"-s", "-S"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			ln, path := smtptest.UnixListener(t)
			sc := smtptest.Script("TLS", smtptest.Greeting(), smtptest.Tail())
			if mode == "-S" {
				sc = smtptest.Script(smtptest.STARTTLS(), smtptest.EHLOAgain(), smtptest.Tail())
			}
			m := smtptest.ServeTLS(t, ln, smtptest.ServerTLS(certs.Valid), sc)
			out := expect(t, smtptest.Case{Args: []string{"-H", path, mode, "--cafile", certs.CAFile},
				Status: checkers.OK, Output: `^SMTP OK: .+` + tlsOKSummary})
			m.AssertDone(t, out)
			if m.SNI() != "localhost" {
				t.Errorf("server saw SNI %q, want localhost", m.SNI())
			}
		})
	}
}
