package checksmtp

import (
	"context"
	"crypto/tls"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/check-smtp/check-smtp/lib/internal/text"
	"github.com/mackerelio/checkers"
)

// hostileCase is a server that misbehaves. deadline is the -t given, used
// only for the "never hangs" guard: run() must return within deadline plus a
// generous slack. That guard is not a speed assertion; it fails only when
// something ignores the deadline altogether.
type hostileCase struct {
	name     string
	script   []string
	args     []string
	deadline time.Duration
	status   checkers.Status
	message  string // regexp over the whole stdout
}

const hangSlack = 5 * time.Second

func runHostileCases(t *testing.T, cases []hostileCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := startMock(t, tc.script...)
			args := append([]string{"-H", "127.0.0.1", "-p", m.port()}, tc.args...)
			out, status := runGuarded(t, args, tc.deadline)
			if status != tc.status {
				t.Errorf("status %v, want %v\noutput: %s", status, tc.status, out)
			}
			if !regexp.MustCompile(tc.message).MatchString(out) {
				t.Errorf("output does not match %q:\n%s", tc.message, out)
			}
			assertPluginOutput(t, out)
		})
	}
}

// runGuarded calls run(args) and fails the test if it does not return within
// deadline+hangSlack (the test goes on waiting, so a hang is still visible as
// a test timeout, but the failure names the case first).
func runGuarded(t *testing.T, args []string, deadline time.Duration) (string, checkers.Status) {
	t.Helper()
	return runGuardedIn(t, processEnviron(), args, deadline)
}

// runGuardedIn is runGuarded with the outside world given.
func runGuardedIn(t *testing.T, env environ, args []string, deadline time.Duration) (string, checkers.Status) {
	t.Helper()
	type ret struct {
		out    string
		status checkers.Status
	}
	done := make(chan ret, 1)
	go func() {
		ckr := runIn(env, args)
		done <- ret{format(ckr), ckr.Status}
	}()
	select {
	case r := <-done:
		return r.out, r.status
	case <-time.After(deadline + hangSlack):
		t.Errorf("run(%q) still running %v after a deadline of %v", args, hangSlack, deadline)
		r := <-done
		return r.out, r.status
	}
}

// assertPluginOutput checks what every output must be: one status line
// first, a newline at the end, no recovered panic, no "|" except the one
// before the perfdata, no control characters but the line breaks.
func assertPluginOutput(t *testing.T, out string) {
	t.Helper()
	if !regexp.MustCompile(`^SMTP (OK|WARNING|CRITICAL|UNKNOWN): `).MatchString(out) {
		t.Errorf("output does not start with a status line:\n%q", out)
	}
	if !strings.HasSuffix(out, "\n") {
		t.Errorf("output does not end with a newline: %q", out)
	}
	if strings.Contains(out, "internal error") {
		t.Errorf("a panic was recovered:\n%s", out)
	}
	if n := strings.Count(out, "|"); n > 1 {
		t.Errorf("%d '|' in the output, at most the perfdata one allowed:\n%s", n, out)
	}
	if i := strings.IndexByte(out, '|'); i >= 0 && strings.Contains(out[:i], "\n") {
		t.Errorf("the '|' is not on the status line:\n%s", out)
	}
	for _, r := range strings.TrimSuffix(out, "\n") {
		if r != '\n' && (r < 0x20 || r == 0x7f) {
			t.Errorf("control character %U in the output:\n%q", r, out)
			break
		}
	}
}

// trickle sends text one byte at a time with a pause before each byte, as
// a script: far slower than the deadline in total, every read quick.
func trickle(text string, pause time.Duration) []string {
	var s []string
	for _, c := range []byte(text) {
		s = append(s, "SLEEP "+pause.String(), "RAW: "+string(c))
	}
	return s
}

// Script fragments: a RCPT line, an accepted MAIL and an accepted RSET.
var (
	rcptTo = []string{"C: RCPT TO:<.+>"}
	mailOK = []string{"C: MAIL FROM:<.*>", "S: 250 2.1.0 Ok"}
	rsetOK = []string{"C: RSET", "S: 250 2.0.0 Ok"}
)

