package checksmtp

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// mockServer is a scripted SMTP peer on a loopback port. Each script line
// is one action:
//
//	"S: text"     send text + CRLF
//	"C: regexp"   read one client line; it must match the whole regexp
//	"RAW: text"   send text as is (Go escapes such as \r \n \x00 are read)
//	"SLEEP 50ms"  pause
//	"TLS"         server side of a TLS handshake (mockServer.tlsConfig)
//	"PROXY"       read one PROXY protocol v1 line into mockServer.proxyLine
//	"CLOSE"       close the connection
//	"READ"        wait for the client to send anything (e.g. a TLS ClientHello)
//	"HANG"        stop, keep the connection open until the client closes it
//
// A script that ends without CLOSE or HANG closes after its last action.
// Mismatches are recorded and reported by done().
type mockServer struct {
	t         testing.TB
	ln        net.Listener
	script    []string
	tlsConfig *tls.Config

	mu        sync.Mutex
	received  []string // client lines, in order
	problems  []string
	proxyLine string
	sni       string
	peer      net.Addr // the client's address as the server saw it
	finished  chan struct{}
}

// startMock serves script to the first connection on 127.0.0.1 (or the
// network/address given with listenMock).
func startMock(t testing.TB, script ...string) *mockServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveMock(t, ln, script)
}

// serveMock serves script on an existing listener (unix socket, ::1, TLS).
func serveMock(t testing.TB, ln net.Listener, script []string) *mockServer {
	m := &mockServer{t: t, ln: ln, script: script, finished: make(chan struct{})}
	t.Cleanup(func() { ln.Close() })
	go m.serve()
	return m
}

// port is the listener's port as a string, for -p.
func (m *mockServer) port() string {
	_, p, _ := net.SplitHostPort(m.ln.Addr().String())
	return p
}

func (m *mockServer) fail(format string, a ...any) {
	m.mu.Lock()
	m.problems = append(m.problems, fmt.Sprintf(format, a...))
	m.mu.Unlock()
}

func (m *mockServer) serve() {
	defer close(m.finished)
	conn, err := m.ln.Accept()
	if err != nil {
		m.fail("accept: %v", err)
		return
	}
	defer conn.Close()
	m.mu.Lock()
	m.peer = conn.RemoteAddr()
	m.mu.Unlock()
	// A script must never outlive its test, whatever the client does.
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(conn)
	w := conn
	for i, action := range m.script {
		verb, arg, _ := strings.Cut(action, " ")
		switch {
		case strings.HasPrefix(action, "S: "):
			if _, err := fmt.Fprintf(w, "%s\r\n", action[3:]); err != nil {
				m.fail("step %d %q: write: %v", i, action, err)
				return
			}
		case strings.HasPrefix(action, "RAW: "):
			if _, err := w.Write([]byte(unescape(action[5:]))); err != nil {
				m.fail("step %d %q: write: %v", i, action, err)
				return
			}
		case strings.HasPrefix(action, "C: "):
			line, err := r.ReadString('\n')
			line = strings.TrimRight(line, "\r\n")
			if err != nil {
				m.fail("step %d: wanted client line matching %q, got error %v", i, action[3:], err)
				return
			}
			m.mu.Lock()
			m.received = append(m.received, line)
			m.mu.Unlock()
			if !regexp.MustCompile("^(?:" + action[3:] + ")$").MatchString(line) {
				m.fail("step %d: client sent %q, wanted %q", i, line, action[3:])
				return
			}
		case verb == "SLEEP":
			d, err := time.ParseDuration(arg)
			if err != nil {
				m.fail("bad SLEEP %q", arg)
				return
			}
			time.Sleep(d)
		case action == "TLS":
			cfg := m.tlsConfig.Clone()
			cfg.GetConfigForClient = func(h *tls.ClientHelloInfo) (*tls.Config, error) {
				m.mu.Lock()
				m.sni = h.ServerName
				m.mu.Unlock()
				return nil, nil
			}
			tc := tls.Server(&prefixConn{Conn: conn, r: r}, cfg)
			if err := tc.Handshake(); err != nil {
				m.fail("step %d: TLS handshake: %v", i, err)
				return
			}
			r, w = bufio.NewReader(tc), tc
		case action == "READ":
			// Whatever the client sends next, unparsed (a TLS ClientHello):
			// the script can then answer it with RAW garbage.
			if _, err := r.ReadByte(); err != nil {
				m.fail("step %d: READ: %v", i, err)
				return
			}
		case action == "PROXY":
			line, err := r.ReadString('\n')
			if err != nil {
				m.fail("step %d: reading PROXY line: %v", i, err)
				return
			}
			m.mu.Lock()
			m.proxyLine = strings.TrimRight(line, "\r\n")
			m.mu.Unlock()
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
			m.fail("unknown script action %q", action)
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

// done waits for the script to end and returns its problems.
func (m *mockServer) done() []string {
	select {
	case <-m.finished:
	case <-time.After(35 * time.Second):
		return []string{"script did not finish"}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.problems...)
}

// peerAddr is the address the client connected from (nil before a connection).
func (m *mockServer) peerAddr() net.Addr {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.peer
}

// lines returns what the client sent so far.
func (m *mockServer) lines() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.received...)
}

func unescape(s string) string {
	out, err := unquoteGo(`"` + strings.ReplaceAll(s, `"`, `\"`) + `"`)
	if err != nil {
		return s
	}
	return out
}

// Script fragments for the usual conversation.
var (
	scriptGreeting = []string{"S: 220 mx.example.test ESMTP ready", "C: EHLO .+", "S: 250-mx.example.test", "S: 250-PIPELINING", "S: 250 8BITMIME"}
	scriptTail     = []string{"C: MAIL FROM:<.*>", "S: 250 2.1.0 Ok", "C: RSET", "S: 250 2.0.0 Ok", "C: QUIT", "S: 221 2.0.0 Bye"}
)

// script joins fragments and single actions into one script.
func script(parts ...any) []string {
	var out []string
	for _, p := range parts {
		switch v := p.(type) {
		case string:
			out = append(out, v)
		case []string:
			out = append(out, v...)
		default:
			panic(fmt.Sprintf("script: %T", p))
		}
	}
	return out
}

// closedPort returns a loopback port nothing listens on: listened on, then
// closed.
func closedPort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	return p
}

// serveOnce accepts one connection on 127.0.0.1 and hands it to serve, for
// servers a script cannot describe. It returns the port.
func serveOnce(t testing.TB, serve func(net.Conn)) string {
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
		// Never outlive the test, whatever the client does.
		conn.SetDeadline(time.Now().Add(30 * time.Second))
		serve(conn)
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}
