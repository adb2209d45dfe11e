package checksmtp

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/mackerelio/checkers"
)

// TLS over real loopback sockets: implicit TLS (-s) and STARTTLS (-S), each
// against the scripted mock and against go-smtp, an independent SMTP server
// running in-process.

// Script fragments for TLS conversations with the mock.
var (
	// scriptSTARTTLS reaches the handshake of an upgrade.
	scriptSTARTTLS = []string{"S: 220 mx.example.test ESMTP ready", "C: EHLO .+", "S: 250-mx.example.test",
		"S: 250 STARTTLS", "C: STARTTLS", "S: 220 2.0.0 Ready to start TLS", "TLS"}
	scriptEHLOAgain = []string{"C: EHLO .+", "S: 250-mx.example.test", "S: 250 8BITMIME"}
)

// serveTLSMock is serveMock with the configuration of the "TLS" action set
// before the server goroutine can read it.
func serveTLSMock(t testing.TB, ln net.Listener, cfg *tls.Config, script []string) *mockServer {
	t.Helper()
	m := &mockServer{t: t, ln: ln, script: script, tlsConfig: cfg, finished: make(chan struct{})}
	t.Cleanup(func() { ln.Close() })
	go m.serve()
	return m
}

// listenLoopback listens on 127.0.0.1 or ::1; it skips the test when the
// machine has no IPv6 loopback.
func listenLoopback(t testing.TB, ip string) net.Listener {
	t.Helper()
	network := "tcp4"
	if strings.Contains(ip, ":") {
		network = "tcp6"
	}
	ln, err := net.Listen(network, net.JoinHostPort(ip, "0"))
	if err != nil {
		if network == "tcp6" {
			t.Skipf("no IPv6 loopback: %v", err)
		}
		t.Fatal(err)
	}
	return ln
}

func portOf(ln net.Listener) string {
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	return p
}

// sniRecorder wraps a server configuration to remember the server name
// each client asked for ("" when it sent none).
type sniRecorder struct {
	mu   sync.Mutex
	seen []string
}

func (r *sniRecorder) wrap(cfg *tls.Config) *tls.Config {
	cfg = cfg.Clone()
	cfg.GetConfigForClient = func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		r.mu.Lock()
		r.seen = append(r.seen, h.ServerName)
		r.mu.Unlock()
		return nil, nil
	}
	return cfg
}

func (r *sniRecorder) names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

// goSMTPBackend accepts everything and offers AUTH PLAIN and LOGIN for one
// user (go-smtp itself offers AUTH only over TLS).
type goSMTPBackend struct {
	user, password string
	mu             sync.Mutex
	authed         []string // users that authenticated
}

func (b *goSMTPBackend) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &goSMTPSession{b: b}, nil
}

func (b *goSMTPBackend) authedUsers() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.authed...)
}

type goSMTPSession struct{ b *goSMTPBackend }

func (s *goSMTPSession) Reset()                               {}
func (s *goSMTPSession) Logout() error                        { return nil }
func (s *goSMTPSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *goSMTPSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *goSMTPSession) Data(r io.Reader) error               { _, err := io.Copy(io.Discard, r); return err }
func (s *goSMTPSession) AuthMechanisms() []string             { return []string{sasl.Plain, sasl.Login} }
func (s *goSMTPSession) check(identity, user, password string) error {
	if identity != "" && identity != user || user != s.b.user || password != s.b.password {
		return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}
	}
	s.b.mu.Lock()
	s.b.authed = append(s.b.authed, user)
	s.b.mu.Unlock()
	return nil
}

