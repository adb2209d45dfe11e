package smtptest

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// scriptDeadline bounds every scripted connection, so a script never
// outlives its test whatever the client does; Done waits a little longer.
const scriptDeadline = 30 * time.Second

// Server is a scripted SMTP peer: it serves its script to the first
// connection on its listener. Each script line is one action:
//
//	"S: text"     send text + CRLF
//	"C: regexp"   read one client line; it must match the whole regexp
//	"RAW: text"   send text as is (Go escapes such as \r \n \x00 are read)
//	"SLEEP 50ms"  pause
//	"TLS"         server side of a TLS handshake (the ServeTLS configuration)
//	"PROXY"       read one PROXY protocol v1 line (see ProxyLine)
//	"CLOSE"       close the connection
//	"READ"        wait for the client to send anything (e.g. a TLS ClientHello)
//	"HANG"        stop, keep the connection open until the client closes it
//
// A script that ends without CLOSE or HANG closes after its last action.
// Mismatches are recorded and returned by Done.
type Server struct {
	ln        net.Listener
	script    []string
	tlsConfig *tls.Config
	finished  chan struct{}

	mu        sync.Mutex
	problems  []string
	proxyLine string
	sni       string
	peer      net.Addr // the client's address as the server saw it
}

// Start serves script to the first connection on a fresh 127.0.0.1 port.
func Start(t testing.TB, script ...string) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return Serve(t, ln, script)
}

// Serve serves script on ln (a unix socket, ::1, a port shared with other
// servers). The listener is closed when the test ends.
func Serve(t testing.TB, ln net.Listener, script []string) *Server {
	return ServeTLS(t, ln, nil, script)
}

// ServeTLS is Serve with cfg for the script's "TLS" actions; the
// configuration is set before the server goroutine can read it.
func ServeTLS(t testing.TB, ln net.Listener, cfg *tls.Config, script []string) *Server {
	s := &Server{ln: ln, script: script, tlsConfig: cfg, finished: make(chan struct{})}
	t.Cleanup(func() { ln.Close() })
	go s.serve()
	return s
}

// Port is the listener's port as a string, for -p ("" on a unix socket).
func (s *Server) Port() string { return portOf(s.ln) }

// Close stops listening; a connection already accepted goes on.
func (s *Server) Close() { s.ln.Close() }

// Finished is closed when the script has ended (or could not start).
func (s *Server) Finished() <-chan struct{} { return s.finished }

// Done waits for the script to end and returns its problems: mismatched
// client lines, failed writes, a failed handshake.
func (s *Server) Done() []string {
	select {
	case <-s.finished:
	case <-time.After(scriptDeadline + 5*time.Second):
		return []string{"script did not finish"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.problems...)
}

// AssertDone waits for the script to end and fails t if it did not run
// cleanly; out, the check's output, is quoted in the failure.
func (s *Server) AssertDone(t testing.TB, out string) {
	t.Helper()
	if probs := s.Done(); len(probs) > 0 {
		t.Errorf("server script: %v\noutput: %s", probs, out)
	}
}

// Peer is the address the client connected from (nil before a connection).
func (s *Server) Peer() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peer
}

// SNI is the server name the client asked for in its last TLS handshake
// ("" when it sent none or there was no handshake).
func (s *Server) SNI() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sni
}

// ProxyLine is the PROXY protocol line a "PROXY" action read, without CRLF.
func (s *Server) ProxyLine() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proxyLine
}

func (s *Server) fail(format string, a ...any) {
	s.mu.Lock()
	s.problems = append(s.problems, fmt.Sprintf(format, a...))
	s.mu.Unlock()
}

func (s *Server) serve() {
	defer close(s.finished)
	conn, err := s.ln.Accept()
	if err != nil {
		s.fail("accept: %v", err)
		return
	}
	defer conn.Close()
	s.mu.Lock()
	s.peer = conn.RemoteAddr()
	s.mu.Unlock()
	conn.SetDeadline(time.Now().Add(scriptDeadline))
	r := bufio.NewReader(conn)
	var w net.Conn = conn
	for i, action := range s.script {
		verb, arg, _ := strings.Cut(action, " ")
		switch {
		case strings.HasPrefix(action, "S: "):
			if _, err := fmt.Fprintf(w, "%s\r\n", action[3:]); err != nil {
				s.fail("step %d %q: write: %v", i, action, err)
				return
			}
		case strings.HasPrefix(action, "RAW: "):
			if _, err := w.Write([]byte(unescape(action[5:]))); err != nil {
				s.fail("step %d %q: write: %v", i, action, err)
				return
			}
		case strings.HasPrefix(action, "C: "):
			line, err := r.ReadString('\n')
			line = strings.TrimRight(line, "\r\n")
			if err != nil {
				s.fail("step %d: wanted client line matching %q, got error %v", i, action[3:], err)
				return
			}
			if !regexp.MustCompile("^(?:" + action[3:] + ")$").MatchString(line) {
				s.fail("step %d: client sent %q, wanted %q", i, line, action[3:])
				return
			}
		case verb == "SLEEP":
			d, err := time.ParseDuration(arg)
			if err != nil {
				s.fail("bad SLEEP %q", arg)
				return
			}
			time.Sleep(d)
		case action == "TLS":
			if s.tlsConfig == nil {
				s.fail("step %d: TLS action without a configuration (use ServeTLS)", i)
				return
			}
			cfg := s.tlsConfig.Clone()
			cfg.GetConfigForClient = func(h *tls.ClientHelloInfo) (*tls.Config, error) {
				s.mu.Lock()
				s.sni = h.ServerName
				s.mu.Unlock()
				return nil, nil
			}
			tc := tls.Server(&prefixConn{Conn: conn, r: r}, cfg)
			if err := tc.Handshake(); err != nil {
				s.fail("step %d: TLS handshake: %v", i, err)
				return
			}
			r, w = bufio.NewReader(tc), tc
		case action == "READ":
			// Whatever the client sends next, unparsed (a TLS ClientHello):
			// the script can then answer it with RAW garbage.
			if _, err := r.ReadByte(); err != nil {
				s.fail("step %d: READ: %v", i, err)
				return
			}
		case action == "PROXY":
			line, err := r.ReadString('\n')
			if err != nil {
				s.fail("step %d: reading PROXY line: %v", i, err)
				return
			}
			s.mu.Lock()
			s.proxyLine = strings.TrimRight(line, "\r\n")
			s.mu.Unlock()
		case action == "CLOSE":
			return
		case action == "HANG":
			// Wait for the client to give up: reads fail once it closes.
			for {
				if _, err := r.ReadByte(); err != nil {
					return
				}
			}
		default:
			s.fail("unknown script action %q", action)
			return
		}
	}
}

