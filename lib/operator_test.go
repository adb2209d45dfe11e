package checksmtp

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/check-smtp/check-smtp/lib/internal/probe"
	"github.com/mackerelio/checkers"
)

// Operator features (issue #5): LMTP and unix sockets, -e, -C/-R, PROXY,
// address family, -t N:STATE, --status-as, --extra-opts and the aliases,
// each driven over a real loopback socket.

// lmtpGreeting is what Dovecot's LMTP service says before MAIL.
var lmtpGreeting = []string{"S: 220 lmtp.example.test Dovecot ready.", "C: LHLO .+",
	"S: 250-lmtp.example.test", "S: 250-8BITMIME", "S: 250-ENHANCEDSTATUSCODES", "S: 250 PIPELINING"}

// runOut runs the check and returns its status and whole stdout.
func runOut(args ...string) (checkers.Status, string) {
	ckr := run(args)
	return ckr.Status, format(ckr)
}

// expectRun runs args and checks status and output (a regexp over stdout).
func expectRun(t *testing.T, args []string, status checkers.Status, pattern string) string {
	t.Helper()
	st, out := runOut(args...)
	if st != status {
		t.Errorf("%q: status %v, want %v\noutput: %s", args, st, status, out)
	}
	if !regexp.MustCompile(pattern).MatchString(out) {
		t.Errorf("%q: output does not match %q:\n%s", args, pattern, out)
	}
	return out
}

// scriptDone fails the test if the server script did not run cleanly.
func scriptDone(t *testing.T, m *mockServer, out string) {
	t.Helper()
	if probs := m.done(); len(probs) > 0 {
		t.Errorf("server script: %v\noutput: %s", probs, out)
	}
}

// unixListener listens on a socket in a fresh temporary directory. Socket
// paths are limited to about 100 bytes, so a long t.TempDir() gives way to
// a short directory of our own.
func unixListener(t *testing.T) (net.Listener, string) {
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

// listenV6 listens on [::1]; the test is skipped on a host without IPv6 loopback.
func listenV6(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	return ln
}

func TestLMTP(t *testing.T) {
	runMockCases(t, []mockCase{
		{
			name:     "-L sends LHLO and reads the LMTP greeting",
			script:   script(lmtpGreeting, scriptTail),
			args:     []string{"-L"},
			status:   checkers.OK,
			message:  `^SMTP OK: \d+\.\d{3}s response time, lmtp\.example\.test Dovecot ready\. \| time=\S+ connect=\S+ banner=\S+ ehlo=\S+ mail=\S+ rset=\S+ quit=\S+\n$`,
			scriptOK: true,
		},
		{
			name:     "--lmtp long form",
			script:   script(lmtpGreeting, scriptTail),
			args:     []string{"--lmtp"},
			status:   checkers.OK,
			message:  `^SMTP OK: `,
			scriptOK: true,
		},
		{
			// The script goes straight from the refused LHLO to QUIT: a HELO
			// fallback would break it.
			name:     "LMTP against an SMTP server is CRITICAL without HELO fallback",
			script:   []string{"S: 220 mx.example.test ESMTP Postfix", "C: LHLO .+", "S: 500 5.5.2 Error: command not recognized", "C: QUIT", "S: 221 2.0.0 Bye"},
			args:     []string{"-L"},
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: LHLO refused at step ehlo \(is this an LMTP server\?\): 500 5\.5\.2 Error: command not recognized -- `,
			scriptOK: true,
		},
		{
			name: "EHLO against an LMTP server is CRITICAL and hints -L",
			script: []string{"S: 220 lmtp.example.test Dovecot ready.", "C: EHLO .+", "S: 500 5.5.1 Unknown command", "C: HELO .+",
				"S: 500 5.5.1 Unknown command", "C: QUIT", "S: 221 2.0.0 Bye"},
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: EHLO and HELO both refused at step ehlo \(an LMTP server\? use -L\): EHLO: 500 5\.5\.1 Unknown command, then HELO: 500 5\.5\.1 Unknown command -- `,
			scriptOK: true,
		},
	})
}

func TestUnixSocket(t *testing.T) {
	t.Run("LMTP over a unix socket", func(t *testing.T) {
		t.Parallel()
		ln, path := unixListener(t)
		m := serveMock(t, ln, script(lmtpGreeting, scriptTail))
		out := expectRun(t, []string{"-H", path, "-L"}, checkers.OK,
			`^SMTP OK: \d+\.\d{3}s response time, lmtp\.example\.test Dovecot ready\. \| time=\d+\.\d{6}s;;;0 connect=\d+\.\d{6}s;;;0 banner=\S+ ehlo=\S+ mail=\S+ rset=\S+ quit=\S+\n$`)
		scriptDone(t, m, out)
	})
	t.Run("SMTP over a unix socket, -p ignored", func(t *testing.T) {
		t.Parallel()
		ln, path := unixListener(t)
		m := serveMock(t, ln, script(scriptGreeting, scriptTail))
		out := expectRun(t, []string{"-H", path, "-p", "2525", "-w", "5"}, checkers.OK,
			`^SMTP OK: \S+ response time, mx\.example\.test ESMTP ready \| time=\S+;5;;0 connect=`)
		scriptDone(t, m, out)
	})
	t.Run("no socket at the path is CRITICAL", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "absent.sock")
		expectRun(t, []string{"-H", path}, checkers.CRITICAL, `^SMTP CRITICAL: no socket at `+regexp.QuoteMeta(path))
	})
	t.Run("a relative path is not a host", func(t *testing.T) {
		t.Parallel()
		optionError(t, []string{"-H", "run/dovecot/lmtp"}, `-H "run/dovecot/lmtp" is not a host name, an IP address or an absolute socket path`)
	})
}