func (s *goSMTPSession) Auth(mech string) (sasl.Server, error) {
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(s.check), nil
	case sasl.Login:
		return &plainLoginServer{check: s.check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

// startGoSMTP serves go-smtp with cert on ip (127.0.0.1 or ::1), with
// implicit TLS or offering STARTTLS.
func startGoSMTP(t testing.TB, ip string, cert tls.Certificate, implicit bool) (string, *goSMTPBackend, *sniRecorder) {
	t.Helper()
	be := &goSMTPBackend{user: "user", password: "secret"}
	sni := &sniRecorder{}
	cfg := sni.wrap(certTestServerTLS(cert))
	srv := smtp.NewServer(be)
	srv.Domain = "gosmtp.example.test"
	srv.ErrorLog = log.New(io.Discard, "", 0) // client aborts are expected here
	srv.TLSConfig = cfg
	ln := listenLoopback(t, ip)
	var implicitTLS *tls.Config
	if implicit {
		implicitTLS = cfg
	}
	serveGoSMTP(t, srv, ln, implicitTLS)
	return portOf(ln), be, sni
}

// tlsRun runs the check with "CAFILE" in args replaced by the CA file, and
// checks status and output.
func tlsRun(t *testing.T, certs *testCerts, args []string, status checkers.Status, message string) string {
	t.Helper()
	args = append([]string(nil), args...)
	for i, a := range args {
		args[i] = strings.ReplaceAll(a, "CAFILE", certs.caFile)
	}
	ckr := run(args)
	out := format(ckr)
	if ckr.Status != status {
		t.Errorf("run(%q): status %v, want %v\noutput: %s", args, ckr.Status, status, out)
	}
	if !regexp.MustCompile(message).MatchString(out) {
		t.Errorf("run(%q): output does not match %q:\n%s", args, message, out)
	}
	return out
}

// verifyCase is one certificate verification outcome, run over every
// transport: the mock and go-smtp, each with -s and with -S.
type verifyCase struct {
	name     string
	cert     func(c *testCerts, t testing.TB) tls.Certificate
	listen   string   // 127.0.0.1 (default) or ::1
	host     string   // -H; default: the listen address
	args     []string // after -H and -p; "CAFILE" is the CA file
	status   checkers.Status
	message  string // regexp over the whole output
	sni      string // what the server must have seen ("" = no SNI)
	proceeds bool   // the conversation goes on after the handshake
}

var (
	validCert      = func(c *testCerts, _ testing.TB) tls.Certificate { return c.valid }
	wrongNameCert  = func(c *testCerts, _ testing.TB) tls.Certificate { return c.wrongName }
	expiredCert    = func(c *testCerts, _ testing.TB) tls.Certificate { return c.expired }
	selfSignedCert = func(c *testCerts, _ testing.TB) tls.Certificate { return c.selfSigned }
	expiring10Cert = func(c *testCerts, t testing.TB) tls.Certificate { return c.expiringIn(t, 10) }
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
		cert: func(c *testCerts, _ testing.TB) tls.Certificate { return c.chained }, host: "localhost", args: []string{"--cafile", "CAFILE"},
		status: checkers.OK, message: `^SMTP OK: .+` + tlsOKSummary, sni: "localhost", proceeds: true},
	{name: "a long name list is cut in the message",
		cert: func(c *testCerts, t testing.TB) tls.Certificate {
			names := []string{"a.example", "b.example", "c.example", "d.example", "e.example", "f.example", "g.example"}
			return c.leaf(t, "a.example", names, nil, time.Now().Add(-certTestDay), time.Now().Add(365*certTestDay), false)
		},
		host: "localhost", args: []string{"--cafile", "CAFILE"}, sni: "localhost",
		status:  checkers.CRITICAL,
		message: `^SMTP CRITICAL: certificate is issued for a\.example, b\.example, c\.example, d\.example, e\.example and 2 more, not localhost \(use --sni=NAME or -k\) -- `},
	{name: "a name only in the Common Name is not verified",
		cert: func(c *testCerts, t testing.TB) tls.Certificate {
			return c.leaf(t, "localhost", nil, nil, time.Now().Add(-certTestDay), time.Now().Add(365*certTestDay), false)
		},
		host: "localhost", args: []string{"--cafile", "CAFILE"}, sni: "localhost",
		status:  checkers.CRITICAL,
		message: `^SMTP CRITICAL: certificate has no subject alternative names \(subject "CN=localhost", its Common Name is not a name to verify\), so not valid for localhost \(use -k\) -- `},
	{name: "not yet valid",
		cert: func(c *testCerts, _ testing.TB) tls.Certificate { return c.notYetValid }, args: []string{"--cafile", "CAFILE"},
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
		cert: func(c *testCerts, _ testing.TB) tls.Certificate { return c.wrongName }, host: "localhost",
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
	certs := newTestCerts(t)
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
				var port string
				var seen func() []string
				var m *mockServer
				if tr.goSMTP {
					var rec *sniRecorder
					port, _, rec = startGoSMTP(t, listen, cert, tr.implicit)
					seen = rec.names
				} else {
					var sc []string
					switch {
					case tr.implicit && vc.proceeds:
						sc = script("TLS", scriptGreeting, scriptTail)
					case tr.implicit:
						sc = script("TLS", "HANG")
					case vc.proceeds:
						sc = script(scriptSTARTTLS, scriptEHLOAgain, scriptTail)
					default:
						sc = script(scriptSTARTTLS, "HANG")
					}
					m = serveTLSMock(t, listenLoopback(t, listen), certTestServerTLS(cert), sc)
					port = m.port()
					seen = func() []string {
						m.mu.Lock()
						defer m.mu.Unlock()
						return []string{m.sni}
					}
				}
				args := append([]string{"-H", host, "-p", port, tr.flag}, vc.args...)
				out := tlsRun(t, certs, args, vc.status, vc.message)
				if m != nil {
					if probs := m.done(); len(probs) > 0 {
						t.Errorf("server script: %v\noutput: %s", probs, out)
					}
				}
				if got := seen(); len(got) != 1 || got[0] != vc.sni {
					t.Errorf("server saw SNI %q, want [%q]", got, vc.sni)
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
	certs := newTestCerts(t)
	auth := []string{"-A", "PLAIN", "-U", "user", "-P", "secret"}
	const challenge = "<1896.697170952@postoffice.example.net>"
	authPlain := []string{"C: AUTH PLAIN " + regexp.QuoteMeta(b64("\x00user\x00secret")), "S: 235 2.7.0 Authentication successful"}
	authLogin := []string{"C: AUTH LOGIN", "S: 334 " + b64("Username:"), "C: " + regexp.QuoteMeta(b64("user")),
		"S: 334 " + b64("Password:"), "C: " + regexp.QuoteMeta(b64("secret")), "S: 235 2.7.0 Authentication successful"}
	authCRAM := []string{"C: AUTH CRAM-MD5", "S: 334 " + b64(challenge), "C: " + regexp.QuoteMeta(cramMD5Line("user", "secret", challenge)),
		"S: 235 2.7.0 Authentication successful"}
	ehloAuth := []string{"C: EHLO .+", "S: 250-mx.example.test", "S: 250 AUTH PLAIN LOGIN CRAM-MD5"}
	greetAuth := []string{"S: 220 mx.example.test ESMTP ready", "C: EHLO .+", "S: 250-mx.example.test", "S: 250 AUTH PLAIN LOGIN CRAM-MD5"}
	quit := []string{"C: QUIT", "S: 221 2.0.0 Bye"}
	ca := []string{"--cafile", "CAFILE"}

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
			script: script("TLS", scriptGreeting, scriptTail), args: append([]string{"-s"}, ca...),
			status: checkers.OK, scriptOK: true,
			message: `^SMTP OK: \d+\.\d{3}s response time, mx\.example\.test ESMTP ready` + tlsOKSummary +
				`time=\S+ connect=\d+\.\d{6}s;;;0 tls=\d+\.\d{6}s;;;0 banner=\S+ ehlo=\S+ mail=\S+ rset=\S+ quit=\S+ cert_days=364 chain_days=364\n$`},
		{name: "STARTTLS perfdata has tls= after starttls=, in conversation order",
			script: script(scriptSTARTTLS, scriptEHLOAgain, scriptTail), args: append([]string{"-S"}, ca...),
			status: checkers.OK, scriptOK: true,
			message: `^SMTP OK: .+` + tlsOKSummary +
				`time=\S+ connect=\S+ banner=\S+ ehlo=\S+ starttls=\d+\.\d{6}s;;;0 tls=\d+\.\d{6}s;;;0 mail=\S+ rset=\S+ quit=\S+ cert_days=364 chain_days=364\n$`},
		{name: "TLS 1.2 names its version and cipher",
			script: script("TLS", scriptGreeting, scriptTail), args: append([]string{"-s"}, ca...), tls12: true,
			status: checkers.OK, scriptOK: true,
			message: `^SMTP OK: .+, TLS 1\.2, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, certificate expires in 364 days \| `},
		{name: "a server stuck at TLS 1.1 fails the handshake",
			script: script("TLS", scriptGreeting, scriptTail), args: append([]string{"-s"}, ca...), tls11: true,
			status:  checkers.CRITICAL,
			message: `^SMTP CRITICAL: TLS handshake failed: remote error: tls: protocol version not supported -- `},
		{name: "-v transcript shows the certificate and the second EHLO",
			script: script(scriptSTARTTLS, scriptEHLOAgain, scriptTail), args: append([]string{"-S", "-v"}, ca...),
			status: checkers.OK, scriptOK: true,
			message: `\nC: STARTTLS\nS: 220 2\.0\.0 Ready to start TLS\n\* TLS: TLS 1\.3, \S+, certificate subject "CN=localhost", issuer "CN=check-smtp test CA", NotAfter \S+\nC: EHLO `},
		{name: "STARTTLS not offered",
			script: script(scriptGreeting, quit), args: append([]string{"-S"}, ca...),
			status: checkers.CRITICAL, scriptOK: true,
			message: `^SMTP CRITICAL: STARTTLS not offered by the server \(EHLO reply: 250-mx\.example\.test .*8BITMIME\) -- `},
		{name: "STARTTLS refused quotes the reply",
			script: script("S: 220 mx ESMTP", "C: EHLO .+", "S: 250-mx", "S: 250 STARTTLS", "C: STARTTLS",
				"S: 454 4.7.0 TLS not available due to temporary reason", quit),
			args: append([]string{"-S"}, ca...), status: checkers.CRITICAL, scriptOK: true,
			message: `^SMTP CRITICAL: STARTTLS refused: 454 4\.7\.0 TLS not available due to temporary reason -- `},
		{name: "cleartext after the STARTTLS reply is refused",
			script: script("S: 220 mx ESMTP", "C: EHLO .+", "S: 250-mx", "S: 250 STARTTLS", "C: STARTTLS",
				`RAW: 220 go ahead\r\n250-mx\r\n250 AUTH PLAIN\r\n`, "HANG"),
			args: append(append([]string{"-S"}, ca...), auth...), status: checkers.CRITICAL,
			message: `^SMTP CRITICAL: (server sent data after its STARTTLS reply|TLS handshake failed)`},
		{name: "SMTPS handshake garbage",
			script: script(`RAW: 220 mx.example.test ESMTP plain text here\r\n`, "HANG"), args: append([]string{"-s"}, ca...),
			status: checkers.CRITICAL, scriptOK: true,
			message: `^SMTP CRITICAL: TLS handshake failed: first record does not look like a TLS handshake \(the server answered in plaintext: a STARTTLS port\? use -S\) -- `},
		{name: "STARTTLS handshake garbage",
			script: script("S: 220 mx ESMTP", "C: EHLO .+", "S: 250-mx", "S: 250 STARTTLS", "C: STARTTLS", "S: 220 go ahead",
				"READ", `RAW: 500 what is this\r\n`, "HANG"),
			args: append([]string{"-S"}, ca...), status: checkers.CRITICAL, scriptOK: true,
			message: `^SMTP CRITICAL: TLS handshake failed: first record does not look like a TLS handshake -- `},
		{name: "SMTPS server answers the ClientHello with text",
			script: script("READ", `RAW: 500 5.5.1 unrecognized command\r\n`, "HANG"), args: append([]string{"-s"}, ca...),
			status: checkers.CRITICAL, scriptOK: true,
			message: `^SMTP CRITICAL: TLS handshake failed: first record does not look like a TLS handshake \(the server answered in plaintext: a STARTTLS port\? use -S\) -- .* \| time=\S+ connect=\S+ tls=\S+\n$`},
		{name: "SMTPS server closes during the handshake",
			script: script("READ", "CLOSE"), args: append([]string{"-s"}, ca...),
			status: checkers.CRITICAL, scriptOK: true,
			message: `^SMTP CRITICAL: TLS handshake failed: EOF -- `},
		{name: "SMTPS server hangs mid-handshake: ends by the deadline at step tls",
			script: script("HANG"), args: append([]string{"-s", "-t", "1"}, ca...),
			status: checkers.CRITICAL, scriptOK: true,
			message: `^SMTP CRITICAL: timeout after 1s at step tls \(TLS handshake\) -- .* \| time=\S+ connect=\S+ tls=\S+\n$`},
		{name: "STARTTLS server hangs mid-handshake: ends by the deadline at step tls",
			script: script("S: 220 mx ESMTP", "C: EHLO .+", "S: 250-mx", "S: 250 STARTTLS", "C: STARTTLS", "S: 220 go ahead", "HANG"),
			args:   append([]string{"-S", "-t", "0.5:UNKNOWN"}, ca...), status: checkers.UNKNOWN, scriptOK: true,
			message: `^SMTP UNKNOWN: timeout after 0\.5s at step tls \(TLS handshake\) -- `},
		{name: "SMTPS server hangs after the handshake: step banner",
			script: script("TLS", "HANG"), args: append([]string{"-s", "-t", "0.5"}, ca...),
			status: checkers.CRITICAL, scriptOK: true,
			message: `^SMTP CRITICAL: timeout after 0\.5s at step banner `},

		// AUTH after STARTTLS and over SMTPS; payloads checked by the script.
		{name: "AUTH PLAIN after STARTTLS",
			script: script(scriptSTARTTLS, ehloAuth, authPlain, scriptTail), args: append(append([]string{"-S"}, ca...), auth...),
			status: checkers.OK, scriptOK: true, message: `^SMTP OK: .* auth=\S+ mail=`},
		{name: "AUTH LOGIN after STARTTLS",
			script: script(scriptSTARTTLS, ehloAuth, authLogin, scriptTail),
			args:   []string{"-S", "--cafile", "CAFILE", "-A", "LOGIN", "-U", "user", "-P", "secret"},
			status: checkers.OK, scriptOK: true, message: `^SMTP OK: .* auth=\S+ mail=`},
		{name: "AUTH CRAM-MD5 after STARTTLS",
			script: script(scriptSTARTTLS, ehloAuth, authCRAM, scriptTail),
			args:   []string{"-S", "--cafile", "CAFILE", "-A", "CRAM-MD5", "-U", "user", "-P", "secret"},
			status: checkers.OK, scriptOK: true, message: `^SMTP OK: .* auth=\S+ mail=`},
		{name: "AUTH PLAIN over SMTPS",
			script: script("TLS", greetAuth, authPlain, scriptTail), args: append(append([]string{"-s"}, ca...), auth...),
			status: checkers.OK, scriptOK: true, message: `^SMTP OK: .* tls=\S+ banner=\S+ ehlo=\S+ auth=\S+ mail=`},
		{name: "AUTH LOGIN over SMTPS",
			script: script("TLS", greetAuth, authLogin, scriptTail),
			args:   []string{"--ssl", "--cafile", "CAFILE", "-A", "LOGIN", "-U", "user", "-P", "secret", "-v"},
			status: checkers.OK, scriptOK: true, message: `^SMTP OK: (?s:.*)\nC: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: <redacted>\n`},
		{name: "AUTH CRAM-MD5 over SMTPS",
			script: script("TLS", greetAuth, authCRAM, scriptTail),
			args:   []string{"--tls", "--cafile", "CAFILE", "-A", "CRAM-MD5", "-U", "user", "-P", "secret"},
			status: checkers.OK, scriptOK: true, message: `^SMTP OK: .* auth=\S+ mail=`},
		{name: "AUTH refused over SMTPS",
			script: script("TLS", greetAuth, "C: AUTH PLAIN .+", "S: 535 5.7.8 Authentication credentials invalid", quit),
			args:   append(append([]string{"-s"}, ca...), auth...), status: checkers.CRITICAL, scriptOK: true,
			message: `^SMTP CRITICAL: AUTH PLAIN refused at step auth: 535 5\.7\.8 Authentication credentials invalid -- `},

		// With -S, AUTH waits for TLS, and the post-TLS EHLO decides.
		{name: "AUTH offered only after STARTTLS is used",
			script: script(scriptSTARTTLS, ehloAuth, authPlain, scriptTail), args: append(append([]string{"-S"}, ca...), auth...),
			status: checkers.OK, scriptOK: true, message: `^SMTP OK: `},
		{name: "AUTH offered only before STARTTLS is not offered",
			script: script("S: 220 mx ESMTP", "C: EHLO .+", "S: 250-mx", "S: 250-AUTH PLAIN LOGIN", "S: 250 STARTTLS",
				"C: STARTTLS", "S: 220 go ahead", "TLS", scriptEHLOAgain, quit),
			args: append(append([]string{"-S"}, ca...), auth...), status: checkers.CRITICAL, scriptOK: true,
			message: `^SMTP CRITICAL: AUTH PLAIN not offered: the server offers no AUTH mechanism -- `},
		{name: "post-TLS EHLO offers other mechanisms: named",
			script: script(scriptSTARTTLS, "C: EHLO .+", "S: 250-mx", "S: 250 AUTH LOGIN", quit),
			args:   append(append([]string{"-S"}, ca...), auth...), status: checkers.CRITICAL, scriptOK: true,
			message: `^SMTP CRITICAL: AUTH PLAIN not offered: the server offers LOGIN -- `},
		{name: "certificate failure ends before AUTH",
			script: script("S: 220 mx ESMTP", "C: EHLO .+", "S: 250-mx", "S: 250-AUTH PLAIN", "S: 250 STARTTLS",
				"C: STARTTLS", "S: 220 go ahead", "TLS", "HANG"),
			args: append([]string{"-S"}, auth...), status: checkers.CRITICAL, scriptOK: true,
			message: `^SMTP CRITICAL: certificate signed by unknown authority `},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := certTestServerTLS(certs.valid)
			if tc.tls12 {
				cfg.MaxVersion = tls.VersionTLS12
				cfg.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}
			}
			if tc.tls11 {
				cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
			}
			m := serveTLSMock(t, listenLoopback(t, "127.0.0.1"), cfg, tc.script)
			out := tlsRun(t, certs, append([]string{"-H", "127.0.0.1", "-p", m.port()}, tc.args...), tc.status, tc.message)
			if probs := m.done(); tc.scriptOK && len(probs) > 0 {
				t.Errorf("server script: %v\noutput: %s", probs, out)
			}
			if strings.Contains(out, "secret") || strings.Contains(out, b64("\x00user\x00secret")) {
				t.Errorf("a credential appears in the output:\n%s", out)
			}
		})
	}
}

