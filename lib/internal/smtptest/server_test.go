package smtptest_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/check-smtp/check-smtp/lib/internal/smtptest"
)

// client is the other end of a scripted conversation, driven by the test.
type client struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func dial(t *testing.T, network, addr string) *client {
	t.Helper()
	conn, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &client{t: t, conn: conn, r: bufio.NewReader(conn)}
}

func (c *client) send(line string) {
	c.t.Helper()
	if _, err := fmt.Fprintf(c.conn, "%s\r\n", line); err != nil {
		c.t.Fatal(err)
	}
}

func (c *client) expect(want string) {
	c.t.Helper()
	got, err := c.r.ReadString('\n')
	if err != nil || got != want {
		c.t.Fatalf("read %q (%v), want %q", got, err, want)
	}
}

func TestServerScript(t *testing.T) {
	t.Parallel()
	m := smtptest.Start(t, smtptest.Script("PROXY", smtptest.Greeting(), `RAW: 250 a\r\n250 b\x21\r\n`, "C: QUIT", "CLOSE")...)
	c := dial(t, "tcp", "127.0.0.1:"+m.Port())
	c.send("PROXY TCP4 127.0.0.1 127.0.0.1 1 2")
	c.expect("220 mx.example.test ESMTP ready\r\n")
	c.send("EHLO probe.example.test")
	for _, l := range []string{"250-mx.example.test\r\n", "250-PIPELINING\r\n", "250 8BITMIME\r\n", "250 a\r\n", "250 b!\r\n"} {
		c.expect(l)
	}
	c.send("QUIT")
	if _, err := c.r.ReadByte(); err == nil {
		t.Error("CLOSE left the connection open")
	}
	if probs := m.Done(); len(probs) > 0 {
		t.Errorf("clean conversation reported %v", probs)
	}
	if got := m.ProxyLine(); got != "PROXY TCP4 127.0.0.1 127.0.0.1 1 2" {
		t.Errorf("ProxyLine %q", got)
	}
	if a, ok := m.Peer().(*net.TCPAddr); !ok || !a.IP.IsLoopback() {
		t.Errorf("Peer %v", m.Peer())
	}
}

func TestServerMismatch(t *testing.T) {
	t.Parallel()
	m := smtptest.Start(t, "S: 220 mx", "C: EHLO .+", "S: 250 never sent")
	c := dial(t, "tcp", "127.0.0.1:"+m.Port())
	c.expect("220 mx\r\n")
	c.send("HELO probe")
	probs := m.Done()
	if len(probs) != 1 || !strings.Contains(probs[0], `client sent "HELO probe", wanted "EHLO .+"`) {
		t.Errorf("problems %q", probs)
	}
	// The regexp must match the whole line.
	m = smtptest.Start(t, "C: EHLO")
	dial(t, "tcp", "127.0.0.1:"+m.Port()).send("EHLO x")
	if probs := m.Done(); len(probs) != 1 {
		t.Errorf("a prefix match was accepted: %q", probs)
	}
	m = smtptest.Start(t, "BOGUS")
	dial(t, "tcp", "127.0.0.1:"+m.Port())
	if probs := m.Done(); len(probs) != 1 || !strings.Contains(probs[0], "unknown script action") {
		t.Errorf("problems %q", probs)
	}
}

func TestServerTLS(t *testing.T) {
	t.Parallel()
	certs := smtptest.NewCerts(t)
	m := smtptest.ServeTLS(t, smtptest.ListenLoopback(t, "127.0.0.1"), smtptest.ServerTLS(certs.Valid),
		smtptest.Script(smtptest.STARTTLS(), smtptest.EHLOAgain(), "HANG"))
	c := dial(t, "tcp", "127.0.0.1:"+m.Port())
	c.expect("220 mx.example.test ESMTP ready\r\n")
	c.send("EHLO x")
	c.expect("250-mx.example.test\r\n")
	c.expect("250 STARTTLS\r\n")
	c.send("STARTTLS")
	c.expect("220 2.0.0 Ready to start TLS\r\n")
	tc := tls.Client(c.conn, &tls.Config{RootCAs: certs.CAPool, ServerName: "localhost"})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	c.conn, c.r = tc, bufio.NewReader(tc)
	c.send("EHLO x")
	c.expect("250-mx.example.test\r\n")
	c.expect("250 8BITMIME\r\n")
	tc.Close()
	if probs := m.Done(); len(probs) > 0 {
		t.Errorf("problems %q", probs)
	}
	if m.SNI() != "localhost" {
		t.Errorf("SNI %q", m.SNI())
	}

	// A "TLS" action without a configuration is a problem, not a crash.
	m = smtptest.Start(t, "TLS")
	dial(t, "tcp", "127.0.0.1:"+m.Port())
	if probs := m.Done(); len(probs) != 1 || !strings.Contains(probs[0], "ServeTLS") {
		t.Errorf("problems %q", probs)
	}
}

func TestScript(t *testing.T) {
	got := smtptest.Script("S: 220 x", []string{"C: A", "S: 250 a"}, smtptest.Quit())
	if strings.Join(got, "|") != "S: 220 x|C: A|S: 250 a|C: QUIT|S: 221 2.0.0 Bye" {
		t.Errorf("Script %q", got)
	}
	// Fragments are fresh slices: changing one changes no other.
	g := smtptest.Greeting()
	g[0] = "changed"
	if smtptest.Greeting()[0] == "changed" {
		t.Error("Greeting is shared")
	}
	if tail := strings.Join(smtptest.Tail(), "|"); tail != strings.Join(smtptest.Script(smtptest.MailOK(), smtptest.RsetOK(), smtptest.Quit()), "|") {
		t.Errorf("Tail %q", tail)
	}
	defer func() {
		if recover() == nil {
			t.Error("Script accepted an int")
		}
	}()
	smtptest.Script(1)
}

func TestSockets(t *testing.T) {
	t.Parallel()
	if _, err := net.Dial("tcp", "127.0.0.1:"+smtptest.ClosedPort(t)); err == nil {
		t.Error("ClosedPort accepted a connection")
	}
	ln, path := smtptest.UnixListener(t)
	m := smtptest.Serve(t, ln, smtptest.LMTPGreeting())
	c := dial(t, "unix", path)
	c.expect("220 lmtp.example.test Dovecot ready.\r\n")
	c.send("LHLO x")
	c.expect("250-lmtp.example.test\r\n")
	if m.Port() != "" {
		t.Errorf("a unix socket has port %q", m.Port())
	}
	port := smtptest.ServeOnce(t, func(conn net.Conn) { fmt.Fprint(conn, "hello\r\n") })
	dial(t, "tcp", "127.0.0.1:"+port).expect("hello\r\n")
	v6 := smtptest.ListenLoopback(t, "::1") // skips without ::1
	defer v6.Close()
	if a := v6.Addr().(*net.TCPAddr); !a.IP.Equal(net.IPv6loopback) {
		t.Errorf("listening on %v", a)
	}
}