func TestExpect(t *testing.T) {
	runMockCases(t, []mockCase{
		{
			name:     "default 220 is found in the banner",
			script:   script(scriptGreeting, scriptTail),
			status:   checkers.OK,
			message:  `^SMTP OK: `,
			scriptOK: true,
		},
		{
			// The only way the default can miss: a 2xx banner that is not 220.
			name:     "default 220 missing from banner and EHLO reply is WARNING",
			script:   script("S: 250 odd.example.test hello", "C: EHLO .+", "S: 250 odd.example.test", scriptTail),
			status:   checkers.WARNING,
			message:  `^SMTP WARNING: neither the banner nor the EHLO reply contains "220": 250 odd\.example\.test hello -- `,
			scriptOK: true,
		},
		{
			name:     "-e matching the banner",
			script:   script(scriptGreeting, scriptTail),
			args:     []string{"-e", "ESMTP"},
			status:   checkers.OK,
			message:  `^SMTP OK: `,
			scriptOK: true,
		},
		{
			name:     "-e matching only the EHLO reply",
			script:   script(scriptGreeting, scriptTail),
			args:     []string{"-e", "PIPELINING"},
			status:   checkers.OK,
			message:  `^SMTP OK: `,
			scriptOK: true,
		},
		{
			name:     "--expect mismatch is WARNING quoting the banner, and the conversation goes on",
			script:   script(scriptGreeting, scriptTail),
			args:     []string{"--expect", "Postfix"},
			status:   checkers.WARNING,
			message:  `^SMTP WARNING: neither the banner nor the EHLO reply contains "Postfix": 220 mx\.example\.test ESMTP ready -- \S+ response time, .* quit=`,
			scriptOK: true,
		},
		{
			name:     "-e with LMTP looks at the LHLO reply",
			script:   script(lmtpGreeting, scriptTail),
			args:     []string{"-L", "-e", "ENHANCEDSTATUSCODES"},
			status:   checkers.OK,
			message:  `^SMTP OK: `,
			scriptOK: true,
		},
	})
}

// cmdScript is a conversation with the given extra command exchanges
// between MAIL and RSET.
func cmdScript(exchanges ...string) []string {
	return script(scriptGreeting, "C: MAIL FROM:<>", "S: 250 2.1.0 Ok", exchanges,
		"C: RSET", "S: 250 2.0.0 Ok", "C: QUIT", "S: 221 2.0.0 Bye")
}

