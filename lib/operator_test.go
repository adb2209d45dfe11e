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

	"github.com/check-smtp/check-smtp/lib/internal/smtptest"
)

// Operator features (issue #5): LMTP and unix sockets, -e, -C/-R, PROXY,
// address family, -t N:STATE, --status-as, --extra-opts and the aliases,
// each driven over a real loopback socket.

func TestLMTP(t *testing.T) {
	expectCases(t, []smtptest.Case{
		{
			Name:     "-L sends LHLO and reads the LMTP greeting",
			Script:   smtptest.Script(smtptest.LMTPGreeting(), smtptest.Tail()),
			Args:     []string{"-L"},
			Status:   checkers.OK,
			Output:   `^SMTP OK: \d+\.\d{3}s response time, lmtp\.example\.test Dovecot ready\. \| time=\S+ connect=\S+ banner=\S+ ehlo=\S+ mail=\S+ rset=\S+ quit=\S+\n$`,
			ScriptOK: true,
		},
		{
			Name:     "--lmtp long form",
			Script:   smtptest.Script(smtptest.LMTPGreeting(), smtptest.Tail()),
			Args:     []string{"--lmtp"},
			Status:   checkers.OK,
			Output:   `^SMTP OK: `,
			ScriptOK: true,
		},
		{
			// The script goes straight from the refused LHLO to QUIT: a HELO
			// fallback would break it.
			Name:     "LMTP against an SMTP server is CRITICAL without HELO fallback",
			Script:   []string{"S: 220 mx.example.test ESMTP Postfix", "C: LHLO .+", "S: 500 5.5.2 Error: command not recognized", "C: QUIT", "S: 221 2.0.0 Bye"},
			Args:     []string{"-L"},
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: LHLO refused at step ehlo \(is this an LMTP server\?\): 500 5\.5\.2 Error: command not recognized -- `,
			ScriptOK: true,
		},
		{
			Name: "EHLO against an LMTP server is CRITICAL and hints -L",
			Script: []string{"S: 220 lmtp.example.test Dovecot ready.", "C: EHLO .+", "S: 500 5.5.1 Unknown command", "C: HELO .+",
				"S: 500 5.5.1 Unknown command", "C: QUIT", "S: 221 2.0.0 Bye"},
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: EHLO and HELO both refused at step ehlo \(an LMTP server\? use -L\): EHLO: 500 5\.5\.1 Unknown command, then HELO: 500 5\.5\.1 Unknown command -- `,
			ScriptOK: true,
		},
	})
}

func TestUnixSocket(t *testing.T) {
	t.Run("LMTP over a unix socket", func(t *testing.T) {
		t.Parallel()
		ln, path := smtptest.UnixListener(t)
		m := smtptest.Serve(t, ln, smtptest.Script(smtptest.LMTPGreeting(), smtptest.Tail()))
		out := expect(t, smtptest.Case{
			Args:   []string{"-H", path, "-L"},
			Status: checkers.OK, Output: `^SMTP OK: \d+\.\d{3}s response time, lmtp\.example\.test Dovecot ready\. \| time=\d+\.\d{6}s;;;0 connect=\d+\.\d{6}s;;;0 banner=\S+ ehlo=\S+ mail=\S+ rset=\S+ quit=\S+\n$`,
		})
		m.AssertDone(t, out)
	})
	t.Run("SMTP over a unix socket, -p ignored", func(t *testing.T) {
		t.Parallel()
		ln, path := smtptest.UnixListener(t)
		m := smtptest.Serve(t, ln, smtptest.Script(smtptest.Greeting(), smtptest.Tail()))
		out := expect(t, smtptest.Case{
			Args:   []string{"-H", path, "-p", "2525", "-w", "5"},
			Status: checkers.OK, Output: `^SMTP OK: \S+ response time, mx\.example\.test ESMTP ready \| time=\S+;5;;0 connect=`,
		})
		m.AssertDone(t, out)
	})
	t.Run("no socket at the path is CRITICAL", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "absent.sock")
		expect(t, smtptest.Case{
			Args:   []string{"-H", path},
			Status: checkers.CRITICAL, Output: `^SMTP CRITICAL: no socket at ` + regexp.QuoteMeta(path),
		})
	})
	t.Run("a relative path is not a host", func(t *testing.T) {
		t.Parallel()
		optionError(t, []string{"-H", "run/dovecot/lmtp"}, `-H "run/dovecot/lmtp" is not a host name, an IP address or an absolute socket path`)
	})
}

