package checksmtp

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/check-smtp/check-smtp/lib/internal/text"
	"github.com/mackerelio/checkers"

	"github.com/check-smtp/check-smtp/lib/internal/smtptest"
)

// Servers that misbehave. Each case gives Deadline, the -t it passes: the
// run must return within Deadline plus smtptest.HangSlack. That guard is not
// a speed assertion; it fails only when something ignores the deadline
// altogether.

// trickle sends text one byte at a time with a pause before each byte, as
// a script: far slower than the deadline in total, every read quick.
func trickle(text string, pause time.Duration) []string {
	var s []string
	for _, c := range []byte(text) {
		s = append(s, "SLEEP "+pause.String(), "RAW: "+string(c))
	}
	return s
}

func TestHostileDeadline(t *testing.T) {
	t.Parallel()
	const half = 500 * time.Millisecond
	expectCases(t, []smtptest.Case{
		{
			Name:     "accepts and never sends the banner",
			Script:   smtptest.Script("HANG"),
			Args:     []string{"-t", "0.5"},
			Deadline: half,
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: timeout after 0\.5s at step banner \(waiting for the banner\): nothing received, an implicit-TLS port\? try -s -- `,
		},
		{
			Name:     "banner one byte at a time, every read quick",
			Script:   trickle("220 slow.example.test ESMTP\r\n", 100*time.Millisecond),
			Args:     []string{"-t", "0.5"},
			Deadline: half,
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: timeout after 0\.5s at step banner `,
		},
		{
			Name:     "timeout state from -t N:STATE",
			Script:   smtptest.Script("HANG"),
			Args:     []string{"-t", "0.5:UNKNOWN"},
			Deadline: half,
			Status:   checkers.UNKNOWN,
			Output:   `^SMTP UNKNOWN: timeout after 0\.5s at step banner `,
		},
		{
			Name:     "timeout state as a number",
			Script:   smtptest.Script("HANG"),
			Args:     []string{"-t", "0.5:1"},
			Deadline: half,
			Status:   checkers.WARNING,
			Output:   `^SMTP WARNING: timeout after 0\.5s at step banner `,
		},
		{
			Name:     "stalls after EHLO",
			Script:   smtptest.Script("S: 220 mx ESMTP", "C: EHLO .+", "HANG"),
			Args:     []string{"-t", "0.5"},
			Deadline: half,
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: timeout after 0\.5s at step ehlo \(reply to EHLO\) -- `,
		},
		{
			Name:     "stalls in the middle of the EHLO reply",
			Script:   smtptest.Script("S: 220 mx ESMTP", "C: EHLO .+", "S: 250-mx", "S: 250-PIPELINING", "HANG"),
			Args:     []string{"-t", "0.5"},
			Deadline: half,
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: timeout after 0\.5s at step ehlo `,
		},
		{
			Name:     "stalls after MAIL",
			Script:   smtptest.Script(smtptest.Greeting(), "C: MAIL FROM:<.*>", "HANG"),
			Args:     []string{"-t", "0.5"},
			Deadline: half,
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: timeout after 0\.5s at step mail \(reply to MAIL\) -- `,
		},
		{
			Name:     "stalls after RCPT",
			Script:   smtptest.Script(smtptest.Greeting(), smtptest.MailOK(), "C: RCPT TO:<.+>", "HANG"),
			Args:     []string{"-t", "0.5", "--rcpt", "postmaster@example.test"},
			Deadline: half,
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: timeout after 0\.5s at step rcpt \(reply to RCPT\) -- `,
		},
		{
			Name:     "stalls after RSET",
			Script:   smtptest.Script(smtptest.Greeting(), smtptest.MailOK(), "C: RSET", "HANG"),
			Args:     []string{"-t", "0.5"},
			Deadline: half,
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: timeout after 0\.5s at step rset `,
		},
		{
			Name:     "stalls after AUTH",
			Script:   smtptest.Script("S: 220 mx ESMTP", "C: EHLO .+", "S: 250-mx", "S: 250 AUTH PLAIN", "C: AUTH PLAIN .+", "HANG"),
			Args:     []string{"-t", "0.5", "-A", "PLAIN", "-U", "u", "-P", "secret"},
			Deadline: half,
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: timeout after 0\.5s at step auth `,
		},
		{
			Name:     "never answers QUIT: timeout at step quit",
			Script:   smtptest.Script(smtptest.Greeting(), smtptest.MailOK(), smtptest.RsetOK(), "C: QUIT", "HANG"),
			Args:     []string{"-t", "0.5"},
			Deadline: half,
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: timeout after 0\.5s at step quit \(reply to QUIT\) -- `,
		},
		{
			// The chosen rule: with -q a QUIT failure of any kind, a
			// timeout included, is ignored.
			Name:     "never answers QUIT with -q is OK",
			Script:   smtptest.Script(smtptest.Greeting(), smtptest.MailOK(), smtptest.RsetOK(), "C: QUIT", "HANG"),
			Args:     []string{"-t", "0.5", "-q"},
			Deadline: half,
			Status:   checkers.OK,
			Output:   `^SMTP OK: 0\.\d{3}s response time, mx\.example\.test ESMTP ready \| .* quit=`,
		},
		{
			Name:     "stalls after STARTTLS",
			Script:   smtptest.Script("S: 220 mx ESMTP", "C: EHLO .+", "S: 250-mx", "S: 250 STARTTLS", "C: STARTTLS", "HANG"),
			Args:     []string{"-t", "0.5", "-S"},
			Deadline: half,
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: timeout after 0\.5s at step starttls \(reply to STARTTLS\) -- `,
		},
		{
			Name:     "accepts STARTTLS, then never answers the ClientHello",
			Script:   smtptest.Script("S: 220 mx ESMTP", "C: EHLO .+", "S: 250-mx", "S: 250 STARTTLS", "C: STARTTLS", "S: 220 go ahead", "HANG"),
			Args:     []string{"-t", "0.5", "-S"},
			Deadline: half,
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: timeout after 0\.5s at step tls \(TLS handshake\) -- `,
		},
		{
			Name:     "implicit TLS, server silent",
			Script:   smtptest.Script("HANG"),
			Args:     []string{"-t", "0.5", "-s"},
			Deadline: half,
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: timeout after 0\.5s at step tls `,
		},
		{
			// A TLS record header announcing 256 bytes, then nothing: the
			// client is inside the handshake, waiting for the record body.
			Name:     "implicit TLS, stalls in the middle of a handshake record",
			Script:   smtptest.Script(`RAW: \x16\x03\x03\x01\x00`, "HANG"),
			Args:     []string{"-t", "0.5", "-s"},
			Deadline: half,
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: timeout after 0\.5s at step tls `,
		},
	})
}

// TestHostileTLSStallAfterServerHello runs a real TLS server whose writes stop
// after the first bytes of its flight: the client has begun to parse the
// ServerHello when the server goes silent.
func TestHostileTLSStallAfterServerHello(t *testing.T) {
	t.Parallel()
	certs := smtptest.NewCerts(t)
	port := smtptest.ServeOnce(t, func(conn net.Conn) {
		sc := &stallingWriter{Conn: conn, budget: 60}
		tc := tls.Server(sc, smtptest.ServerTLS(certs.Valid))
		tc.Handshake() // fails once the client gives up and closes
	})
	expect(t, smtptest.Case{Args: []string{"-H", "127.0.0.1", "-p", port, "-s", "--cafile", certs.CAFile, "-t", "0.5"}, Deadline: 500 * time.Millisecond,
		Status: checkers.CRITICAL, Output: `^SMTP CRITICAL: timeout after 0\.5s at step tls `})
}

// stallingWriter writes budget bytes, then blocks every write until the
// connection's deadline or until the peer closes.
type stallingWriter struct {
	net.Conn
	budget int
}

func (s *stallingWriter) Write(b []byte) (int, error) {
	if s.budget <= 0 {
		// Swallow nothing, send nothing: wait for the client to close.
		buf := make([]byte, 512)
		for {
			if _, err := s.Conn.Read(buf); err != nil {
				return 0, err
			}
		}
	}
	n := min(len(b), s.budget)
	s.budget -= n
	if _, err := s.Conn.Write(b[:n]); err != nil {
		return 0, err
	}
	if n < len(b) {
		return s.Write(b[n:])
	}
	return n, nil
}

// TestHostileDNSDeadline points the resolver at a loopback DNS server that
// never answers: the deadline covers resolution too.
func TestHostileDNSDeadline(t *testing.T) {
	t.Parallel()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go func() { // read and drop every query
		buf := make([]byte, 1500)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	env := processEnviron()
	env.dialer = &net.Dialer{Resolver: &net.Resolver{PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", pc.LocalAddr().String())
		}}}
	// .invalid never resolves for real (RFC 2606) and is not in /etc/hosts.
	smtptest.Expect(t, checkIn(env), smtptest.Case{Args: []string{"-H", "silent-dns.invalid", "-p", "25", "-t", "0.5"}, Deadline: 500 * time.Millisecond,
		Status: checkers.CRITICAL, Output: `^SMTP CRITICAL: timeout after 0\.5s at step connect `})
}

// long makes a string of n copies of c.
func long(c string, n int) string { return strings.Repeat(c, n) }

func TestHostileLimits(t *testing.T) {
	t.Parallel()
	const dl = 2 * time.Second
	manyLines := []string{"S: 220 mx ESMTP", "C: EHLO .+"}
	for i := 0; i < 150; i++ {
		manyLines = append(manyLines, "S: 250-line")
	}
	manyLines = append(manyLines, "S: 250 end", "HANG")
	hundred := []string{"S: 220 mx ESMTP", "C: EHLO .+"}
	for i := 0; i < 99; i++ {
		hundred = append(hundred, "S: 250-EXT"+strings.Repeat("X", i%7))
	}
	hundred = append(hundred, "S: 250 LAST")
	expectCases(t, []smtptest.Case{
		{
			Name:     "banner line over 2000 bytes",
			Script:   smtptest.Script("S: 220 "+long("a", 2100), "HANG"),
			Args:     []string{"-t", "2"},
			Deadline: dl,
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: reply line longer than 2000 bytes at step banner -- `,
		},
		{
			Name:     "EHLO reply line of 2001 bytes with a bare LF",
			Script:   smtptest.Script("S: 220 mx ESMTP", "C: EHLO .+", "RAW: 250 "+long("b", 1997)+`\n`, "HANG"),
			Args:     []string{"-t", "2"},
			Deadline: dl,
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: reply line longer than 2000 bytes at step ehlo -- `,
		},
		{
			Name:     "EHLO reply line of exactly 2000 bytes is accepted",
			Script:   smtptest.Script("S: 220 mx ESMTP", "C: EHLO .+", "S: 250 "+long("c", 1996), smtptest.MailOK(), smtptest.RsetOK(), "C: QUIT", "S: 221 bye"),
			Args:     []string{"-t", "2"},
			Deadline: dl,
			Status:   checkers.OK,
			Output:   `^SMTP OK: `,
		},
		{
			Name:     "reply of 100 lines is accepted",
			Script:   smtptest.Script(hundred, smtptest.MailOK(), smtptest.RsetOK(), "C: QUIT", "S: 221 bye"),
			Args:     []string{"-t", "2"},
			Deadline: dl,
			Status:   checkers.OK,
			Output:   `^SMTP OK: `,
		},
		{
			Name:     "reply over 100 lines",
			Script:   manyLines,
			Args:     []string{"-t", "2"},
			Deadline: dl,
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: reply longer than 100 lines at step ehlo -- `,
		},
		{
			// 64 KiB without a line end, then silence: the reader gives up
			// once its buffer is full instead of growing it.
			Name:     "a line that never ends",
			Script:   smtptest.Script("RAW: 220 "+long("z", 65536), "HANG"),
			Args:     []string{"-t", "2"},
			Deadline: dl,
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: reply line longer than 2000 bytes at step banner -- `,
		},
		{
			Name:     "a short line that never ends times out",
			Script:   smtptest.Script("RAW: 220 still typing", "HANG"),
			Args:     []string{"-t", "0.5"},
			Deadline: 500 * time.Millisecond,
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: timeout after 0\.5s at step banner `,
		},
		{
			Name:     "continuation line changes code",
			Script:   smtptest.Script("S: 220 mx ESMTP", "C: EHLO .+", "S: 250-mx", "S: 251 PIPELINING", "HANG"),
			Args:     []string{"-t", "2"},
			Deadline: dl,
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: malformed reply: continuation line changed code from 250 to 251 at step ehlo -- `,
		},
		{
			Name:     "binary garbage banner",
			Script:   smtptest.Script(`RAW: \x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe\r\n`, "HANG"),
			Args:     []string{"-t", "2"},
			Deadline: dl,
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: malformed reply \(not an SMTP reply code\): \?PNG at step banner -- `,
		},
		{
			Name:     "NUL bytes in the banner",
			Script:   smtptest.Script(`RAW: 220 mx\x00\x00 ESMTP\x00\r\n`, "C: EHLO .+", "S: 250 mx", smtptest.MailOK(), smtptest.RsetOK(), "C: QUIT", "S: 221 bye"),
			Args:     []string{"-t", "2"},
			Deadline: dl,
			Status:   checkers.OK,
			Output:   `^SMTP OK: 0\.\d{3}s response time, mx ESMTP \| `,
		},
		{
			Name:     "NUL bytes instead of a code",
			Script:   smtptest.Script(`RAW: \x00\x00\x00\x00\r\n`, "HANG"),
			Args:     []string{"-t", "2"},
			Deadline: dl,
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: malformed reply \(not an SMTP reply code\):  at step banner -- `,
		},
		{
			Name:     "SSH banner",
			Script:   smtptest.Script("S: SSH-2.0-OpenSSH_9.2", "HANG"),
			Args:     []string{"-t", "2"},
			Deadline: dl,
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: malformed reply \(not an SMTP reply code\): SSH-2\.0-OpenSSH_9\.2 at step banner -- `,
		},
		{
			// An HTTP server says nothing until asked: no banner ever comes.
			Name:     "HTTP server, silent until asked",
			Script:   smtptest.Script("C: EHLO .+", "RAW: HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n<html>400</html>", "CLOSE"),
			Args:     []string{"-t", "0.5"},
			Deadline: 500 * time.Millisecond,
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: timeout after 0\.5s at step banner `,
		},
		{
			Name:     "HTTP response as a banner",
			Script:   smtptest.Script("RAW: HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n", "CLOSE"),
			Args:     []string{"-t", "2"},
			Deadline: dl,
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: malformed reply \(not an SMTP reply code\): HTTP/1\.1 400 Bad Request at step banner -- `,
		},
		{
			Name:     "reply code without space or dash",
			Script:   smtptest.Script("S: 220mx ESMTP", "HANG"),
			Args:     []string{"-t", "2"},
			Deadline: dl,
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: malformed reply \(no space or dash after the code\): 220mx ESMTP at step banner -- `,
		},
		{
			Name:     "closes without a banner",
			Script:   smtptest.Script("CLOSE"),
			Args:     []string{"-t", "2"},
			Deadline: dl,
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: connection closed by server at step banner \(waiting for the banner\) -- `,
		},
		{
			Name:     "closes right after the banner",
			Script:   smtptest.Script("S: 220 mx ESMTP", "CLOSE"),
			Args:     []string{"-t", "2"},
			Deadline: dl,
			Status:   checkers.CRITICAL,
			// the EHLO write may land before or after the close is seen
			Output: `^SMTP CRITICAL: (connection closed by server|.*(reset|broken pipe).*) at step ehlo `,
		},
		{
			Name:     "closes mid-reply after a continuation line",
			Script:   smtptest.Script("S: 220 mx ESMTP", "C: EHLO .+", "S: 250-mx", "RAW: 250-PIPE", "CLOSE"),
			Args:     []string{"-t", "2"},
			Deadline: dl,
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: connection closed by server at step ehlo \(reply to EHLO\) -- `,
		},
		{
			Name:     "closes before the QUIT reply",
			Script:   smtptest.Script(smtptest.Greeting(), smtptest.MailOK(), smtptest.RsetOK(), "C: QUIT", "CLOSE"),
			Args:     []string{"-t", "2"},
			Deadline: dl,
			Status:   checkers.WARNING,
			Output:   `^SMTP WARNING: QUIT failed: connection closed by server at step quit \(reply to QUIT\) -- `,
		},
		{
			Name:     "closes before the QUIT reply with -q",
			Script:   smtptest.Script(smtptest.Greeting(), smtptest.MailOK(), smtptest.RsetOK(), "C: QUIT", "CLOSE"),
			Args:     []string{"-t", "2", "-q"},
			Deadline: dl,
			Status:   checkers.OK,
			Output:   `^SMTP OK: `,
		},
		{
			Name:     "QUIT refused",
			Script:   smtptest.Script(smtptest.Greeting(), smtptest.MailOK(), smtptest.RsetOK(), "C: QUIT", "S: 500 what?"),
			Args:     []string{"-t", "2"},
			Deadline: dl,
			Status:   checkers.WARNING,
			Output:   `^SMTP WARNING: QUIT refused: 500 what\? -- `,
		},
		{
			Name:     "garbage as the QUIT reply",
			Script:   smtptest.Script(smtptest.Greeting(), smtptest.MailOK(), smtptest.RsetOK(), "C: QUIT", "S: bye!"),
			Args:     []string{"-t", "2"},
			Deadline: dl,
			Status:   checkers.WARNING,
			Output:   `^SMTP WARNING: QUIT failed: malformed reply \(not an SMTP reply code\): bye! at step quit -- `,
		},
		{
			Name:     "reply code out of range",
			Script:   smtptest.Script("S: 999 what", "HANG"),
			Args:     []string{"-t", "2"},
			Deadline: dl,
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: malformed reply \(not an SMTP reply code\): 999 what at step banner -- `,
		},
	})
}