func TestCommandResponse(t *testing.T) {
	runMockCases(t, []mockCase{
		{
			name:     "reply matches -R",
			script:   cmdScript("C: VRFY postmaster", "S: 252 2.0.0 postmaster"),
			args:     []string{"-C", "VRFY postmaster", "-R", "^252 "},
			status:   checkers.OK,
			message:  `^SMTP OK: .* mail=\S+ command=\S+ rset=`,
			scriptOK: true,
		},
		{
			name:     "mismatch is WARNING naming the command and quoting the reply",
			script:   cmdScript("C: VRFY postmaster", "S: 252 2.0.0 Cannot VRFY user"),
			args:     []string{"--command", "VRFY postmaster", "--response", "^250"},
			status:   checkers.WARNING,
			message:  `^SMTP WARNING: reply to -C "VRFY postmaster" does not match -R "\^250": 252 2\.0\.0 Cannot VRFY user -- `,
			scriptOK: true,
		},
		{
			name:     "a later match does not clear an earlier mismatch",
			script:   cmdScript("C: NOOP", "S: 250 2.0.0 Ok", "C: VRFY postmaster", "S: 252 2.0.0 postmaster"),
			args:     []string{"-C", "NOOP", "-R", "^251", "-C", "VRFY postmaster", "-R", "^252"},
			status:   checkers.WARNING,
			message:  `^SMTP WARNING: reply to -C "NOOP" does not match -R "\^251": 250 2\.0\.0 Ok -- [^|]*response time`,
			scriptOK: true,
		},
		{
			name:     "every mismatch is reported",
			script:   cmdScript("C: NOOP", "S: 250 2.0.0 Ok", "C: HELP", "S: 214 2.0.0 see RFC 5321"),
			args:     []string{"-C", "NOOP", "-R", "^251", "-C", "HELP", "-R", "^250"},
			status:   checkers.WARNING,
			message:  `^SMTP WARNING: reply to -C "NOOP" does not match -R "\^251": 250 2\.0\.0 Ok -- reply to -C "HELP" does not match -R "\^250": 214 2\.0\.0 see RFC 5321 -- `,
			scriptOK: true,
		},
		{
			name:     "-C without -R accepts a non-5xx reply",
			script:   cmdScript("C: ETRN example.test", "S: 458 4.3.0 Unable to queue messages"),
			args:     []string{"-C", "ETRN example.test"},
			status:   checkers.OK,
			message:  `^SMTP OK: `,
			scriptOK: true,
		},
		{
			name:     "-C without -R and a 5xx reply is WARNING naming the command",
			script:   cmdScript("C: NOOP", "S: 250 2.0.0 Ok", "C: ETRN example.test", "S: 502 5.5.1 Error: command not implemented"),
			args:     []string{"-C", "NOOP", "-R", "^250", "-C", "ETRN example.test"},
			status:   checkers.WARNING,
			message:  `^SMTP WARNING: -C "ETRN example.test" refused: 502 5\.5\.1 Error: command not implemented -- `,
			scriptOK: true,
		},
		{
			// RFC 5321 allows EHLO again; its reply is multi-line.
			name: "multi-line reply is joined with newlines and keeps its codes",
			script: cmdScript("C: EHLO again.example.test", "S: 250-mx.example.test", "S: 250-SIZE 10240000", "S: 250 8BITMIME",
				"C: HELP", "S: 214-2.0.0 Commands:", "S: 214 2.0.0 End"),
			args: []string{"-C", "EHLO again.example.test", "-R", `(?s)^250-.*\n250 8BITMIME$`,
				"-C", "HELP", "-R", `(?m)^214-2\.0\.0 Commands:\n214 2\.0\.0 End$`},
			status:   checkers.OK,
			message:  `^SMTP OK: `,
			scriptOK: true,
		},
		{
			name:     "multi-line mismatch quotes every line",
			script:   cmdScript("C: HELP", "S: 214-2.0.0 Commands:", "S: 214 2.0.0 End"),
			args:     []string{"-C", "HELP", "-R", `^250`},
			status:   checkers.WARNING,
			message:  `^SMTP WARNING: reply to -C "HELP" does not match -R "\^250": 214-2\.0\.0 Commands: / 214 2\.0\.0 End -- `,
			scriptOK: true,
		},
		{
			name: "commands go after RCPT and before RSET",
			script: script(scriptGreeting, "C: MAIL FROM:<>", "S: 250 2.1.0 Ok", "C: RCPT TO:<postmaster@example.test>", "S: 250 2.1.5 Ok",
				"C: NOOP", "S: 250 2.0.0 Ok", "C: RSET", "S: 250 2.0.0 Ok", "C: QUIT", "S: 221 2.0.0 Bye"),
			args:     []string{"--rcpt", "postmaster@example.test", "-C", "NOOP", "-R", "^250"},
			status:   checkers.OK,
			message:  `^SMTP OK: .* rcpt=\S+ command=\S+ rset=`,
			scriptOK: true,
		},
	})
	t.Run("option errors", func(t *testing.T) {
		t.Parallel()
		optionError(t, []string{"-C", "NOOP", "-R", "^250", "-R", "^251"}, `2 -R given for 1 -C`)
		optionError(t, []string{"-R", "^250"}, `1 -R given for 0 -C`)
		optionError(t, []string{"-C", "NOOP", "-R", "^(250"}, `-R "\^\(250" is not a valid regular expression`)
		optionError(t, []string{"-C", "NOOP\r\nDATA"}, `-C "NOOP\\r\\nDATA" is empty or contains a line break`)
	})
}

