package smtptest

import (
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Backend is a go-smtp backend: a small mail domain with one AUTH account
// (PLAIN and LOGIN), recording what each session did. Set its fields before
// the server starts.
type Backend struct {
	User, Password string
	// Local lists the recipients RCPT accepts; nil accepts every recipient.
	// With a list, any other address @Domain is refused 550 5.1.1 (no such
	// user) and an address elsewhere 554 5.7.1 (relay access denied).
	Local  []string
	Domain string
	// AuthRefusal is the reply to wrong credentials; nil: go-smtp's
	// 535 5.7.8 Authentication failed.
	AuthRefusal *smtp.SMTPError

	mu     sync.Mutex
	events []string // "auth alice", "mail a@b", "rcpt x@y", "reset", "logout"
}

// NewSession implements smtp.Backend.
func (b *Backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{b: b}, nil }

// Events returns what the sessions did so far, in order: "auth USER",
// "mail FROM", "rcpt TO", "reset", "logout".
func (b *Backend) Events() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.events...)
}

// WaitEvents waits (briefly, polling) until n events were recorded and
// returns them. A session ends (logout) when its connection closes, which
// may be just after the client returned.
func (b *Backend) WaitEvents(n int) []string {
	for i := 0; i < 500; i++ {
		if got := b.Events(); len(got) >= n {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
	return b.Events()
}

// Authenticated returns the users that authenticated, in order.
func (b *Backend) Authenticated() []string {
	var users []string
	for _, e := range b.Events() {
		if u, ok := strings.CutPrefix(e, "auth "); ok {
			users = append(users, u)
		}
	}
	return users
}

func (b *Backend) record(e string) {
	b.mu.Lock()
	b.events = append(b.events, e)
	b.mu.Unlock()
}

type session struct{ b *Backend }

func (s *session) Reset()        { s.b.record("reset") }
func (s *session) Logout() error { s.b.record("logout"); return nil }
func (s *session) Data(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.b.record("mail " + from)
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.b.record("rcpt " + to)
	if s.b.Local == nil {
		return nil
	}
	for _, l := range s.b.Local {
		if l == to {
			return nil
		}
	}
	if s.b.Domain != "" && strings.HasSuffix(to, "@"+s.b.Domain) {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user here"}
	}
	return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "relay access denied"}
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain, sasl.Login} }

func (s *session) Auth(mech string) (sasl.Server, error) {
	check := func(identity, user, password string) error {
		if identity != "" && identity != user || user != s.b.User || password != s.b.Password {
			if s.b.AuthRefusal != nil {
				return s.b.AuthRefusal
			}
			return smtp.ErrAuthFailed
		}
		s.b.record("auth " + user)
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(check), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

// loginServer is the server side of AUTH LOGIN (go-sasl has none): it
// prompts "Username:" then "Password:", as most servers do, and also takes
// the user as an initial response.
type loginServer struct {
	check func(identity, user, password string) error
	step  int
	user  string
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
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

// SNIRecorder wraps a server configuration to remember the server name each
// client asked for ("" when it sent none).
type SNIRecorder struct {
	mu   sync.Mutex
	seen []string
}

// wrap returns a copy of cfg that records each ClientHello's server name.
func (r *SNIRecorder) wrap(cfg *tls.Config) *tls.Config {
	cfg = cfg.Clone()
	cfg.GetConfigForClient = func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		r.mu.Lock()
		r.seen = append(r.seen, h.ServerName)
		r.mu.Unlock()
		return nil, nil
	}
	return cfg
}

// Names returns the server names seen, one per handshake.
func (r *SNIRecorder) Names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

// GoSMTPConfig is how StartGoSMTPWith serves its backend.
type GoSMTPConfig struct {
	IP string // 127.0.0.1 (""), or ::1 (the test is skipped without it)
	// Cert, when set, is offered with STARTTLS, or spoken from the first
	// byte with Implicit. nil: no TLS at all.
	Cert     *tls.Certificate
	Implicit bool
	// CleartextAuth offers AUTH without TLS (go-smtp offers it only over
	// TLS otherwise).
	CleartextAuth bool
}

// GoSMTP is go-smtp serving a Backend on a loopback port until the test
// ends.
type GoSMTP struct {
	Port    string
	Backend *Backend
	SNI     *SNIRecorder // the names asked for in TLS handshakes (none without Cert)
}

// StartGoSMTPWith serves be with go-smtp as cfg says. The server calls
// itself gosmtp.example.test; its error log is discarded (client aborts are
// expected in these tests).
func StartGoSMTPWith(t testing.TB, be *Backend, cfg GoSMTPConfig) *GoSMTP {
	t.Helper()
	g := &GoSMTP{Backend: be, SNI: &SNIRecorder{}}
	srv := smtp.NewServer(be)
	srv.Domain = "gosmtp.example.test"
	srv.AllowInsecureAuth = cfg.CleartextAuth
	srv.ErrorLog = log.New(io.Discard, "", 0)
	var implicit *tls.Config
	if cfg.Cert != nil {
		srv.TLSConfig = g.SNI.wrap(ServerTLS(*cfg.Cert))
		if cfg.Implicit {
			implicit = srv.TLSConfig
		}
	}
	ip := cfg.IP
	if ip == "" {
		ip = "127.0.0.1"
	}
	ln := ListenLoopback(t, ip)
	serveGoSMTP(t, srv, ln, implicit)
	g.Port = portOf(ln)
	return g
}

// StartGoSMTP serves go-smtp with cert on ip (127.0.0.1 or ::1), with
// implicit TLS or offering STARTTLS, for the account "user" / "secret"
// (wrong credentials: 535 5.7.8 Authentication credentials invalid); every
// recipient is accepted.
func StartGoSMTP(t testing.TB, ip string, cert tls.Certificate, implicit bool) *GoSMTP {
	t.Helper()
	be := &Backend{User: "user", Password: "secret",
		AuthRefusal: &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}}
	return StartGoSMTPWith(t, be, GoSMTPConfig{IP: ip, Cert: &cert, Implicit: implicit})
}

// StartPlainGoSMTP serves go-smtp on 127.0.0.1 without TLS, offering AUTH
// in cleartext for the account "alice" / "s3cret"; RCPT accepts
// postmaster@example.test and alice@example.test.
func StartPlainGoSMTP(t testing.TB) *GoSMTP {
	t.Helper()
	be := &Backend{User: "alice", Password: "s3cret", Domain: "example.test",
		Local: []string{"postmaster@example.test", "alice@example.test"}}
	return StartGoSMTPWith(t, be, GoSMTPConfig{CleartextAuth: true})
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
