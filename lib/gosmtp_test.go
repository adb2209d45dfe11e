package checksmtp

import (
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/mackerelio/checkers"
)

// The happy paths against an SMTP server we did not write: emersion/go-smtp,
// in-process on a loopback port, over plain TCP. Its replies, multi-line EHLO
// and SASL exchange are its own, so the client is not only tested against
// our idea of SMTP. (TLS against go-smtp is in tls_test.go.)

// plainBackend is a small mail domain: local users that RCPT accepts, one
// AUTH account, and a record of what each session did.
type plainBackend struct {
	user, password string
	local          map[string]bool // accepted recipients

	mu     sync.Mutex
	events []string // "auth alice", "mail a@b", "rcpt x@y", "reset", "logout"
}

func (b *plainBackend) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &plainSession{b: b}, nil
}

func (b *plainBackend) record(e string) {
	b.mu.Lock()
	b.events = append(b.events, e)
	b.mu.Unlock()
}

func (b *plainBackend) seen() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.events...)
}

type plainSession struct{ b *plainBackend }

func (s *plainSession) Reset()        { s.b.record("reset") }
func (s *plainSession) Logout() error { s.b.record("logout"); return nil }
func (s *plainSession) Data(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}

func (s *plainSession) Mail(from string, _ *smtp.MailOptions) error {
	s.b.record("mail " + from)
	return nil
}

// Rcpt accepts the local users, refuses other local parts with 550 and
// other domains as a relay attempt with 554.
func (s *plainSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.b.record("rcpt " + to)
	switch {
	case s.b.local[to]:
		return nil
	case strings.HasSuffix(to, "@example.test"):
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user here"}
	}
	return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "relay access denied"}
}

func (s *plainSession) AuthMechanisms() []string { return []string{sasl.Plain, sasl.Login} }

func (s *plainSession) Auth(mech string) (sasl.Server, error) {
	check := func(identity, user, password string) error {
		if identity != "" && identity != user || user != s.b.user || password != s.b.password {
			return smtp.ErrAuthFailed // 535 5.7.8
		}
		s.b.record("auth " + user)
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(check), nil
	case sasl.Login:
		return &plainLoginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

// plainLoginServer is the server side of AUTH LOGIN (go-sasl has none): it
// prompts "Username:" then "Password:", as most servers do, and also takes
// the user as an initial response. Shared by the plain and TLS go-smtp tests.
type plainLoginServer struct {
	check func(identity, user, password string) error
	step  int
	user  string
}

func (l *plainLoginServer) Next(resp []byte) ([]byte, bool, error) {
	l.step++
	switch {
	case l.step == 1 && resp == nil:
		return []byte("Username:"), false, nil
	case l.step == 1: // initial response: the user
		l.user, l.step = string(resp), 2
		return []byte("Password:"), false, nil
	case l.step == 2:
		l.user = string(resp)
		return []byte("Password:"), false, nil
	case l.step == 3:
		return nil, true, l.check("", l.user, string(resp))
	}
	return nil, false, errors.New("unexpected LOGIN response")
}

// startPlainGoSMTP serves go-smtp on 127.0.0.1 without TLS. AllowInsecureAuth
// makes it offer AUTH in cleartext, which the check permits to loopback.
func startPlainGoSMTP(t *testing.T) (string, *plainBackend) {
	t.Helper()
	be := &plainBackend{user: "alice", password: "s3cret",
		local: map[string]bool{"postmaster@example.test": true, "alice@example.test": true}}
	srv := smtp.NewServer(be)
	srv.Domain = "gosmtp.example.test"
	srv.AllowInsecureAuth = true
	srv.ErrorLog = log.New(io.Discard, "", 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveGoSMTP(t, srv, ln, nil)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port, be
}

// serveGoSMTP serves srv on ln until the test ends. go-smtp v0.24.0's
// Server.Close reads a connection's net.Conn while a handler still inside
// STARTTLS may be replacing it (a data race in the library), so the cleanup
// first stops accepting and waits, bounded, for every connection's handler
// to close it before calling Close. With implicit set, connections are TLS
// from the first byte (tracked beneath TLS: go-smtp must see a *tls.Conn).
func serveGoSMTP(t testing.TB, srv *smtp.Server, ln net.Listener, implicit *tls.Config) {
	tl := &trackingListener{Listener: ln}
	var serving net.Listener = tl
	if implicit != nil {
		serving = tls.NewListener(tl, implicit)
	}
	go srv.Serve(serving)
	t.Cleanup(func() {
		ln.Close()
		tl.wg.Wait()
		deadline := time.After(10 * time.Second)
		for _, done := range tl.closed() {
			select {
			case <-done:
			case <-deadline:
			}
		}
		srv.Close()
	})
}

// trackingListener hands out connections that report when they are closed.
type trackingListener struct {
	net.Listener
	wg   sync.WaitGroup
	mu   sync.Mutex
	done []chan struct{}
}

func (l *trackingListener) Accept() (net.Conn, error) {
	l.wg.Add(1)
	defer l.wg.Done()
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, done: make(chan struct{})}
	l.mu.Lock()
	l.done = append(l.done, tc.done)
	l.mu.Unlock()
	return tc, nil
}

func (l *trackingListener) closed() []chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]chan struct{}(nil), l.done...)
}