func TestProxy(t *testing.T) {
	t.Run("v1 header over IPv4 carries the real addresses", func(t *testing.T) {
		t.Parallel()
		m := startMock(t, script("PROXY", scriptGreeting, scriptTail)...)
		out := expectRun(t, []string{"-H", "127.0.0.1", "-p", m.port(), "-r", "-v"}, checkers.OK, `^SMTP OK: `)
		scriptDone(t, m, out)
		_, cport, _ := net.SplitHostPort(m.peerAddr().String())
		want := fmt.Sprintf("PROXY TCP4 127.0.0.1 127.0.0.1 %s %s", cport, m.port())
		if m.proxyLine != want {
			t.Errorf("PROXY line %q, want %q", m.proxyLine, want)
		}
		if !strings.Contains(out, "\nC: "+want+"\n") {
			t.Errorf("transcript lacks the PROXY line %q:\n%s", want, out)
		}
	})
	t.Run("v1 header over IPv6", func(t *testing.T) {
		t.Parallel()
		m := serveMock(t, listenV6(t), script("PROXY", scriptGreeting, scriptTail))
		out := expectRun(t, []string{"-H", "::1", "-p", m.port(), "--proxy"}, checkers.OK, `^SMTP OK: `)
		scriptDone(t, m, out)
		_, cport, _ := net.SplitHostPort(m.peerAddr().String())
		if want := fmt.Sprintf("PROXY TCP6 ::1 ::1 %s %s", cport, m.port()); m.proxyLine != want {
			t.Errorf("PROXY line %q, want %q", m.proxyLine, want)
		}
	})
	t.Run("over a unix socket the header is PROXY UNKNOWN", func(t *testing.T) {
		t.Parallel()
		ln, path := unixListener(t)
		m := serveMock(t, ln, script("C: PROXY UNKNOWN", lmtpGreeting, scriptTail))
		out := expectRun(t, []string{"-H", path, "-L", "-r"}, checkers.OK, `^SMTP OK: `)
		scriptDone(t, m, out)
	})
	runMockCases(t, []mockCase{
		{
			// Such a server stays silent until it has read a valid header.
			name:     "a server that requires the header",
			script:   script(`C: PROXY TCP4 127\.0\.0\.1 127\.0\.0\.1 \d+ \d+`, scriptGreeting, scriptTail),
			args:     []string{"-r"},
			status:   checkers.OK,
			message:  `^SMTP OK: `,
			scriptOK: true,
		},
		{
			name:    "a server that requires the header, without -r, times out at the banner",
			script:  script(`C: PROXY .*`, "S: 220 never"),
			args:    []string{"-t", "0.3"},
			status:  checkers.CRITICAL,
			message: `^SMTP CRITICAL: timeout after 0\.3s at step banner`,
		},
		{
			// A plain SMTP server reads the header as a command and refuses
			// it; that reply arrives where the EHLO reply was expected.
			name: "a server that rejects the header is CRITICAL, not a shifted conversation",
			script: []string{"S: 220 mx.example.test ESMTP", "C: PROXY TCP4 .*", "S: 500 5.5.2 Error: command not recognized",
				"C: EHLO .+", "S: 250-mx.example.test", "S: 250 8BITMIME", "C: .*", "S: 250 2.1.0 Ok", "C: .*", "S: 250 2.0.0 Ok", "C: .*", "S: 221 2.0.0 Bye"},
			args:    []string{"-r"},
			status:  checkers.CRITICAL,
			message: `^SMTP CRITICAL: EHLO rejected at step ehlo: 500 5\.5\.2 Error: command not recognized \(.*PROXY.*\) -- `,
		},
		{
			name:    "a server that closes on the header is CRITICAL with a hint",
			script:  []string{"S: 220 mx.example.test ESMTP", "C: PROXY TCP4 .*", "CLOSE"},
			args:    []string{"-r"},
			status:  checkers.CRITICAL,
			message: `^SMTP CRITICAL: connection closed by server at step ehlo \(reply to EHLO\) \(.*PROXY.*\) -- `,
		},
	})
}