func TestSanitizing(t *testing.T) {
	t.Parallel()
	const dl = 2 * time.Second
	longText := long("y", 500)
	expectCases(t, []smtptest.Case{
		{
			Name:     "pipe, CR, ESC and NUL in a rejection and the transcript",
			Script:   smtptest.Script(smtptest.Greeting(), "C: MAIL FROM:<.*>", `RAW: 550 5.7.1 no|pe\r\x1b[31mred\x00\x07 end\r\n`, "C: QUIT", "S: 221 bye"),
			Args:     []string{"-t", "2", "-v"},
			Deadline: dl,
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: MAIL FROM rejected at step mail: 550 5\.7\.1 no¦pe\[31mred end -- [^\n]* \| [^\n]*\n(.*\n)*S: 550 5\.7\.1 no¦pe\[31mred end\n`,
		},
		{
			Name:     "pipe in the banner of an OK check",
			Script:   smtptest.Script(`RAW: 220 mx|ESMTP \x1b]0;title\x07\r\n`, "C: EHLO .+", "S: 250 mx", smtptest.MailOK(), smtptest.RsetOK(), "C: QUIT", "S: 221 bye"),
			Args:     []string{"-t", "2", "-v"},
			Deadline: dl,
			Status:   checkers.OK,
			Output:   `^SMTP OK: 0\.\d{3}s response time, mx¦ESMTP \]0,title \| `,
		},
		{
			Name:     "long rejection cut at 300 characters with an ellipsis",
			Script:   smtptest.Script(smtptest.Greeting(), "C: MAIL FROM:<.*>", "S: 550 "+longText, "C: QUIT", "S: 221 bye"),
			Args:     []string{"-t", "2"},
			Deadline: dl,
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: MAIL FROM rejected at step mail: 550 y{296}\.\.\. -- `,
		},
		{
			Name:     "long malformed line cut at 300 characters",
			Script:   smtptest.Script("S: x"+longText, "HANG"),
			Args:     []string{"-t", "2"},
			Deadline: dl,
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: malformed reply \(not an SMTP reply code\): xy{299}\.\.\. at step banner -- `,
		},
		{
			Name:     "long greeting cut shorter in the OK summary",
			Script:   smtptest.Script("S: 220 "+longText, "C: EHLO .+", "S: 250 mx", smtptest.MailOK(), smtptest.RsetOK(), "C: QUIT", "S: 221 bye"),
			Args:     []string{"-t", "2"},
			Deadline: dl,
			Status:   checkers.OK,
			Output:   `^SMTP OK: 0\.\d{3}s response time, y{80}\.\.\. \| `,
		},
		{
			Name:     "invalid UTF-8 becomes ?",
			Script:   smtptest.Script(smtptest.Greeting(), "C: MAIL FROM:<.*>", `RAW: 550 bad \xff\xfe bytes\r\n`, "C: QUIT", "S: 221 bye"),
			Args:     []string{"-t", "2"},
			Deadline: dl,
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: MAIL FROM rejected at step mail: 550 bad \?\? bytes -- `,
		},
	})
}

// TestCutKeepsRunes: the ellipsis never splits a multi-byte character.
func TestCutKeepsRunes(t *testing.T) {
	t.Parallel()
	s := text.Quote(strings.Repeat("é", 400), nil)
	if !strings.HasSuffix(s, "...") || len(s) > text.MaxQuoted+3 {
		t.Errorf("cut to %d bytes: %q", len(s), s)
	}
	if strings.ContainsRune(s, '\uFFFD') || !strings.HasPrefix(s, "éé") {
		t.Errorf("cut split a rune: %q", s)
	}
}