type trackedConn struct {
	net.Conn
	once sync.Once
	done chan struct{}
}

func (c *trackedConn) Close() error {
	c.once.Do(func() { close(c.done) })
	return c.Conn.Close()
}

func TestGoSMTPPlain(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		status  checkers.Status
		message string   // regexp over the whole output
		events  []string // what the backend must have seen, in order (nil: not checked)
	}{
		{
			name:    "plain conversation",
			status:  checkers.OK,
			message: `^SMTP OK: \d+\.\d{3}s response time, gosmtp\.example\.test ESMTP Service Ready \| time=` + pd + `;;;0 connect=` + pd + `;;;0 banner=` + pd + `;;;0 ehlo=` + pd + `;;;0 mail=` + pd + `;;;0 rset=` + pd + `;;;0 quit=` + pd + `;;;0\n$`,
			events:  []string{"mail ", "reset", "logout"},
		},
		{
			name:    "AUTH PLAIN",
			args:    []string{"-A", "PLAIN", "-U", "alice", "-P", "s3cret"},
			status:  checkers.OK,
			message: `^SMTP OK: .* ehlo=` + pd + `;;;0 auth=` + pd + `;;;0 mail=`,
			events:  []string{"auth alice", "mail ", "reset", "logout"},
		},
		{
			name:    "AUTH LOGIN",
			args:    []string{"-A", "LOGIN", "-U", "alice", "-P", "s3cret"},
			status:  checkers.OK,
			message: `^SMTP OK: .* auth=` + pd,
			events:  []string{"auth alice", "mail ", "reset", "logout"},
		},
		{
			name:    "AUTH PLAIN wrong password",
			args:    []string{"-A", "PLAIN", "-U", "alice", "-P", "wrong"},
			status:  checkers.CRITICAL,
			message: `^SMTP CRITICAL: AUTH PLAIN refused at step auth: 535 5\.7\.8 Authentication failed -- `,
			events:  []string{"logout"},
		},
		{
			name:    "AUTH LOGIN wrong user",
			args:    []string{"-A", "LOGIN", "-U", "mallory", "-P", "s3cret"},
			status:  checkers.CRITICAL,
			message: `^SMTP CRITICAL: AUTH LOGIN refused at step auth: 535 5\.7\.8 Authentication failed -- `,
		},
		{
			name:    "CRAM-MD5 not offered",
			args:    []string{"-A", "CRAM-MD5", "-U", "alice", "-P", "s3cret"},
			status:  checkers.CRITICAL,
			message: `^SMTP CRITICAL: AUTH CRAM-MD5 not offered: the server offers PLAIN LOGIN\b[^|]* -- `,
		},
		{
			name:    "sender and recipients accepted",
			args:    []string{"-f", "monitor@example.test", "--rcpt", "postmaster@example.test", "--rcpt", "alice@example.test"},
			status:  checkers.OK,
			message: `^SMTP OK: .* mail=` + pd + `;;;0 rcpt=` + pd + `;;;0 rset=`,
			events:  []string{"mail monitor@example.test", "rcpt postmaster@example.test", "rcpt alice@example.test", "reset", "logout"},
		},
		{
			name:    "recipient refused by the backend",
			args:    []string{"--rcpt", "postmaster@example.test", "--rcpt", "nobody@example.test"},
			status:  checkers.CRITICAL,
			message: `^SMTP CRITICAL: RCPT TO:<nobody@example\.test> rejected at step rcpt: 550 5\.1\.1 no such user here -- `,
			events:  []string{"mail ", "rcpt postmaster@example.test", "rcpt nobody@example.test", "logout"},
		},
		{
			name:    "relay refused: --reject-rcpt is OK",
			args:    []string{"--rcpt", "alice@example.test", "--reject-rcpt", "someone@elsewhere.test"},
			status:  checkers.OK,
			message: `^SMTP OK: `,
			events:  []string{"mail ", "rcpt alice@example.test", "rcpt someone@elsewhere.test", "reset", "logout"},
		},
		{
			name:    "--reject-rcpt accepted is CRITICAL",
			args:    []string{"--reject-rcpt", "alice@example.test"},
			status:  checkers.CRITICAL,
			message: `^SMTP CRITICAL: RCPT TO:<alice@example\.test> accepted, expected a rejection: 250 2\.0\.0 I'll make sure <alice@example\.test> gets this -- `,
		},
		{
			name:    "-v transcript of go-smtp's replies, AUTH redacted",
			args:    []string{"-v", "-F", "probe.example.test", "-A", "LOGIN", "-U", "alice", "-P", "s3cret"},
			status:  checkers.OK,
			message: `\nS: 220 gosmtp\.example\.test ESMTP Service Ready\nC: EHLO probe\.example\.test\nS: 250-Hello probe\.example\.test\n(S: 250-.*\n)*S: 250-AUTH PLAIN LOGIN\n(S: 250-.*\n)*S: 250 .*\nC: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: <redacted>\nS: 334 UGFzc3dvcmQ6\nC: <redacted>\nS: 235 2\.0\.0 Authentication succeeded\nC: MAIL FROM:<>\nS: 250 2\.0\.0 Roger, accepting mail from <>\nC: RSET\nS: 250 2\.0\.0 Session reset\nC: QUIT\nS: 221 2\.0\.0 Bye\n$`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			port, be := startPlainGoSMTP(t)
			ckr := run(append([]string{"-H", "127.0.0.1", "-p", port}, tc.args...))
			out := format(ckr)
			if ckr.Status != tc.status {
				t.Errorf("status %v, want %v\noutput: %s", ckr.Status, tc.status, out)
			}
			if !regexp.MustCompile(tc.message).MatchString(out) {
				t.Errorf("output does not match %q:\n%s", tc.message, out)
			}
			for _, secret := range []string{"s3cret", b64S3cret, plainAliceS3cret} {
				if strings.Contains(out, secret) {
					t.Errorf("output shows %q:\n%s", secret, out)
				}
			}
			if tc.events != nil {
				// The session ends (logout) when the connection closes, which
				// may be just after run returns: wait for it.
				got := waitEvents(be, len(tc.events))
				if strings.Join(got, "\n") != strings.Join(tc.events, "\n") {
					t.Errorf("server saw %q, want %q", got, tc.events)
				}
			}
		})
	}
}

// waitEvents waits (briefly, polling) until the backend has seen n events.
func waitEvents(be *plainBackend, n int) []string {
	for i := 0; i < 500; i++ {
		if got := be.seen(); len(got) >= n {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
	return be.seen()
}