func TestAddressFamily(t *testing.T) {
	for _, flag := range []string{"-4", "--ipv4", "--use-ipv4"} {
		t.Run("localhost with "+flag+" connects over 127.0.0.1", func(t *testing.T) {
			t.Parallel()
			m := startMock(t, script(scriptGreeting, scriptTail)...)
			out := expectRun(t, []string{"-H", "localhost", "-p", m.port(), flag}, checkers.OK, `^SMTP OK: `)
			scriptDone(t, m, out)
			if ta, ok := m.peerAddr().(*net.TCPAddr); !ok || !ta.IP.Equal(net.IPv4(127, 0, 0, 1)) {
				t.Errorf("server saw a connection from %v, want 127.0.0.1", m.peerAddr())
			}
		})
	}
	for _, host := range []string{"::1", "[::1]"} {
		for _, extra := range [][]string{nil, {"-6"}, {"--ipv6"}, {"--use-ipv6"}} {
			t.Run(fmt.Sprintf("IPv6 literal %s %v", host, extra), func(t *testing.T) {
				t.Parallel()
				m := serveMock(t, listenV6(t), script(scriptGreeting, scriptTail))
				out := expectRun(t, append([]string{"-H", host, "-p", m.port()}, extra...), checkers.OK, `^SMTP OK: `)
				scriptDone(t, m, out)
				if ta, ok := m.peerAddr().(*net.TCPAddr); !ok || !ta.IP.Equal(net.IPv6loopback) {
					t.Errorf("server saw a connection from %v, want ::1", m.peerAddr())
				}
			})
		}
	}
	t.Run("conflicts", func(t *testing.T) {
		t.Parallel()
		optionError(t, []string{"-4", "-6"}, `-4 and -6 cannot be used together`)
		optionError(t, []string{"--use-ipv4", "--use-ipv6"}, `-4 and -6 cannot be used together`)
		optionError(t, []string{"--ipv4", "--use-ipv6"}, `-4 and -6 cannot be used together`)
		optionError(t, []string{"-6"}, `-6 given but host 127\.0\.0\.1 is an IPv4 address`)
	})
	t.Run("-4 with an IPv6 literal", func(t *testing.T) {
		t.Parallel()
		expectRun(t, []string{"-H", "::1", "-4"}, checkers.UNKNOWN, `^SMTP UNKNOWN: -4 given but host ::1 is an IPv6 address`)
	})
}