func TestHostileDeadline(t *testing.T) {
	t.Parallel()
	const half = 500 * time.Millisecond
	runHostileCases(t, []hostileCase{
		{
			name:     "accepts and never sends the banner",
			script:   script("HANG"),
			args:     []string{"-t", "0.5"},
			deadline: half,
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: timeout after 0\.5s at step banner \(waiting for the banner\): nothing received, an implicit-TLS port\? try -s -- `,
		},
		{
			name:     "banner one byte at a time, every read quick",
			script:   trickle("220 slow.example.test ESMTP\r\n", 100*time.Millisecond),
			args:     []string{"-t", "0.5"},
			deadline: half,
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: timeout after 0\.5s at step banner `,
		},
		{
			name:     "timeout state from -t N:STATE",
			script:   script("HANG"),
			args:     []string{"-t", "0.5:UNKNOWN"},
			deadline: half,
			status:   checkers.UNKNOWN,
			message:  `^SMTP UNKNOWN: timeout after 0\.5s at step banner `,
		},
		{
			name:     "timeout state as a number",
			script:   script("HANG"),
			args:     []string{"-t", "0.5:1"},
			deadline: half,
			status:   checkers.WARNING,
			message:  `^SMTP WARNING: timeout after 0\.5s at step banner `,
		},
		{
			name:     "stalls after EHLO",
			script:   script("S: 220 mx ESMTP", "C: EHLO .+", "HANG"),
			args:     []string{"-t", "0.5"},
			deadline: half,
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: timeout after 0\.5s at step ehlo \(reply to EHLO\) -- `,
		},
		{
			name:     "stalls in the middle of the EHLO reply",
			script:   script("S: 220 mx ESMTP", "C: EHLO .+", "S: 250-mx", "S: 250-PIPELINING", "HANG"),
			args:     []string{"-t", "0.5"},
			deadline: half,
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: timeout after 0\.5s at step ehlo `,
		},
		{
			name:     "stalls after MAIL",
			script:   script(scriptGreeting, "C: MAIL FROM:<.*>", "HANG"),
			args:     []string{"-t", "0.5"},
			deadline: half,
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: timeout after 0\.5s at step mail \(reply to MAIL\) -- `,
		},
		{
			name:     "stalls after RCPT",
			script:   script(scriptGreeting, mailOK, rcptTo, "HANG"),
			args:     []string{"-t", "0.5", "--rcpt", "postmaster@example.test"},
			deadline: half,
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: timeout after 0\.5s at step rcpt \(reply to RCPT\) -- `,
		},
		{
			name:     "stalls after RSET",
			script:   script(scriptGreeting, mailOK, "C: RSET", "HANG"),
			args:     []string{"-t", "0.5"},
			deadline: half,
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: timeout after 0\.5s at step rset `,
		},
		{
			name:     "stalls after AUTH",
			script:   script("S: 220 mx ESMTP", "C: EHLO .+", "S: 250-mx", "S: 250 AUTH PLAIN", "C: AUTH PLAIN .+", "HANG"),
			args:     []string{"-t", "0.5", "-A", "PLAIN", "-U", "u", "-P", "secret"},
			deadline: half,
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: timeout after 0\.5s at step auth `,
		},
		{
			name:     "never answers QUIT: timeout at step quit",
			script:   script(scriptGreeting, mailOK, rsetOK, "C: QUIT", "HANG"),
			args:     []string{"-t", "0.5"},
			deadline: half,
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: timeout after 0\.5s at step quit \(reply to QUIT\) -- `,
		},
		{
			// The chosen rule: with -q a QUIT failure of any kind, a
			// timeout included, is ignored.
			name:     "never answers QUIT with -q is OK",
			script:   script(scriptGreeting, mailOK, rsetOK, "C: QUIT", "HANG"),
			args:     []string{"-t", "0.5", "-q"},
			deadline: half,
			status:   checkers.OK,
			message:  `^SMTP OK: 0\.\d{3}s response time, mx\.example\.test ESMTP ready \| .* quit=`,
		},
		{
			name:     "stalls after STARTTLS",
			script:   script("S: 220 mx ESMTP", "C: EHLO .+", "S: 250-mx", "S: 250 STARTTLS", "C: STARTTLS", "HANG"),
			args:     []string{"-t", "0.5", "-S"},
			deadline: half,
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: timeout after 0\.5s at step starttls \(reply to STARTTLS\) -- `,
		},
		{
			name:     "accepts STARTTLS, then never answers the ClientHello",
			script:   script("S: 220 mx ESMTP", "C: EHLO .+", "S: 250-mx", "S: 250 STARTTLS", "C: STARTTLS", "S: 220 go ahead", "HANG"),
			args:     []string{"-t", "0.5", "-S"},
			deadline: half,
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: timeout after 0\.5s at step tls \(TLS handshake\) -- `,
		},
		{
			name:     "implicit TLS, server silent",
			script:   script("HANG"),
			args:     []string{"-t", "0.5", "-s"},
			deadline: half,
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: timeout after 0\.5s at step tls `,
		},
		{
			// A TLS record header announcing 256 bytes, then nothing: the
			// client is inside the handshake, waiting for the record body.
			name:     "implicit TLS, stalls in the middle of a handshake record",
			script:   script(`RAW: \x16\x03\x03\x01\x00`, "HANG"),
			args:     []string{"-t", "0.5", "-s"},
			deadline: half,
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: timeout after 0\.5s at step tls `,
		},
	})
}

// TestHostileTLSStallAfterServerHello runs a real TLS server whose writes stop
// after the first bytes of its flight: the client has begun to parse the
// ServerHello when the server goes silent.
func TestHostileTLSStallAfterServerHello(t *testing.T) {
	t.Parallel()
	certs := newTestCerts(t)
	port := serveOnce(t, func(conn net.Conn) {
		sc := &stallingWriter{Conn: conn, budget: 60}
		tc := tls.Server(sc, certTestServerTLS(certs.valid))
		tc.Handshake() // fails once the client gives up and closes
	})
	out, status := runGuarded(t, []string{"-H", "127.0.0.1", "-p", port, "-s", "--cafile", certs.caFile, "-t", "0.5"}, 500*time.Millisecond)
	if status != checkers.CRITICAL || !strings.HasPrefix(out, "SMTP CRITICAL: timeout after 0.5s at step tls ") {
		t.Errorf("got %v:\n%s", status, out)
	}
	assertPluginOutput(t, out)
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
	out, status := runGuardedIn(t, env, []string{"-H", "silent-dns.invalid", "-p", "25", "-t", "0.5"}, 500*time.Millisecond)
	if status != checkers.CRITICAL || !strings.HasPrefix(out, "SMTP CRITICAL: timeout after 0.5s at step connect ") {
		t.Errorf("got %v:\n%s", status, out)
	}
	assertPluginOutput(t, out)
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
	runHostileCases(t, []hostileCase{
		{
			name:     "banner line over 2000 bytes",
			script:   script("S: 220 "+long("a", 2100), "HANG"),
			args:     []string{"-t", "2"},
			deadline: dl,
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: reply line longer than 2000 bytes at step banner -- `,
		},
		{
			name:     "EHLO reply line of 2001 bytes with a bare LF",
			script:   script("S: 220 mx ESMTP", "C: EHLO .+", "RAW: 250 "+long("b", 1997)+`\n`, "HANG"),
			args:     []string{"-t", "2"},
			deadline: dl,
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: reply line longer than 2000 bytes at step ehlo -- `,
		},
		{
			name:     "EHLO reply line of exactly 2000 bytes is accepted",
			script:   script("S: 220 mx ESMTP", "C: EHLO .+", "S: 250 "+long("c", 1996), mailOK, rsetOK, "C: QUIT", "S: 221 bye"),
			args:     []string{"-t", "2"},
			deadline: dl,
			status:   checkers.OK,
			message:  `^SMTP OK: `,
		},
		{
			name:     "reply of 100 lines is accepted",
			script:   script(hundred, mailOK, rsetOK, "C: QUIT", "S: 221 bye"),
			args:     []string{"-t", "2"},
			deadline: dl,
			status:   checkers.OK,
			message:  `^SMTP OK: `,
		},
		{
			name:     "reply over 100 lines",
			script:   manyLines,
			args:     []string{"-t", "2"},
			deadline: dl,
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: reply longer than 100 lines at step ehlo -- `,
		},
		{
			// 64 KiB without a line end, then silence: the reader gives up
			// once its buffer is full instead of growing it.
			name:     "a line that never ends",
			script:   script("RAW: 220 "+long("z", 65536), "HANG"),
			args:     []string{"-t", "2"},
			deadline: dl,
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: reply line longer than 2000 bytes at step banner -- `,
		},
		{
			name:     "a short line that never ends times out",
			script:   script("RAW: 220 still typing", "HANG"),
			args:     []string{"-t", "0.5"},
			deadline: 500 * time.Millisecond,
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: timeout after 0\.5s at step banner `,
		},
		{
			name:     "continuation line changes code",
			script:   script("S: 220 mx ESMTP", "C: EHLO .+", "S: 250-mx", "S: 251 PIPELINING", "HANG"),
			args:     []string{"-t", "2"},
			deadline: dl,
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: malformed reply: continuation line changed code from 250 to 251 at step ehlo -- `,
		},
		{
			name:     "binary garbage banner",
			script:   script(`RAW: \x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe\r\n`, "HANG"),
			args:     []string{"-t", "2"},
			deadline: dl,
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: malformed reply \(not an SMTP reply code\): \?PNG at step banner -- `,
		},
		{
			name:     "NUL bytes in the banner",
			script:   script(`RAW: 220 mx\x00\x00 ESMTP\x00\r\n`, "C: EHLO .+", "S: 250 mx", mailOK, rsetOK, "C: QUIT", "S: 221 bye"),
			args:     []string{"-t", "2"},
			deadline: dl,
			status:   checkers.OK,
			message:  `^SMTP OK: 0\.\d{3}s response time, mx ESMTP \| `,
		},
		{
			name:     "NUL bytes instead of a code",
			script:   script(`RAW: \x00\x00\x00\x00\r\n`, "HANG"),
			args:     []string{"-t", "2"},
			deadline: dl,
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: malformed reply \(not an SMTP reply code\):  at step banner -- `,
		},
		{
			name:     "SSH banner",
			script:   script("S: SSH-2.0-OpenSSH_9.2", "HANG"),
			args:     []string{"-t", "2"},
			deadline: dl,
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: malformed reply \(not an SMTP reply code\): SSH-2\.0-OpenSSH_9\.2 at step banner -- `,
		},
		{
			// An HTTP server says nothing until asked: no banner ever comes.
			name:     "HTTP server, silent until asked",
			script:   script("C: EHLO .+", "RAW: HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n<html>400</html>", "CLOSE"),
			args:     []string{"-t", "0.5"},
			deadline: 500 * time.Millisecond,
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: timeout after 0\.5s at step banner `,
		},
		{
			name:     "HTTP response as a banner",
			script:   script("RAW: HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n", "CLOSE"),
			args:     []string{"-t", "2"},
			deadline: dl,
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: malformed reply \(not an SMTP reply code\): HTTP/1\.1 400 Bad Request at step banner -- `,
		},
		{
			name:     "reply code without space or dash",
			script:   script("S: 220mx ESMTP", "HANG"),
			args:     []string{"-t", "2"},
			deadline: dl,
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: malformed reply \(no space or dash after the code\): 220mx ESMTP at step banner -- `,
		},
		{
			name:     "closes without a banner",
			script:   script("CLOSE"),
			args:     []string{"-t", "2"},
			deadline: dl,
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: connection closed by server at step banner \(waiting for the banner\) -- `,
		},
		{
			name:     "closes right after the banner",
			script:   script("S: 220 mx ESMTP", "CLOSE"),
			args:     []string{"-t", "2"},
			deadline: dl,
			status:   checkers.CRITICAL,
			// the EHLO write may land before or after the close is seen
			message: `^SMTP CRITICAL: (connection closed by server|.*(reset|broken pipe).*) at step ehlo `,
		},
		{
			name:     "closes mid-reply after a continuation line",
			script:   script("S: 220 mx ESMTP", "C: EHLO .+", "S: 250-mx", "RAW: 250-PIPE", "CLOSE"),
			args:     []string{"-t", "2"},
			deadline: dl,
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: connection closed by server at step ehlo \(reply to EHLO\) -- `,
		},
		{
			name:     "closes before the QUIT reply",
			script:   script(scriptGreeting, mailOK, rsetOK, "C: QUIT", "CLOSE"),
			args:     []string{"-t", "2"},
			deadline: dl,
			status:   checkers.WARNING,
			message:  `^SMTP WARNING: QUIT failed: connection closed by server at step quit \(reply to QUIT\) -- `,
		},
		{
			name:     "closes before the QUIT reply with -q",
			script:   script(scriptGreeting, mailOK, rsetOK, "C: QUIT", "CLOSE"),
			args:     []string{"-t", "2", "-q"},
			deadline: dl,
			status:   checkers.OK,
			message:  `^SMTP OK: `,
		},
		{
			name:     "QUIT refused",
			script:   script(scriptGreeting, mailOK, rsetOK, "C: QUIT", "S: 500 what?"),
			args:     []string{"-t", "2"},
			deadline: dl,
			status:   checkers.WARNING,
			message:  `^SMTP WARNING: QUIT refused: 500 what\? -- `,
		},
		{
			name:     "garbage as the QUIT reply",
			script:   script(scriptGreeting, mailOK, rsetOK, "C: QUIT", "S: bye!"),
			args:     []string{"-t", "2"},
			deadline: dl,
			status:   checkers.WARNING,
			message:  `^SMTP WARNING: QUIT failed: malformed reply \(not an SMTP reply code\): bye! at step quit -- `,
		},
		{
			name:     "reply code out of range",
			script:   script("S: 999 what", "HANG"),
			args:     []string{"-t", "2"},
			deadline: dl,
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: malformed reply \(not an SMTP reply code\): 999 what at step banner -- `,
		},
	})
}

