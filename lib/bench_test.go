package checksmtp

// In-process benchmarks of run() (issues #7 and #15): the whole check, from
// argument parsing to QUIT, against a minimal SMTP server on an ephemeral
// loopback port in the same process. Run with
//
//	go test -run '^$' -bench . -benchmem ./lib
//
// allocs/op and B/op count the server goroutine's allocations too (they share
// the process); the BenchmarkFloor* ones hold the same conversation with a
// minimal client, so their numbers are the server's share plus the floor.
// The whole-process comparison, against bench/internal/floor, is `make
// bench` (bench/). That floor client cannot be imported here: bench/ is its
// own module (and the package is internal to it), and this module's go.mod
// does not require it, so benchFloor below is a minimal copy of it.

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mackerelio/checkers"

	"github.com/check-smtp/check-smtp/lib/internal/smtptest"
)

func BenchmarkRunPlain(b *testing.B) {
	port := benchServer(b, nil)
	benchRun(b, []string{"-H", "127.0.0.1", "-p", port})
}

func BenchmarkRunSTARTTLS(b *testing.B) {
	conf, ca := benchTLS(b)
	port := benchServer(b, conf)
	benchRun(b, []string{"-H", "127.0.0.1", "-p", port, "-S", "--cafile", ca})
}

// BenchmarkRunSTARTTLSSystemStore verifies against the system trust store,
// read afresh by every check as by a process: SSL_CERT_FILE is the
// machine's bundle (or 145 generated roots where there is none) with the
// test CA appended; SSL_CERT_DIR is left as the environment has it.
func BenchmarkRunSTARTTLSSystemStore(b *testing.B) {
	conf, ca := benchTLS(b)
	caPEM, err := os.ReadFile(ca)
	if err != nil {
		b.Fatal(err)
	}
	bundle, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err != nil {
		bundle = nil
		for i := range 145 {
			bundle = append(bundle, fillerRoot(b, i)...)
		}
	}
	file := filepath.Join(b.TempDir(), "bundle.pem")
	if err := os.WriteFile(file, append(append(bundle, '\n'), caPEM...), 0o644); err != nil {
		b.Fatal(err)
	}
	b.Setenv("SSL_CERT_FILE", file)
	port := benchServer(b, conf)
	benchRun(b, []string{"-H", "127.0.0.1", "-p", port, "-S"})
}

func BenchmarkParseArgsPlain(b *testing.B) {
	env := processEnviron()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := parseArgs([]string{"-H", "127.0.0.1", "-p", "25"}, env); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFloorPlain(b *testing.B) {
	port := benchServer(b, nil)
	benchFloorLoop(b, port, nil)
}

func BenchmarkFloorSTARTTLS(b *testing.B) {
	conf, ca := benchTLS(b)
	port := benchServer(b, conf)
	pemBytes, err := os.ReadFile(ca)
	if err != nil {
		b.Fatal(err)
	}
	benchFloorLoop(b, port, pemBytes)
}

func benchRun(b *testing.B, args []string) {
	b.Helper()
	if c := run(args); c.Status != checkers.OK { // also warms up
		b.Fatalf("run(%q) = %v: %s", args, c.Status, c.Message)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if c := run(args); c.Status != checkers.OK {
			b.Fatalf("run(%q) = %v: %s", args, c.Status, c.Message)
		}
	}
}

func benchFloorLoop(b *testing.B, port string, caPEM []byte) {
	b.Helper()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := benchFloor(port, caPEM); err != nil {
			b.Fatal(err)
		}
	}
}

// benchFloor is the minimal client (a copy of bench/internal/floor's):
// banner, EHLO, [STARTTLS, EHLO], MAIL, RSET, QUIT, verifying the
// certificate against caPEM when it is not nil. Like run, it parses the CA
// file's contents on every call.
func benchFloor(port string, caPEM []byte) error {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", port), 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	var conn net.Conn = c
	r := bufio.NewReader(conn)
	expect := func() error {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return err
			}
			if len(line) < 4 || line[0] != '2' {
				return fmt.Errorf("unexpected reply %q", line)
			}
			if line[3] != '-' {
				return nil
			}
		}
	}
	cmd := func(s string) error {
		if _, err := conn.Write([]byte(s)); err != nil {
			return err
		}
		return expect()
	}
	if err := expect(); err != nil {
		return err
	}
	if err := cmd("EHLO floor\r\n"); err != nil {
		return err
	}
	if caPEM != nil {
		if err := cmd("STARTTLS\r\n"); err != nil {
			return err
		}
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(caPEM)
		tc := tls.Client(c, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
		if err := tc.Handshake(); err != nil {
			return err
		}
		conn = tc
		r = bufio.NewReader(conn)
		if err := cmd("EHLO floor\r\n"); err != nil {
			return err
		}
	}
	for _, s := range []string{"MAIL FROM:<>\r\n", "RSET\r\n", "QUIT\r\n"} {
		if err := cmd(s); err != nil {
			return err
		}
	}
	return nil
}

// benchServer starts a minimal SMTP server on an ephemeral loopback port; a
// non-nil tlsConf makes it offer STARTTLS. It stops when the benchmark ends.
func benchServer(b *testing.B, tlsConf *tls.Config) string {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return // closed
			}
			go benchSession(c, tlsConf)
		}
	}()
	b.Cleanup(func() { l.Close() })
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

const (
	benchEHLOPlain = "250-localhost\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-AUTH PLAIN LOGIN\r\n250 SMTPUTF8\r\n"
	benchEHLOTLS   = "250-localhost\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n250 SMTPUTF8\r\n"
)

func benchSession(c net.Conn, tlsConf *tls.Config) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	w := c
	if _, err := w.Write([]byte("220 localhost ESMTP bench\r\n")); err != nil {
		return
	}
	inTLS := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		verb, _, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
		var resp string
		switch strings.ToUpper(verb) {
		case "EHLO", "LHLO":
			resp = benchEHLOPlain
			if tlsConf != nil && !inTLS {
				resp = benchEHLOTLS
			}
		case "HELO":
			resp = "250 localhost\r\n"
		case "STARTTLS":
			if tlsConf == nil || inTLS {
				resp = "502 5.5.1 not available\r\n"
				break
			}
			if _, err := w.Write([]byte("220 2.0.0 go ahead\r\n")); err != nil {
				return
			}
			tc := tls.Server(c, tlsConf)
			if err := tc.Handshake(); err != nil {
				return
			}
			w, inTLS = tc, true
			r = bufio.NewReader(tc)
			continue
		case "MAIL", "RCPT", "RSET", "NOOP":
			resp = "250 2.0.0 Ok\r\n"
		case "QUIT":
			w.Write([]byte("221 2.0.0 Bye\r\n"))
			return
		default:
			resp = "500 5.5.2 unrecognized\r\n"
		}
		if _, err := w.Write([]byte(resp)); err != nil {
			return
		}
	}
}

// benchTLS returns a server configuration with a CA-signed certificate for
// 127.0.0.1 and localhost, and the CA file for --cafile.
func benchTLS(b *testing.B) (*tls.Config, string) {
	b.Helper()
	certs := smtptest.NewCerts(b)
	return smtptest.ServerTLS(certs.Valid), certs.CAFile
}