func TestExpect(t *testing.T) {
	expectCases(t, []smtptest.Case{
		{
			Name:     "default 220 is found in the banner",
			Script:   smtptest.Script(smtptest.Greeting(), smtptest.Tail()),
			Status:   checkers.OK,
			Output:   `^SMTP OK: `,
			ScriptOK: true,
		},
		{
			// The only way the default can miss: a 2xx banner that is not 220.
			Name:     "default 220 missing from banner and EHLO reply is WARNING",
			Script:   smtptest.Script("S: 250 odd.example.test hello", "C: EHLO .+", "S: 250 odd.example.test", smtptest.Tail()),
			Status:   checkers.WARNING,
			Output:   `^SMTP WARNING: neither the banner nor the EHLO reply contains "220": 250 odd\.example\.test hello -- `,
			ScriptOK: true,
		},
		{
			Name:     "-e matching the banner",
			Script:   smtptest.Script(smtptest.Greeting(), smtptest.Tail()),
			Args:     []string{"-e", "ESMTP"},
			Status:   checkers.OK,
			Output:   `^SMTP OK: `,
			ScriptOK: true,
		},
		{
			Name:     "-e matching only the EHLO reply",
			Script:   smtptest.Script(smtptest.Greeting(), smtptest.Tail()),
			Args:     []string{"-e", "PIPELINING"},
			Status:   checkers.OK,
			Output:   `^SMTP OK: `,
			ScriptOK: true,
		},
		{
			Name:     "--expect mismatch is WARNING quoting the banner, and the conversation goes on",
			Script:   smtptest.Script(smtptest.Greeting(), smtptest.Tail()),
			Args:     []string{"--expect", "Postfix"},
			Status:   checkers.WARNING,
			Output:   `^SMTP WARNING: neither the banner nor the EHLO reply contains "Postfix": 220 mx\.example\.test ESMTP ready -- \S+ response time, .* quit=`,
			ScriptOK: true,
		},
		{
			Name:     "-e with LMTP looks at the LHLO reply",
			Script:   smtptest.Script(smtptest.LMTPGreeting(), smtptest.Tail()),
			Args:     []string{"-L", "-e", "ENHANCEDSTATUSCODES"},
			Status:   checkers.OK,
			Output:   `^SMTP OK: `,
			ScriptOK: true,
		},
	})
}

// cmdScript is a conversation with the given extra command exchanges
// between MAIL and RSET.
func cmdScript(exchanges ...string) []string {
	return smtptest.Script(smtptest.Greeting(), "C: MAIL FROM:<>", "S: 250 2.1.0 Ok", exchanges,
		"C: RSET", "S: 250 2.0.0 Ok", "C: QUIT", "S: 221 2.0.0 Bye")
}

