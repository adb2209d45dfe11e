package checksmtp

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mackerelio/checkers"

	"github.com/check-smtp/check-smtp/lib/internal/smtptest"
)

// The usual mistakes of a new operator (issue #14): each is refused with a
// message that says what to do instead, or answered with a hint.

// TestPortDecimalOnly: -p is a decimal number 1-65535, leading zeros and
// all; other forms are UNKNOWN before any connection.
func TestPortDecimalOnly(t *testing.T) {
	t.Run("leading zeros are decimal", func(t *testing.T) {
		t.Parallel()
		m := smtptest.Start(t, smtptest.Script(smtptest.Greeting(), smtptest.Tail())...)
		out := expect(t, smtptest.Case{
			Args:   []string{"-H", "127.0.0.1", "-p", "0" + m.Port()},
			Status: checkers.OK, Output: `^SMTP OK: `,
		})
		m.AssertDone(t, out)
	})
	t.Run("--port=00PORT", func(t *testing.T) {
		t.Parallel()
		m := smtptest.Start(t, smtptest.Script(smtptest.Greeting(), smtptest.Tail())...)
		out := expect(t, smtptest.Case{
			Args:   []string{"-H", "127.0.0.1", "--port=00" + m.Port()},
			Status: checkers.OK, Output: `^SMTP OK: `,
		})
		m.AssertDone(t, out)
	})
	bad := []string{"0", "00", "0x2729", "0X19", "+25", "-25", "65536", "99999999999999999999", "25.0", "smtp", " 25", "1e3", "0b11001", "0o31", "2_5", ""}
	for _, p := range bad {
		t.Run("-p "+p, func(t *testing.T) {
			t.Parallel()
			// Both spellings: "-p VALUE" (a value starting with '-' is a
			// missing value for go-flags) and "--port=VALUE".
			for _, args := range [][]string{{"-H", "127.0.0.1", "-p", p}, {"-H", "127.0.0.1", "--port=" + p}} {
				st, out := check(args)
				if st != checkers.UNKNOWN {
					t.Errorf("%q: status %v, want UNKNOWN\n%s", args, st, out)
				}
				if !strings.Contains(out, "-p") || !strings.Contains(out, "see --help") {
					t.Errorf("%q: message does not name -p or point to --help: %s", args, out)
				}
				if strings.Contains(out, "strconv") || strings.Contains(out, "checksmtp.") || strings.Contains(out, "invalid syntax") {
					t.Errorf("%q: Go internals in the message: %s", args, out)
				}
			}
		})
	}
	t.Run("the message says what is expected, with an example", func(t *testing.T) {
		t.Parallel()
		expect(t, smtptest.Case{
			Args:   []string{"-p", "0x2729"},
			Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: -p "0x2729": want a decimal port number 1-65535, e.g\. -p 587 \(see --help\)\n$`,
		})
	})
}

// TestOptionErrorsForOperators: go-flags' own errors are reworded: the
// option, what was expected, a pointer to --help, no Go internals.
func TestOptionErrorsForOperators(t *testing.T) {
	expectCases(t, []smtptest.Case{
		{Name: "unknown long option", Args: []string{"--bogus"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: unknown option --bogus \(see --help\)\n$`},
		{Name: "unknown short option", Args: []string{"-Z"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: unknown option -Z \(see --help\)\n$`},
		{Name: "option missing its value", Args: []string{"-H"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: -H \(--host\) needs a value: -H HOST \(see --help\)\n$`},
		{Name: "long option missing its value", Args: []string{"--rcpt"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: --rcpt needs a value: --rcpt ADDR \(see --help\)\n$`},
		{Name: "--status-as lists the state names", Args: []string{"--status-as", "warning=purple"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: --status-as "warning=purple": want FROM=TO pairs separated by commas, each state one of ok, warning, critical, unknown, e\.g\. --status-as warning=critical,unknown=critical \(see --help\)\n$`},
		{Name: "--status-as with a state twice", Args: []string{"--status-as", "warning=critical,warning=ok"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: --status-as "warning=critical,warning=ok": WARNING is mapped twice`},
		{Name: "-t names the forms", Args: []string{"-t", "soon"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: -t "soon": want seconds > 0, optionally :STATE, e\.g\. -t 10 or -t 10:UNKNOWN \(see --help\)\n$`},
		{Name: "-D gives an example", Args: []string{"-S", "-D", "x"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: -D "x": want W\[,C\], whole days, e\.g\. -D 30,14 \(see --help\)\n$`},
		{Name: "a conflict points to --help", Args: []string{"-4", "-6"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: -4 and -6 cannot be used together \(see --help\)\n$`},
	})
	t.Run("no option error shows Go internals", func(t *testing.T) {
		t.Parallel()
		for _, args := range [][]string{{"-p", "abc"}, {"--port", "1.5"}, {"-w", "x"}, {"--step-warning", "x"}, {"-t", "1:x"}, {"--status-as", "x"}, {"--quit-after", "x"}} {
			st, out := check(args)
			if st != checkers.UNKNOWN || regexp.MustCompile(`strconv|invalid syntax|checksmtp\.|flags\.`).MatchString(out) || !strings.Contains(out, "see --help") {
				t.Errorf("%q: %v %s", args, st, out)
			}
		}
	})
}

// TestTLSOnlyOptionsNeedTLS: an option that only means something with TLS,
// given without -s or -S, is UNKNOWN instead of a plaintext OK.
func TestTLSOnlyOptionsNeedTLS(t *testing.T) {
	c := smtptest.NewCerts(t)
	for _, args := range [][]string{
		{"--cafile", c.CAFile}, {"--ca-file", c.CAFile}, {"--sni=mx.example.test"}, {"--sni"},
		{"-k"}, {"--insecure"}, {"--no-check-certificate"}, {"--ignore-certificate-expiration"}, {"-D", "30"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			name := regexp.QuoteMeta(strings.SplitN(args[0], "=", 2)[0])
			if args[0] == "-k" || args[0] == "--insecure" {
				name = `-k \(--insecure\)`
			}
			optionError(t, args, name+`.* needs -s or -S: it only means something with TLS \(see --help\)\n$`)
		})
	}
	t.Run("with -S they are accepted", func(t *testing.T) {
		t.Parallel()
		ln := smtptest.ListenLoopback(t, "127.0.0.1")
		m := smtptest.ServeTLS(t, ln, smtptest.ServerTLS(c.Valid), smtptest.Script(smtptest.STARTTLS(), smtptest.EHLOAgain(), smtptest.Tail()))
		out := expect(t, smtptest.Case{
			Args:   []string{"-H", "localhost", "-4", "-p", m.Port(), "-S", "--cafile", c.CAFile, "--sni=localhost", "--ignore-certificate-expiration"},
			Status: checkers.OK, Output: `^SMTP OK: `,
		})
		m.AssertDone(t, out)
	})
}

// TestAuthOptionsNeedA: -U, -P and --authpassword-file without -A are
// UNKNOWN; the environment password without -A is ignored.
func TestAuthOptionsNeedA(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"-U", "alice"}, {"-P", "s3cret"}, {"--authpass", "s3cret"}, {"--authpassword-file", pw}, {"-U", "alice", "-P", "s3cret"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			optionError(t, args, regexp.QuoteMeta(args[0])+` without -A: no AUTH would be sent, add -A PLAIN \(or LOGIN, CRAM-MD5\) \(see --help\)\n$`)
		})
	}
	t.Run("CHECK_SMTP_AUTHPASSWORD without -A is ignored", func(t *testing.T) {
		t.Setenv("CHECK_SMTP_AUTHPASSWORD", "envpw")
		expect(t, smtptest.Case{
			Script: smtptest.Script(smtptest.Greeting(), smtptest.Tail()), ScriptOK: true,
			Status: checkers.OK, Output: `^SMTP OK: `,
		})
	})
}

// TestHostForms14: -H with a port, an empty -H, a bracketed IPv6 literal.
func TestHostForms14(t *testing.T) {
	for _, tc := range []struct{ host, want string }{
		{"127.0.0.1:10025", `-H "127\.0\.0\.1:10025" holds a port: give it with -p, e\.g\. -H 127\.0\.0\.1 -p 10025 \(see --help\)\n$`},
		{"mx.example.test:587", `-H "mx\.example\.test:587" holds a port: give it with -p, e\.g\. -H mx\.example\.test -p 587`},
		{"[::1]:10025", `-H "\[::1\]:10025" holds a port: give it with -p, e\.g\. -H ::1 -p 10025`},
		{"[::1", `-H "\[::1" is not a host name, an IP address or an absolute socket path`},
		{"[mx.example.test]", `-H "\[mx\.example\.test\]": brackets are for an IPv6 literal`},
		{"", `-H is empty: give a host name, an IP address or a socket path, e\.g\. -H mail\.example\.com \(see --help\)\n$`},
	} {
		t.Run("-H "+tc.host, func(t *testing.T) {
			t.Parallel()
			// -H last: optionError puts its own -H first.
			optionError(t, []string{"-H", tc.host}, tc.want)
		})
	}
	t.Run("an empty positional host", func(t *testing.T) {
		t.Parallel()
		expect(t, smtptest.Case{Args: []string{""}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: -H is empty`})
	})
	t.Run("[::1] is accepted", func(t *testing.T) {
		t.Parallel()
		m := smtptest.Serve(t, smtptest.ListenLoopback(t, "::1"), smtptest.Script(smtptest.Greeting(), smtptest.Tail()))
		out := expect(t, smtptest.Case{Args: []string{"-H", "[::1]", "-p", m.Port()}, Status: checkers.OK, Output: `^SMTP OK: `})
		m.AssertDone(t, out)
	})
}

// TestSNIWithSpace: "--sni NAME" takes NAME for the host; the message says
// how to write it.
func TestSNIWithSpace(t *testing.T) {
	for _, args := range [][]string{
		{"-H", "127.0.0.1", "-S", "--sni", "mx.example.test"},
		{"-S", "--sni", "mx.example.test"},
		{"-S", "--sni", "mx.example.test", "-H", "127.0.0.1"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			expect(t, smtptest.Case{
				Args:   args,
				Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: --sni takes its value only as --sni=NAME: write --sni=mx\.example\.test \(a bare --sni means the host name\) \(see --help\)\n$`,
			})
		})
	}
}