func TestSanitizing(t *testing.T) {
	t.Parallel()
	const dl = 2 * time.Second
	longText := long("y", 500)
	runHostileCases(t, []hostileCase{
		{
			name:     "pipe, CR, ESC and NUL in a rejection and the transcript",
			script:   script(scriptGreeting, "C: MAIL FROM:<.*>", `RAW: 550 5.7.1 no|pe\r\x1b[31mred\x00\x07 end\r\n`, "C: QUIT", "S: 221 bye"),
			args:     []string{"-t", "2", "-v"},
			deadline: dl,
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: MAIL FROM rejected at step mail: 550 5\.7\.1 no¦pe\[31mred end -- [^\n]* \| [^\n]*\n(.*\n)*S: 550 5\.7\.1 no¦pe\[31mred end\n`,
		},
		{
			name:     "pipe in the banner of an OK check",
			script:   script(`RAW: 220 mx|ESMTP \x1b]0;title\x07\r\n`, "C: EHLO .+", "S: 250 mx", mailOK, rsetOK, "C: QUIT", "S: 221 bye"),
			args:     []string{"-t", "2", "-v"},
			deadline: dl,
			status:   checkers.OK,
			message:  `^SMTP OK: 0\.\d{3}s response time, mx¦ESMTP \]0,title \| `,
		},
		{
			name:     "long rejection cut at 300 characters with an ellipsis",
			script:   script(scriptGreeting, "C: MAIL FROM:<.*>", "S: 550 "+longText, "C: QUIT", "S: 221 bye"),
			args:     []string{"-t", "2"},
			deadline: dl,
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: MAIL FROM rejected at step mail: 550 y{296}\.\.\. -- `,
		},
		{
			name:     "long malformed line cut at 300 characters",
			script:   script("S: x"+longText, "HANG"),
			args:     []string{"-t", "2"},
			deadline: dl,
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: malformed reply \(not an SMTP reply code\): xy{299}\.\.\. at step banner -- `,
		},
		{
			name:     "long greeting cut shorter in the OK summary",
			script:   script("S: 220 "+longText, "C: EHLO .+", "S: 250 mx", mailOK, rsetOK, "C: QUIT", "S: 221 bye"),
			args:     []string{"-t", "2"},
			deadline: dl,
			status:   checkers.OK,
			message:  `^SMTP OK: 0\.\d{3}s response time, y{80}\.\.\. \| `,
		},
		{
			name:     "invalid UTF-8 becomes ?",
			script:   script(scriptGreeting, "C: MAIL FROM:<.*>", `RAW: 550 bad \xff\xfe bytes\r\n`, "C: QUIT", "S: 221 bye"),
			args:     []string{"-t", "2"},
			deadline: dl,
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: MAIL FROM rejected at step mail: 550 bad \?\? bytes -- `,
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