func TestTimeoutState(t *testing.T) {
	hang := []string{"HANG"}
	cases := []mockCase{
		{name: "default state is CRITICAL", script: hang, args: []string{"-t", "0.3"},
			status: checkers.CRITICAL, message: `^SMTP CRITICAL: timeout after 0\.3s at step banner \(waiting for the banner\): nothing received, an implicit-TLS port\? try -s -- `},
	}
	for _, tc := range []struct {
		spec   string
		status checkers.Status
	}{
		{"0.3:UNKNOWN", checkers.UNKNOWN}, {"0.3:unknown", checkers.UNKNOWN}, {"0.3:3", checkers.UNKNOWN},
		{"0.3:WARNING", checkers.WARNING}, {"0.3:1", checkers.WARNING},
		{"0.3:critical", checkers.CRITICAL}, {"0.3:2", checkers.CRITICAL},
		{"0.3:OK", checkers.OK}, {"0.3:0", checkers.OK},
	} {
		cases = append(cases, mockCase{name: "-t " + tc.spec, script: hang, args: []string{"-t", tc.spec},
			status: tc.status, message: `^SMTP \w+: timeout after 0\.3s at step banner`})
	}
	cases = append(cases,
		mockCase{name: "the state applies to a timeout at a later step", script: script(scriptGreeting, "C: MAIL FROM:<>", "HANG"),
			args: []string{"--timeout=0.3:warning"}, status: checkers.WARNING, message: `^SMTP WARNING: timeout after 0\.3s at step mail`},
		mockCase{name: "the state does not apply to other failures", script: []string{"S: 554 5.7.1 go away", "C: QUIT", "S: 221 bye"},
			args: []string{"-t", "2:OK"}, status: checkers.CRITICAL, message: `^SMTP CRITICAL: server refused the connection at step banner: 554 5\.7\.1 go away`},
	)
	runMockCases(t, cases)
	t.Run("bad -t", func(t *testing.T) {
		t.Parallel()
		optionError(t, []string{"-t", "1:FOO"}, `-t "1:FOO": unknown state "FOO"`)
		optionError(t, []string{"-t", "0"}, `-t "0": want seconds > 0`)
		optionError(t, []string{"--timeout=-1"}, `-t "-1": want seconds > 0`)
		optionError(t, []string{"-t", "ten"}, `-t "ten": want seconds > 0`)
	})
}