// TestHelpText: one sentence on what the check does, the one-host usage
// line, the options, three examples.
func TestHelpText(t *testing.T) {
	t.Parallel()
	out := format(run([]string{"--help"}))
	if !regexp.MustCompile(`^check-smtp probes [^\n]+\.\n\nUsage: check-smtp \[OPTIONS\] \[HOST\]\n\n`).MatchString(out) {
		t.Errorf("--help does not open with the sentence and the usage line:\n%s", out)
	}
	if !regexp.MustCompile(`\nExamples:\n(  check-smtp [^\n]+\n){3}$`).MatchString(out) {
		t.Errorf("--help does not end with three examples:\n%s", out)
	}
	if strings.Contains(out, "HOST...") {
		t.Errorf("--help suggests several hosts:\n%s", out)
	}
	// Every example parses.
	for _, l := range regexp.MustCompile(`(?m)^  check-smtp (.+)$`).FindAllStringSubmatch(out, -1) {
		if _, err := parseArgs(strings.Fields(l[1]), environ{getenv: func(k string) string {
			if k == "CHECK_SMTP_AUTHPASSWORD" {
				return "pw"
			}
			return ""
		}, hostname: os.Hostname}); err != nil {
			t.Errorf("example %q: %v", l[1], err)
		}
	}
}