func TestCommandResponse(t *testing.T) {
	expectCases(t, []smtptest.Case{
		{
			Name:     "reply matches -R",
			Script:   cmdScript("C: VRFY postmaster", "S: 252 2.0.0 postmaster"),
			Args:     []string{"-C", "VRFY postmaster", "-R", "^252 "},
			Status:   checkers.OK,
			Output:   `^SMTP OK: .* mail=\S+ command=\S+ rset=`,
			ScriptOK: true,
		},
		{
			Name:     "mismatch is WARNING naming the command and quoting the reply",
			Script:   cmdScript("C: VRFY postmaster", "S: 252 2.0.0 Cannot VRFY user"),
			Args:     []string{"--command", "VRFY postmaster", "--response", "^250"},
			Status:   checkers.WARNING,
			Output:   `^SMTP WARNING: reply to -C "VRFY postmaster" does not match -R "\^250": 252 2\.0\.0 Cannot VRFY user -- `,
			ScriptOK: true,
		},
		{
			Name:     "a later match does not clear an earlier mismatch",
			Script:   cmdScript("C: NOOP", "S: 250 2.0.0 Ok", "C: VRFY postmaster", "S: 252 2.0.0 postmaster"),
			Args:     []string{"-C", "NOOP", "-R", "^251", "-C", "VRFY postmaster", "-R", "^252"},
			Status:   checkers.WARNING,
			Output:   `^SMTP WARNING: reply to -C "NOOP" does not match -R "\^251": 250 2\.0\.0 Ok -- [^|]*response time`,
			ScriptOK: true,
		},
		{
			Name:     "every mismatch is reported",
			Script:   cmdScript("C: NOOP", "S: 250 2.0.0 Ok", "C: HELP", "S: 214 2.0.0 see RFC 5321"),
			Args:     []string{"-C", "NOOP", "-R", "^251", "-C", "HELP", "-R", "^250"},
			Status:   checkers.WARNING,
			Output:   `^SMTP WARNING: reply to -C "NOOP" does not match -R "\^251": 250 2\.0\.0 Ok -- reply to -C "HELP" does not match -R "\^250": 214 2\.0\.0 see RFC 5321 -- `,
			ScriptOK: true,
		},
		{
			Name:     "-C without -R accepts a non-5xx reply",
			Script:   cmdScript("C: ETRN example.test", "S: 458 4.3.0 Unable to queue messages"),
			Args:     []string{"-C", "ETRN example.test"},
			Status:   checkers.OK,
			Output:   `^SMTP OK: `,
			ScriptOK: true,
		},
		{
			Name:     "-C without -R and a 5xx reply is WARNING naming the command",
			Script:   cmdScript("C: NOOP", "S: 250 2.0.0 Ok", "C: ETRN example.test", "S: 502 5.5.1 Error: command not implemented"),
			Args:     []string{"-C", "NOOP", "-R", "^250", "-C", "ETRN example.test"},
			Status:   checkers.WARNING,
			Output:   `^SMTP WARNING: -C "ETRN example.test" refused: 502 5\.5\.1 Error: command not implemented -- `,
			ScriptOK: true,
		},
		{
			// RFC 5321 allows EHLO again; its reply is multi-line.
			Name: "multi-line reply is joined with newlines and keeps its codes",
			Script: cmdScript("C: EHLO again.example.test", "S: 250-mx.example.test", "S: 250-SIZE 10240000", "S: 250 8BITMIME",
				"C: HELP", "S: 214-2.0.0 Commands:", "S: 214 2.0.0 End"),
			Args: []string{"-C", "EHLO again.example.test", "-R", `(?s)^250-.*\n250 8BITMIME$`,
				"-C", "HELP", "-R", `(?m)^214-2\.0\.0 Commands:\n214 2\.0\.0 End$`},
			Status:   checkers.OK,
			Output:   `^SMTP OK: `,
			ScriptOK: true,
		},
		{
			Name:     "multi-line mismatch quotes every line",
			Script:   cmdScript("C: HELP", "S: 214-2.0.0 Commands:", "S: 214 2.0.0 End"),
			Args:     []string{"-C", "HELP", "-R", `^250`},
			Status:   checkers.WARNING,
			Output:   `^SMTP WARNING: reply to -C "HELP" does not match -R "\^250": 214-2\.0\.0 Commands: / 214 2\.0\.0 End -- `,
			ScriptOK: true,
		},
		{
			Name: "commands go after RCPT and before RSET",
			Script: smtptest.Script(smtptest.Greeting(), "C: MAIL FROM:<>", "S: 250 2.1.0 Ok", "C: RCPT TO:<postmaster@example.test>", "S: 250 2.1.5 Ok",
				"C: NOOP", "S: 250 2.0.0 Ok", "C: RSET", "S: 250 2.0.0 Ok", "C: QUIT", "S: 221 2.0.0 Bye"),
			Args:     []string{"--rcpt", "postmaster@example.test", "-C", "NOOP", "-R", "^250"},
			Status:   checkers.OK,
			Output:   `^SMTP OK: .* rcpt=\S+ command=\S+ rset=`,
			ScriptOK: true,
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
		m := smtptest.Start(t, smtptest.Script("PROXY", smtptest.Greeting(), smtptest.Tail())...)
		out := expect(t, smtptest.Case{
			Args:   []string{"-H", "127.0.0.1", "-p", m.Port(), "-r", "-v"},
			Status: checkers.OK, Output: `^SMTP OK: `,
		})
		m.AssertDone(t, out)
		_, cport, _ := net.SplitHostPort(m.Peer().String())
		want := fmt.Sprintf("PROXY TCP4 127.0.0.1 127.0.0.1 %s %s", cport, m.Port())
		if m.ProxyLine() != want {
			t.Errorf("PROXY line %q, want %q", m.ProxyLine(), want)
		}
		if !strings.Contains(out, "\nC: "+want+"\n") {
			t.Errorf("transcript lacks the PROXY line %q:\n%s", want, out)
		}
	})
	t.Run("v1 header over IPv6", func(t *testing.T) {
		t.Parallel()
		m := smtptest.Serve(t, smtptest.ListenLoopback(t, "::1"), smtptest.Script("PROXY", smtptest.Greeting(), smtptest.Tail()))
		out := expect(t, smtptest.Case{
			Args:   []string{"-H", "::1", "-p", m.Port(), "--proxy"},
			Status: checkers.OK, Output: `^SMTP OK: `,
		})
		m.AssertDone(t, out)
		_, cport, _ := net.SplitHostPort(m.Peer().String())
		if want := fmt.Sprintf("PROXY TCP6 ::1 ::1 %s %s", cport, m.Port()); m.ProxyLine() != want {
			t.Errorf("PROXY line %q, want %q", m.ProxyLine(), want)
		}
	})
	t.Run("over a unix socket the header is PROXY UNKNOWN", func(t *testing.T) {
		t.Parallel()
		ln, path := smtptest.UnixListener(t)
		m := smtptest.Serve(t, ln, smtptest.Script("C: PROXY UNKNOWN", smtptest.LMTPGreeting(), smtptest.Tail()))
		out := expect(t, smtptest.Case{Args: []string{"-H", path, "-L", "-r"}, Status: checkers.OK, Output: `^SMTP OK: `})
		m.AssertDone(t, out)
	})
	expectCases(t, []smtptest.Case{
		{
			// Such a server stays silent until it has read a valid header.
			Name:     "a server that requires the header",
			Script:   smtptest.Script(`C: PROXY TCP4 127\.0\.0\.1 127\.0\.0\.1 \d+ \d+`, smtptest.Greeting(), smtptest.Tail()),
			Args:     []string{"-r"},
			Status:   checkers.OK,
			Output:   `^SMTP OK: `,
			ScriptOK: true,
		},
		{
			Name:   "a server that requires the header, without -r, times out at the banner",
			Script: smtptest.Script(`C: PROXY .*`, "S: 220 never"),
			Args:   []string{"-t", "0.3"},
			Status: checkers.CRITICAL,
			Output: `^SMTP CRITICAL: timeout after 0\.3s at step banner`,
		},
		{
			// A plain SMTP server reads the header as a command and refuses
			// it; that reply arrives where the EHLO reply was expected.
			Name: "a server that rejects the header is CRITICAL, not a shifted conversation",
			Script: []string{"S: 220 mx.example.test ESMTP", "C: PROXY TCP4 .*", "S: 500 5.5.2 Error: command not recognized",
				"C: EHLO .+", "S: 250-mx.example.test", "S: 250 8BITMIME", "C: .*", "S: 250 2.1.0 Ok", "C: .*", "S: 250 2.0.0 Ok", "C: .*", "S: 221 2.0.0 Bye"},
			Args:   []string{"-r"},
			Status: checkers.CRITICAL,
			Output: `^SMTP CRITICAL: EHLO rejected at step ehlo: 500 5\.5\.2 Error: command not recognized \(.*PROXY.*\) -- `,
		},
		{
			Name:   "a server that closes on the header is CRITICAL with a hint",
			Script: []string{"S: 220 mx.example.test ESMTP", "C: PROXY TCP4 .*", "CLOSE"},
			Args:   []string{"-r"},
			Status: checkers.CRITICAL,
			Output: `^SMTP CRITICAL: connection closed by server at step ehlo \(reply to EHLO\) \(.*PROXY.*\) -- `,
		},
	})
}

func TestAddressFamily(t *testing.T) {
	for _, flag := range []string{"-4", "--ipv4", "--use-ipv4"} {
		t.Run("localhost with "+flag+" connects over 127.0.0.1", func(t *testing.T) {
			t.Parallel()
			m := smtptest.Start(t, smtptest.Script(smtptest.Greeting(), smtptest.Tail())...)
			out := expect(t, smtptest.Case{
				Args:   []string{"-H", "localhost", "-p", m.Port(), flag},
				Status: checkers.OK, Output: `^SMTP OK: `,
			})
			m.AssertDone(t, out)
			if ta, ok := m.Peer().(*net.TCPAddr); !ok || !ta.IP.Equal(net.IPv4(127, 0, 0, 1)) {
				t.Errorf("server saw a connection from %v, want 127.0.0.1", m.Peer())
			}
		})
	}
	for _, host := range []string{"::1", "[::1]"} {
		for _, extra := range [][]string{nil, {"-6"}, {"--ipv6"}, {"--use-ipv6"}} {
			t.Run(fmt.Sprintf("IPv6 literal %s %v", host, extra), func(t *testing.T) {
				t.Parallel()
				m := smtptest.Serve(t, smtptest.ListenLoopback(t, "::1"), smtptest.Script(smtptest.Greeting(), smtptest.Tail()))
				out := expect(t, smtptest.Case{
					Args:   append([]string{"-H", host, "-p", m.Port()}, extra...),
					Status: checkers.OK, Output: `^SMTP OK: `,
				})
				m.AssertDone(t, out)
				if ta, ok := m.Peer().(*net.TCPAddr); !ok || !ta.IP.Equal(net.IPv6loopback) {
					t.Errorf("server saw a connection from %v, want ::1", m.Peer())
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
		expect(t, smtptest.Case{
			Args:   []string{"-H", "::1", "-4"},
			Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: -4 given but host ::1 is an IPv6 address`,
		})
	})
}

func TestTimeoutState(t *testing.T) {
	hang := []string{"HANG"}
	cases := []smtptest.Case{
		{Name: "default state is CRITICAL", Script: hang, Args: []string{"-t", "0.3"},
			Status: checkers.CRITICAL, Output: `^SMTP CRITICAL: timeout after 0\.3s at step banner \(waiting for the banner\): nothing received, an implicit-TLS port\? try -s -- `},
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
		cases = append(cases, smtptest.Case{Name: "-t " + tc.spec, Script: hang, Args: []string{"-t", tc.spec},
			Status: tc.status, Output: `^SMTP \w+: timeout after 0\.3s at step banner`})
	}
	cases = append(cases,
		smtptest.Case{Name: "the state applies to a timeout at a later step", Script: smtptest.Script(smtptest.Greeting(), "C: MAIL FROM:<>", "HANG"),
			Args: []string{"--timeout=0.3:warning"}, Status: checkers.WARNING, Output: `^SMTP WARNING: timeout after 0\.3s at step mail`},
		smtptest.Case{Name: "the state does not apply to other failures", Script: []string{"S: 554 5.7.1 go away", "C: QUIT", "S: 221 bye"},
			Args: []string{"-t", "2:OK"}, Status: checkers.CRITICAL, Output: `^SMTP CRITICAL: server refused the connection at step banner: 554 5\.7\.1 go away`},
	)
	expectCases(t, cases)
	t.Run("bad -t", func(t *testing.T) {
		t.Parallel()
		optionError(t, []string{"-t", "1:FOO"}, `-t "1:FOO": unknown state "FOO"`)
		optionError(t, []string{"-t", "0"}, `-t "0": want seconds > 0`)
		optionError(t, []string{"--timeout=-1"}, `-t "-1": want seconds > 0`)
		optionError(t, []string{"-t", "ten"}, `-t "ten": want seconds > 0`)
	})
}

func TestStatusAs(t *testing.T) {
	expectCases(t, []smtptest.Case{
		{
			Name:     "warning=critical turns an -e mismatch CRITICAL, message unchanged",
			Script:   smtptest.Script(smtptest.Greeting(), smtptest.Tail()),
			Args:     []string{"-e", "Postfix", "--status-as", "warning=critical"},
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: neither the banner nor the EHLO reply contains "Postfix": `,
			ScriptOK: true,
		},
		{
			Name:   "applied after the -t state",
			Script: []string{"HANG"},
			Args:   []string{"-t", "0.3:UNKNOWN", "--status-as", "warning=critical,unknown=critical"},
			Status: checkers.CRITICAL,
			Output: `^SMTP CRITICAL: timeout after 0\.3s`,
		},
		{
			Name:   "-t WARNING then warning=critical",
			Script: []string{"HANG"},
			Args:   []string{"-t", "0.3:1", "--status-as", "WARNING=CRITICAL"},
			Status: checkers.CRITICAL,
			Output: `^SMTP CRITICAL: timeout after 0\.3s`,
		},
		{
			Name:     "an OK result stays OK",
			Script:   smtptest.Script(smtptest.Greeting(), smtptest.Tail()),
			Args:     []string{"--status-as", "warning=critical,unknown=critical"},
			Status:   checkers.OK,
			Output:   `^SMTP OK: `,
			ScriptOK: true,
		},
		{
			Name:     "ok=warning remaps OK too",
			Script:   smtptest.Script(smtptest.Greeting(), smtptest.Tail()),
			Args:     []string{"--status-as", "ok=warning"},
			Status:   checkers.WARNING,
			Output:   `^SMTP WARNING: \S+ response time`,
			ScriptOK: true,
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
		m := smtptest.Start(t, smtptest.Script(smtptest.Greeting(), smtptest.Tail())...)
		out := expect(t, smtptest.Case{
			Args:   []string{"--hostname", "127.0.0.1", "-p", m.Port()},
			Status: checkers.OK, Output: `^SMTP OK: `,
		})
		m.AssertDone(t, out)
	})
	t.Run("host as the first positional argument", func(t *testing.T) {
		t.Parallel()
		m := smtptest.Start(t, smtptest.Script(smtptest.Greeting(), smtptest.Tail())...)
		out := expect(t, smtptest.Case{Args: []string{"127.0.0.1", "-p", m.Port()}, Status: checkers.OK, Output: `^SMTP OK: `})
		m.AssertDone(t, out)
	})
	t.Run("positional host equal to -H", func(t *testing.T) {
		t.Parallel()
		m := smtptest.Start(t, smtptest.Script(smtptest.Greeting(), smtptest.Tail())...)
		out := expect(t, smtptest.Case{
			Args:   []string{"-p", m.Port(), "-H", "127.0.0.1", "127.0.0.1"},
			Status: checkers.OK, Output: `^SMTP OK: `,
		})
		m.AssertDone(t, out)
	})
	t.Run("--authtype --authuser --authpass", func(t *testing.T) {
		t.Parallel()
		out := expect(t, smtptest.Case{
			Script: smtptest.Script(authEHLO, authPlain, smtptest.Tail()), ScriptOK: true,
			Args:   []string{"--authtype", "plain", "--authuser", "nagios", "--authpass", "s3cret", "-v"},
			Status: checkers.OK, Output: `^SMTP OK: .* auth=`,
		})
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
		expect(t, smtptest.Case{
			Args:   []string{"127.0.0.1", "192.0.2.1"},
			Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: unexpected argument "192\.0\.2\.1"`,
		})
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
	expectCases(t, []smtptest.Case{
		{
			Name:     "default section check_smtp, repeated keys make a list",
			Script:   rcptScript("a@example.test", "b@example.test"),
			Args:     []string{"--extra-opts=@" + file},
			Status:   checkers.WARNING,
			Output:   `^SMTP WARNING: neither the banner nor the EHLO reply contains "NOPE"`,
			ScriptOK: true,
		},
		{
			Name:     "command line wins over the file: scalar and list",
			Script:   rcptScript("c@example.test"),
			Args:     []string{"--extra-opts=check_smtp@" + file, "-e", "ESMTP", "--rcpt", "c@example.test"},
			Status:   checkers.OK,
			Output:   `^SMTP OK: `,
			ScriptOK: true,
		},
		{
			Name:     "command line wins whatever the order",
			Script:   rcptScript("c@example.test"),
			Args:     []string{"--rcpt", "c@example.test", "-e", "ESMTP", "--extra-opts=@" + file},
			Status:   checkers.OK,
			Output:   `^SMTP OK: `,
			ScriptOK: true,
		},
		{
			Name:     "explicit section, flag written key=",
			Script:   smtptest.Script(smtptest.LMTPGreeting(), smtptest.Tail()),
			Args:     []string{"--extra-opts=other@" + file, "-e", "Dovecot"},
			Status:   checkers.OK,
			Output:   `^SMTP OK: `,
			ScriptOK: true,
		},
		{
			Name:     "separate value, as monitoring-plugins accepts it",
			Script:   smtptest.Script(smtptest.LMTPGreeting(), smtptest.Tail()),
			Args:     []string{"--extra-opts", "other@" + file, "-e", "Dovecot"},
			Status:   checkers.OK,
			Output:   `^SMTP OK: `,
			ScriptOK: true,
		},
	})
	t.Run("alias keys: hostname, authtype, authpass", func(t *testing.T) {
		t.Parallel()
		m := smtptest.Start(t, "S: 220 mx.example.test ESMTP ready", "C: EHLO .+", "S: 250-mx.example.test", "S: 250 AUTH PLAIN",
			"C: AUTH PLAIN AG5hZ2lvcwBzM2NyZXQ=", "S: 235 2.7.0 Ok", "C: MAIL FROM:<>", "S: 250 Ok", "C: RSET", "S: 250 Ok", "C: QUIT", "S: 221 Bye")
		out := expect(t, smtptest.Case{
			Args:   []string{"--extra-opts=aliases@" + file, "-p", m.Port()},
			Status: checkers.OK, Output: `^SMTP OK: .* auth=`,
		})
		m.AssertDone(t, out)
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
	m := smtptest.Start(t, rcptScript("a@example.test", "b@example.test")...)
	out := expect(t, smtptest.Case{
		Args:   []string{"-H", "127.0.0.1", "-p", m.Port(), "--extra-opts"},
		Status: checkers.WARNING, Output: `^SMTP WARNING: neither the banner nor the EHLO reply contains "NOPE"`,
	})
	m.AssertDone(t, out)

	m = smtptest.Start(t, smtptest.Script(smtptest.LMTPGreeting(), smtptest.Tail())...)
	out = expect(t, smtptest.Case{
		Args:   []string{"-H", "127.0.0.1", "-p", m.Port(), "--extra-opts=other", "-e", "Dovecot"},
		Status: checkers.OK, Output: `^SMTP OK: `,
	})
	m.AssertDone(t, out)

	t.Setenv("MP_CONFIG_FILE", filepath.Join(t.TempDir(), "absent.ini"))
	optionError(t, []string{"--extra-opts"}, `--extra-opts: no ini file found \(set MP_CONFIG_FILE`)
}