// prefixConn lets TLS read what the bufio.Reader already buffered.
type prefixConn struct {
	net.Conn
	r *bufio.Reader
}

func (p *prefixConn) Read(b []byte) (int, error) { return p.r.Read(b) }

// unescape reads the Go escapes of a RAW action; text that is not a valid
// Go string body is sent as written.
func unescape(s string) string {
	out, err := strconv.Unquote(`"` + strings.ReplaceAll(s, `"`, `\"`) + `"`)
	if err != nil {
		return s
	}
	return out
}

// Script joins fragments ([]string) and single actions (string) into one
// script.
func Script(parts ...any) []string {
	var out []string
	for _, p := range parts {
		switch v := p.(type) {
		case string:
			out = append(out, v)
		case []string:
			out = append(out, v...)
		default:
			panic(fmt.Sprintf("smtptest.Script: %T is neither an action nor a fragment", p))
		}
	}
	return out
}

// Script fragments of the usual conversation. Each call returns a fresh
// slice, so no test can change what another one sends.

// Greeting is the banner and a multi-line EHLO reply of mx.example.test.
func Greeting() []string {
	return []string{"S: 220 mx.example.test ESMTP ready", "C: EHLO .+", "S: 250-mx.example.test", "S: 250-PIPELINING", "S: 250 8BITMIME"}
}

// LMTPGreeting is what Dovecot's LMTP service says before MAIL (after LHLO).
func LMTPGreeting() []string {
	return []string{"S: 220 lmtp.example.test Dovecot ready.", "C: LHLO .+",
		"S: 250-lmtp.example.test", "S: 250-8BITMIME", "S: 250-ENHANCEDSTATUSCODES", "S: 250 PIPELINING"}
}

// STARTTLS is a greeting offering STARTTLS, up to and including the
// handshake ("TLS": serve with ServeTLS).
func STARTTLS() []string {
	return []string{"S: 220 mx.example.test ESMTP ready", "C: EHLO .+", "S: 250-mx.example.test",
		"S: 250 STARTTLS", "C: STARTTLS", "S: 220 2.0.0 Ready to start TLS", "TLS"}
}

// EHLOAgain is the EHLO exchange after STARTTLS.
func EHLOAgain() []string {
	return []string{"C: EHLO .+", "S: 250-mx.example.test", "S: 250 8BITMIME"}
}

// MailOK is any MAIL FROM, accepted.
func MailOK() []string { return []string{"C: MAIL FROM:<.*>", "S: 250 2.1.0 Ok"} }

// RsetOK is RSET, accepted.
func RsetOK() []string { return []string{"C: RSET", "S: 250 2.0.0 Ok"} }

// Quit is QUIT answered 221: the goodbye the check says after a refusal too.
func Quit() []string { return []string{"C: QUIT", "S: 221 2.0.0 Bye"} }

// Tail is the rest of a conversation that went well: MAIL, RSET, QUIT.
func Tail() []string { return Script(MailOK(), RsetOK(), Quit()) }

// ListenLoopback listens on a fresh port of ip, 127.0.0.1 or ::1; without an
// IPv6 loopback the test is skipped.
func ListenLoopback(t testing.TB, ip string) net.Listener {
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

// UnixListener listens on a socket in a fresh temporary directory and
// returns it and its path. Socket paths are limited to about 100 bytes, so
// a long t.TempDir() gives way to a short directory of its own.
func UnixListener(t testing.TB) (net.Listener, string) {
	t.Helper()
	dir := t.TempDir()
	if len(dir) > 80 {
		var err error
		if dir, err = os.MkdirTemp("", "csmtp"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
	}
	path := filepath.Join(dir, "smtp.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	return ln, path
}

// portOf is ln's port as a string, for -p ("" for a unix socket).
func portOf(ln net.Listener) string {
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	return p
}

// ClosedPort returns a 127.0.0.1 port nothing listens on: listened on, then
// closed.
func ClosedPort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return portOf(ln)
}

// ServeOnce accepts one connection on 127.0.0.1 and hands it to serve, for
// servers a script cannot describe. It returns the port.
func ServeOnce(t testing.TB, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(scriptDeadline))
		serve(conn)
	}()
	return portOf(ln)
}