// TestTLSGoSMTPAuth runs AUTH PLAIN and LOGIN against go-smtp, which offers
// AUTH only once TLS is up: with -S the post-TLS EHLO must drive it.
func TestTLSGoSMTPAuth(t *testing.T) {
	t.Parallel()
	certs := newTestCerts(t)
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
				port, be, _ := startGoSMTP(t, "127.0.0.1", certs.valid, mode == "-s")
				out := tlsRun(t, certs, []string{"-H", "127.0.0.1", "-p", port, mode, "--cafile", "CAFILE",
					"-A", tc.mech, "-U", "user", "-P", tc.password, "-v"}, tc.status, tc.message)
				wantAuthed := tc.status == checkers.OK
				if got := be.authedUsers(); (len(got) == 1) != wantAuthed {
					t.Errorf("server saw successful AUTH for %q, want success %v", got, wantAuthed)
				}
				if strings.Contains(out, "secret") || strings.Contains(out, b64("\x00user\x00secret")) {
					t.Errorf("a credential appears in the output:\n%s", out)
				}
			})
		}
	}
}

// TestTLSOptions covers the option rules of TLS: they fail before any
// connection is made.
func TestTLSOptions(t *testing.T) {
	t.Parallel()
	certs := newTestCerts(t)
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
			tlsRun(t, certs, tc.args, checkers.UNKNOWN, tc.message)
		})
	}

	// A CA file without a certificate is UNKNOWN too.
	t.Run("cafile without PEM", func(t *testing.T) {
		t.Parallel()
		tlsRun(t, certs, []string{"-H", "127.0.0.1", "-s", "--cafile", "/dev/null"}, checkers.UNKNOWN, `^SMTP UNKNOWN: --cafile /dev/null holds no PEM certificate`)
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
	certs := newTestCerts(t)
	for _, mode := range []string{"-s", "-S"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			// A short directory: socket paths are limited to about 100 bytes.
			dir, err := os.MkdirTemp("", "cstls")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(dir) })
			path := filepath.Join(dir, "smtp.sock")
			ln, err := net.Listen("unix", path)
			if err != nil {
				t.Skipf("no unix sockets: %v", err)
			}
			sc := script("TLS", scriptGreeting, scriptTail)
			if mode == "-S" {
				sc = script(scriptSTARTTLS, scriptEHLOAgain, scriptTail)
			}
			m := serveTLSMock(t, ln, certTestServerTLS(certs.valid), sc)
			out := tlsRun(t, certs, []string{"-H", path, mode, "--cafile", "CAFILE"}, checkers.OK, `^SMTP OK: .+`+tlsOKSummary)
			if probs := m.done(); len(probs) > 0 {
				t.Errorf("server script: %v\noutput: %s", probs, out)
			}
			m.mu.Lock()
			defer m.mu.Unlock()
			if m.sni != "localhost" {
				t.Errorf("server saw SNI %q, want localhost", m.sni)
			}
		})
	}
}