// TestNoSemicolonInMessage: Nagios rewrites ';' to ':'. Findings are
// separated by " -- " and a ';' in server text becomes ','.
func TestNoSemicolonInMessage(t *testing.T) {
	expectCases(t, []smtptest.Case{
		{
			Name:     "two findings and the summary, a ';' in the server's reply",
			Script:   smtptest.Script("S: 220 mx.example.test; no UCE", "C: EHLO .+", "S: 250 mx", "C: MAIL FROM:<>", "S: 250 ok", "C: RSET", "S: 250 ok", "C: QUIT", "S: 500 5.5.1 no; go away"),
			Args:     []string{"-e", "Postfix"},
			Status:   checkers.WARNING,
			Output:   `^SMTP WARNING: neither the banner nor the EHLO reply contains "Postfix": 220 mx\.example\.test, no UCE -- QUIT refused: 500 5\.5\.1 no, go away -- 0\.\d{3}s response time, mx\.example\.test, no UCE \| time=`,
			ScriptOK: true,
		},
		{
			Name:     "EHLO and HELO refused: no ';' between them",
			Script:   smtptest.Script("S: 220 mx.example.test", "C: EHLO .+", "S: 500 5.5.1 what", "C: HELO .+", "S: 501 5.5.4 go; away", smtptest.Quit()),
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: EHLO and HELO both refused at step ehlo \(an LMTP server\? use -L\): EHLO: 500 5\.5\.1 what, then HELO: 501 5\.5\.4 go, away -- 0\.\d{3}s response time`,
			ScriptOK: true,
		},
	})
	t.Run("a ';' in -e and -C is not echoed either", func(t *testing.T) {
		t.Parallel()
		out := expect(t, smtptest.Case{
			Script: cmdScript("C: NOOP a;b", "S: 250 ok"),
			Args:   []string{"-e", "x;y", "-C", "NOOP a;b", "-R", "^251"},
			Status: checkers.WARNING, Output: `^SMTP WARNING: `,
		})
		if msg, _, _ := strings.Cut(out, " | "); strings.Contains(msg, ";") {
			t.Errorf("';' in the message: %s", out)
		}
	})
}

// TestHints: the failures an operator most often causes carry a hint.
func TestHints(t *testing.T) {
	c := smtptest.NewCerts(t)
	t.Run("-s on a plaintext port", func(t *testing.T) {
		t.Parallel()
		expect(t, smtptest.Case{
			Script: smtptest.Script("S: 220 mx.example.test ESMTP", "HANG"),
			Args:   []string{"-s", "--cafile", c.CAFile},
			Status: checkers.CRITICAL, Output: `^SMTP CRITICAL: TLS handshake failed: first record does not look like a TLS handshake \(the server answered in plaintext: a STARTTLS port\? use -S\) -- `,
		})
	})
	for _, args := range [][]string{{}, {"-S"}} {
		t.Run("no banner, plaintext "+strings.Join(args, ""), func(t *testing.T) {
			t.Parallel()
			expect(t, smtptest.Case{
				Script: []string{"HANG"},
				Args:   append([]string{"-t", "0.5"}, args...),
				Status: checkers.CRITICAL, Output: `^SMTP CRITICAL: timeout after 0\.5s at step banner \(waiting for the banner\): nothing received, an implicit-TLS port\? try -s -- `,
			})
		})
	}
	t.Run("no hint when part of a banner came", func(t *testing.T) {
		t.Parallel()
		out := expect(t, smtptest.Case{
			Script: []string{"RAW: 220 mx", "HANG"},
			Args:   []string{"-t", "0.5"},
			Status: checkers.CRITICAL, Output: `^SMTP CRITICAL: timeout after 0\.5s at step banner`,
		})
		if strings.Contains(out, "implicit-TLS") {
			t.Errorf("hint although the server spoke: %s", out)
		}
	})
	t.Run("no hint with -s", func(t *testing.T) {
		t.Parallel()
		out := expect(t, smtptest.Case{
			Script: smtptest.Script("TLS", "HANG"), TLS: smtptest.ServerTLS(c.Valid),
			Args:   []string{"-s", "--cafile", c.CAFile, "-t", "0.5"},
			Status: checkers.CRITICAL, Output: `^SMTP CRITICAL: timeout after 0\.5s at step banner`,
		})
		if strings.Contains(out, "implicit-TLS") {
			t.Errorf("hint with -s: %s", out)
		}
	})
	t.Run("--cafile given: which file failed to anchor", func(t *testing.T) {
		t.Parallel()
		expect(t, smtptest.Case{
			Script: smtptest.Script("TLS", "HANG"), TLS: smtptest.ServerTLS(c.SelfSigned),
			Args:   []string{"-s", "--cafile", c.CAFile},
			Status: checkers.CRITICAL, Output: `^SMTP CRITICAL: certificate signed by unknown authority \(issuer "CN=localhost"\): not anchored by --cafile ` + regexp.QuoteMeta(c.CAFile) + ` or the system roots \(use -k to skip verification\) -- `,
		})
	})
	t.Run("no --cafile: use --cafile or -k", func(t *testing.T) {
		t.Parallel()
		expect(t, smtptest.Case{
			Script: smtptest.Script("TLS", "HANG"), TLS: smtptest.ServerTLS(c.Valid),
			Args:   []string{"-s"},
			Status: checkers.CRITICAL, Output: `^SMTP CRITICAL: certificate signed by unknown authority \(issuer "CN=check-smtp test CA"\): not anchored by the system roots \(use --cafile or -k\) -- `,
		})
	})
	for _, v := range []struct {
		name string
		max  uint16
	}{{"TLS 1.3", tls.VersionTLS13}, {"TLS 1.2", tls.VersionTLS12}} {
		for _, mode := range []string{"-s", "-S"} {
			t.Run("client certificate demanded, "+v.name+" "+mode, func(t *testing.T) {
				t.Parallel()
				cfg := smtptest.ServerTLS(c.Valid)
				cfg.ClientAuth, cfg.MaxVersion = tls.RequireAnyClientCert, v.max
				sc := smtptest.Script("TLS", "S: 220 mx.example.test ESMTP", "HANG")
				if mode == "-S" {
					sc = smtptest.Script(smtptest.STARTTLS(), "HANG")
				}
				expect(t, smtptest.Case{
					Script: sc, TLS: cfg,
					Args:   []string{mode, "--cafile", c.CAFile, "-t", "5"},
					Status: checkers.CRITICAL, Output: `^SMTP CRITICAL: the server demands a client certificate \(TLS alert: (certificate required|bad certificate|handshake failure)\) at step (tls|banner|ehlo) -- `,
				})
			})
		}
	}
	t.Run("MAIL refused for want of AUTH", func(t *testing.T) {
		t.Parallel()
		for _, reply := range []string{"530 5.7.0 Authentication required", "502 5.7.0 Please authenticate first", "550 5.7.1 Client was not authenticated"} {
			expect(t, smtptest.Case{
				Script: smtptest.Script(smtptest.Greeting(), "C: MAIL FROM:<>", "S: "+reply, smtptest.Quit()), ScriptOK: true,
				Status: checkers.CRITICAL, Output: `^SMTP CRITICAL: MAIL FROM rejected at step mail: ` + regexp.QuoteMeta(reply) + ` \(use -A/-U, or --quit-after ehlo\) -- `,
			})
		}
	})
	t.Run("MAIL refused for want of STARTTLS", func(t *testing.T) {
		t.Parallel()
		expect(t, smtptest.Case{
			Script: smtptest.Script(smtptest.Greeting(), "C: MAIL FROM:<>", "S: 530 5.7.0 Must issue a STARTTLS command first", smtptest.Quit()), ScriptOK: true,
			Status: checkers.CRITICAL, Output: `^SMTP CRITICAL: MAIL FROM rejected at step mail: 530 5\.7\.0 Must issue a STARTTLS command first \(use -S\) -- `,
		})
	})
	t.Run("MAIL refused for other reasons: no hint", func(t *testing.T) {
		t.Parallel()
		expect(t, smtptest.Case{
			Script: smtptest.Script(smtptest.Greeting(), "C: MAIL FROM:<>", "S: 550 5.1.8 bad sender domain", smtptest.Quit()),
			Status: checkers.CRITICAL, Output: `^SMTP CRITICAL: MAIL FROM rejected at step mail: 550 5\.1\.8 bad sender domain -- `,
		})
	})
}

// TestRepliesOutOfStep: a QUIT answered other than 221, and more than one
// reply to one command.
func TestRepliesOutOfStep(t *testing.T) {
	greet := []string{"S: 220 mx.example.test ESMTP ready", "C: EHLO .+"}
	expectCases(t, []smtptest.Case{
		{
			Name:     "QUIT answered 250 is WARNING",
			Script:   smtptest.Script(smtptest.Greeting(), smtptest.MailOK(), "C: RSET", "S: 250 ok", "C: QUIT", "S: 250 2.0.0 Ok"),
			Status:   checkers.WARNING,
			Output:   `^SMTP WARNING: QUIT answered 250 2\.0\.0 Ok, expected 221 -- 0\.\d{3}s response time`,
			ScriptOK: true,
		},
		{
			Name:     "-q: QUIT answered 250 is OK",
			Script:   smtptest.Script(smtptest.Greeting(), smtptest.MailOK(), "C: RSET", "S: 250 ok", "C: QUIT", "S: 250 2.0.0 Ok"),
			Args:     []string{"-q"},
			Status:   checkers.OK,
			Output:   `^SMTP OK: `,
			ScriptOK: true,
		},
		{
			Name:     "two replies to QUIT is WARNING",
			Script:   smtptest.Script(smtptest.Greeting(), smtptest.MailOK(), "C: RSET", "S: 250 ok", "C: QUIT", "RAW: 221 2.0.0 Bye\r\n221 2.0.0 Bye again\r\n"),
			Status:   checkers.WARNING,
			Output:   `^SMTP WARNING: replies out of step at step quit: more data after the reply to QUIT: 221 2\.0\.0 Bye again -- 0\.\d{3}s response time`,
			ScriptOK: true,
		},
		{
			Name:   "two replies to EHLO is CRITICAL before MAIL is sent",
			Script: smtptest.Script(greet, "RAW: 250 mx.example.test\r\n250 mx.example.test again\r\n", smtptest.Quit()),
			Status: checkers.CRITICAL,
			Output: `^SMTP CRITICAL: replies out of step at step ehlo: more data after the reply to EHLO: 250 mx\.example\.test again -- .* ehlo=` + pd + `;;;0\n$`,
		},
		{
			Name:   "two replies to MAIL is CRITICAL",
			Script: smtptest.Script(smtptest.Greeting(), "C: MAIL FROM:<>", "RAW: 250 ok\r\n250 ok\r\n", "HANG"),
			Status: checkers.CRITICAL,
			Output: `^SMTP CRITICAL: replies out of step at step mail: more data after the reply to MAIL: 250 ok -- `,
		},
		{
			Name:   "two replies to RSET is CRITICAL",
			Script: smtptest.Script(smtptest.Greeting(), smtptest.MailOK(), "C: RSET", "RAW: 250 ok\r\n250 ok\r\n", "HANG"),
			Status: checkers.CRITICAL,
			Output: `^SMTP CRITICAL: replies out of step at step rset: more data after the reply to RSET: 250 ok -- `,
		},
		{
			Name:   "data after the banner is CRITICAL",
			Script: smtptest.Script("RAW: 220 mx.example.test\r\n220 mx.example.test again\r\n", "HANG"),
			Status: checkers.CRITICAL,
			Output: `^SMTP CRITICAL: replies out of step at step banner: more data after the banner: 220 mx\.example\.test again -- `,
		},
	})
}