func TestStatusAs(t *testing.T) {
	runMockCases(t, []mockCase{
		{
			name:     "warning=critical turns an -e mismatch CRITICAL, message unchanged",
			script:   script(scriptGreeting, scriptTail),
			args:     []string{"-e", "Postfix", "--status-as", "warning=critical"},
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: neither the banner nor the EHLO reply contains "Postfix": `,
			scriptOK: true,
		},
		{
			name:    "applied after the -t state",
			script:  []string{"HANG"},
			args:    []string{"-t", "0.3:UNKNOWN", "--status-as", "warning=critical,unknown=critical"},
			status:  checkers.CRITICAL,
			message: `^SMTP CRITICAL: timeout after 0\.3s`,
		},
		{
			name:    "-t WARNING then warning=critical",
			script:  []string{"HANG"},
			args:    []string{"-t", "0.3:1", "--status-as", "WARNING=CRITICAL"},
			status:  checkers.CRITICAL,
			message: `^SMTP CRITICAL: timeout after 0\.3s`,
		},
		{
			name:     "an OK result stays OK",
			script:   script(scriptGreeting, scriptTail),
			args:     []string{"--status-as", "warning=critical,unknown=critical"},
			status:   checkers.OK,
			message:  `^SMTP OK: `,
			scriptOK: true,
		},
		{
			name:     "ok=warning remaps OK too",
			script:   script(scriptGreeting, scriptTail),
			args:     []string{"--status-as", "ok=warning"},
			status:   checkers.WARNING,
			message:  `^SMTP WARNING: \S+ response time`,
			scriptOK: true,
		},
	})
	t.Run("option errors", func(t *testing.T) {
		t.Parallel()
		optionError(t, []string{"--status-as", "warning=fatal"}, `--status-as "warning=fatal": `)
		optionError(t, []string{"--status-as", "warning=critical,warning=ok"}, `--status-as "warning=critical,warning=ok": `)
		// Decision: bad options are UNKNOWN whatever --status-as says; a
		// command line that does not parse cannot be trusted to map states.
		optionError(t, []string{"--status-as", "unknown=critical", "-R", "^250"}, `1 -R given for 0 -C`)
	})
}

func TestAliases(t *testing.T) {
	authEHLO := []string{"S: 220 mx.example.test ESMTP ready", "C: EHLO .+", "S: 250-mx.example.test", "S: 250 AUTH PLAIN LOGIN"}
	// base64("\x00nagios\x00s3cret")
	authPlain := []string{"C: AUTH PLAIN AG5hZ2lvcwBzM2NyZXQ=", "S: 235 2.7.0 Authentication successful"}
	t.Run("--hostname", func(t *testing.T) {
		t.Parallel()
		m := startMock(t, script(scriptGreeting, scriptTail)...)
		out := expectRun(t, []string{"--hostname", "127.0.0.1", "-p", m.port()}, checkers.OK, `^SMTP OK: `)
		scriptDone(t, m, out)
	})
	t.Run("host as the first positional argument", func(t *testing.T) {
		t.Parallel()
		m := startMock(t, script(scriptGreeting, scriptTail)...)
		out := expectRun(t, []string{"127.0.0.1", "-p", m.port()}, checkers.OK, `^SMTP OK: `)
		scriptDone(t, m, out)
	})
	t.Run("positional host equal to -H", func(t *testing.T) {
		t.Parallel()
		m := startMock(t, script(scriptGreeting, scriptTail)...)
		out := expectRun(t, []string{"-p", m.port(), "-H", "127.0.0.1", "127.0.0.1"}, checkers.OK, `^SMTP OK: `)
		scriptDone(t, m, out)
	})
	t.Run("--authtype --authuser --authpass", func(t *testing.T) {
		t.Parallel()
		m := startMock(t, script(authEHLO, authPlain, scriptTail)...)
		out := expectRun(t, []string{"-H", "127.0.0.1", "-p", m.port(), "--authtype", "plain", "--authuser", "nagios", "--authpass", "s3cret", "-v"},
			checkers.OK, `^SMTP OK: .* auth=`)
		scriptDone(t, m, out)
		if strings.Contains(out, "s3cret") || strings.Contains(out, "AG5hZ2lvcwBzM2NyZXQ=") {
			t.Errorf("credentials in the output:\n%s", out)
		}
	})
	t.Run("--ssl and --tls are -s", func(t *testing.T) {
		t.Parallel()
		for _, flag := range []string{"--ssl", "--tls", "--smtps"} {
			cfg, err := parseArgs([]string{"-H", "127.0.0.1", flag}, processEnviron())
			if err != nil || cfg.conv.TLS.Mode != probe.ImplicitTLS || cfg.target.Port != 465 {
				t.Errorf("%s: implicit TLS %v, port %v, err %v", flag, cfg != nil && cfg.conv.TLS.Mode == probe.ImplicitTLS, cfg != nil && cfg.target.Port == 465, err)
			}
		}
	})
	t.Run("--no-check-certificate and --ca-file", func(t *testing.T) {
		t.Parallel()
		cfg, err := parseArgs([]string{"-S", "--no-check-certificate"}, processEnviron())
		if err != nil || !cfg.conv.TLS.Insecure {
			t.Errorf("--no-check-certificate: insecure %v, err %v", cfg != nil && cfg.conv.TLS.Insecure, err)
		}
		optionError(t, []string{"-S", "--ca-file", filepath.Join(t.TempDir(), "missing.pem")}, `cannot read --cafile: `)
	})
	t.Run("two hosts", func(t *testing.T) {
		t.Parallel()
		optionError(t, []string{"192.0.2.1"}, `two hosts given: -H "127\.0\.0\.1" and argument "192\.0\.2\.1"`)
		expectRun(t, []string{"127.0.0.1", "192.0.2.1"}, checkers.UNKNOWN, `^SMTP UNKNOWN: unexpected argument "192\.0\.2\.1"`)
	})
}

// writeIni writes an ini file into a temporary directory.
func writeIni(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "plugins.ini")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const iniBody = `# monitoring-plugins style
[check_smtp]
expect=NOPE
rcpt=a@example.test
rcpt=b@example.test

[other]
expect = ESMTP
lmtp=

[aliases]
hostname=127.0.0.1
authtype=PLAIN
authuser=nagios
authpass=s3cret
`

func rcptScript(addrs ...string) []string {
	var ex []string
	for _, a := range addrs {
		ex = append(ex, "C: RCPT TO:<"+regexp.QuoteMeta(a)+">", "S: 250 2.1.5 Ok")
	}
	return cmdScript(ex...)
}

func TestExtraOpts(t *testing.T) {
	file := writeIni(t, iniBody)
	runMockCases(t, []mockCase{
		{
			name:     "default section check_smtp, repeated keys make a list",
			script:   rcptScript("a@example.test", "b@example.test"),
			args:     []string{"--extra-opts=@" + file},
			status:   checkers.WARNING,
			message:  `^SMTP WARNING: neither the banner nor the EHLO reply contains "NOPE"`,
			scriptOK: true,
		},
		{
			name:     "command line wins over the file: scalar and list",
			script:   rcptScript("c@example.test"),
			args:     []string{"--extra-opts=check_smtp@" + file, "-e", "ESMTP", "--rcpt", "c@example.test"},
			status:   checkers.OK,
			message:  `^SMTP OK: `,
			scriptOK: true,
		},
		{
			name:     "command line wins whatever the order",
			script:   rcptScript("c@example.test"),
			args:     []string{"--rcpt", "c@example.test", "-e", "ESMTP", "--extra-opts=@" + file},
			status:   checkers.OK,
			message:  `^SMTP OK: `,
			scriptOK: true,
		},
		{
			name:     "explicit section, flag written key=",
			script:   script(lmtpGreeting, scriptTail),
			args:     []string{"--extra-opts=other@" + file, "-e", "Dovecot"},
			status:   checkers.OK,
			message:  `^SMTP OK: `,
			scriptOK: true,
		},
		{
			name:     "separate value, as monitoring-plugins accepts it",
			script:   script(lmtpGreeting, scriptTail),
			args:     []string{"--extra-opts", "other@" + file, "-e", "Dovecot"},
			status:   checkers.OK,
			message:  `^SMTP OK: `,
			scriptOK: true,
		},
	})
	t.Run("alias keys: hostname, authtype, authpass", func(t *testing.T) {
		t.Parallel()
		m := startMock(t, "S: 220 mx.example.test ESMTP ready", "C: EHLO .+", "S: 250-mx.example.test", "S: 250 AUTH PLAIN",
			"C: AUTH PLAIN AG5hZ2lvcwBzM2NyZXQ=", "S: 235 2.7.0 Ok", "C: MAIL FROM:<>", "S: 250 Ok", "C: RSET", "S: 250 Ok", "C: QUIT", "S: 221 Bye")
		out := expectRun(t, []string{"--extra-opts=aliases@" + file, "-p", m.port()}, checkers.OK, `^SMTP OK: .* auth=`)
		scriptDone(t, m, out)
	})
	t.Run("errors", func(t *testing.T) {
		t.Parallel()
		bad := writeIni(t, "[check_smtp]\nexpect=220\nbogus=1\n")
		optionError(t, []string{"--extra-opts=@" + bad}, `--extra-opts: \S+plugins\.ini:3: unknown option: bogus`)
		optionError(t, []string{"--extra-opts=@" + filepath.Join(t.TempDir(), "none.ini")}, `--extra-opts: cannot read `)
		optionError(t, []string{"--extra-opts=nosuch@" + file}, `--extra-opts: section \[nosuch\] not found in `)
		noEq := writeIni(t, "[check_smtp]\nlmtp\n")
		optionError(t, []string{"--extra-opts=@" + noEq}, `--extra-opts: .*malformed key=value`)
		ver := writeIni(t, "[check_smtp]\nextra-opts=x\n")
		optionError(t, []string{"--extra-opts=@" + ver}, `--extra-opts: .*unknown option: extra-opts`)
	})
}

// TestExtraOptsEnvFile uses MP_CONFIG_FILE, so it cannot run in parallel.
func TestExtraOptsEnvFile(t *testing.T) {
	file := writeIni(t, iniBody)
	t.Setenv("MP_CONFIG_FILE", file)
	m := startMock(t, rcptScript("a@example.test", "b@example.test")...)
	out := expectRun(t, []string{"-H", "127.0.0.1", "-p", m.port(), "--extra-opts"}, checkers.WARNING, `^SMTP WARNING: neither the banner nor the EHLO reply contains "NOPE"`)
	scriptDone(t, m, out)

	m = startMock(t, script(lmtpGreeting, scriptTail)...)
	out = expectRun(t, []string{"-H", "127.0.0.1", "-p", m.port(), "--extra-opts=other", "-e", "Dovecot"}, checkers.OK, `^SMTP OK: `)
	scriptDone(t, m, out)

	t.Setenv("MP_CONFIG_FILE", filepath.Join(t.TempDir(), "absent.ini"))
	optionError(t, []string{"--extra-opts"}, `--extra-opts: no ini file found \(set MP_CONFIG_FILE`)
}
