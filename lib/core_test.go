package checksmtp

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mackerelio/checkers"

	"github.com/check-smtp/check-smtp/lib/internal/smtptest"
)

// Tests of the core check (issue #2): the plain-TCP conversation, options,
// thresholds, deadline and output, each driven over a loopback socket
// against the scripted mock server.

// pd matches one perfdata value in seconds with µs precision.
const pd = `\d+\.\d{6}s`

// lit quotes a literal (base64 holds '+' and '/') for a "C:" regexp.
func lit(s string) string { return regexp.QuoteMeta(s) }

// scriptAuthGreeting is a greeting that advertises AUTH.
var scriptAuthGreeting = []string{"S: 220 mx.example.test ESMTP ready", "C: EHLO .+",
	"S: 250-mx.example.test", "S: 250-AUTH PLAIN LOGIN CRAM-MD5", "S: 250 8BITMIME"}

// Known SASL payloads for user "alice", password "s3cret" (computed
// independently of the code under test: printf '\0alice\0s3cret' | base64).
const (
	plainAliceS3cret = "AGFsaWNlAHMzY3JldA=="
	b64Alice         = "YWxpY2U="
	b64S3cret        = "czNjcmV0"
	// RFC 2195's own example: challenge, user "tim", secret "tanstaaftanstaaf".
	cramChallenge = "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"
	cramResponse  = "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw" // "tim b913a602c7eda7a495b4e6e7334d3890"
)

func TestCoreGreeting(t *testing.T) {
	expectCases(t, []smtptest.Case{
		{
			Name:     "banner 554 is CRITICAL and quotes the banner",
			Script:   smtptest.Script("S: 554 5.7.1 mx.example.test no service for you", smtptest.Quit()),
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: server refused the connection at step banner: 554 5\.7\.1 mx\.example\.test no service for you -- 0\.\d{3}s response time \| time=` + pd + `;;;0 connect=` + pd + `;;;0 banner=` + pd + `;;;0\n$`,
			ScriptOK: true,
		},
		{
			Name:   "banner 421 is CRITICAL",
			Script: smtptest.Script("S: 421 4.3.2 mx.example.test too busy", "CLOSE"),
			Status: checkers.CRITICAL,
			Output: `^SMTP CRITICAL: server refused the connection at step banner: 421 4\.3\.2 mx\.example\.test too busy --`,
		},
		{
			Name:   "multi-line banner is read whole",
			Script: smtptest.Script("S: 220-mx.example.test ESMTP", "S: 220-no UCE", "S: 220 welcome", "C: EHLO .+", "S: 250 mx", smtptest.Tail()),
			Status: checkers.OK,
			Output: `^SMTP OK: 0\.\d{3}s response time, mx\.example\.test ESMTP no UCE welcome \|`,
		},
		{
			Name:     "EHLO 5xx falls back to HELO",
			Script:   smtptest.Script("S: 220 old.example.test SMTP", "C: EHLO .+", "S: 502 5.5.2 command not recognized", "C: HELO .+", "S: 250 old.example.test", smtptest.Tail()),
			Status:   checkers.OK,
			Output:   `^SMTP OK: .* \| time=` + pd + `;;;0 connect=` + pd + `;;;0 banner=` + pd + `;;;0 ehlo=` + pd + `;;;0 mail=`,
			ScriptOK: true,
		},
		{
			Name:     "EHLO and HELO both refused is CRITICAL quoting both",
			Script:   smtptest.Script("S: 220 mx.example.test", "C: EHLO .+", "S: 500 5.5.1 what", "C: HELO .+", "S: 501 5.5.4 go away", smtptest.Quit()),
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: EHLO and HELO both refused at step ehlo .*EHLO: 500 5\.5\.1 what, then HELO: 501 5\.5\.4 go away --`,
			ScriptOK: true,
		},
		{
			Name:     "EHLO 4xx is CRITICAL without a HELO fallback",
			Script:   smtptest.Script("S: 220 mx.example.test", "C: EHLO .+", "S: 421 4.7.0 try later", smtptest.Quit()),
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: EHLO rejected at step ehlo: 421 4\.7\.0 try later --`,
			ScriptOK: true,
		},
		{
			Name:     "-F is the name sent in EHLO",
			Script:   smtptest.Script("S: 220 mx", "C: EHLO probe\\.example\\.test", "S: 250 mx", smtptest.Tail()),
			Args:     []string{"-F", "probe.example.test"},
			Status:   checkers.OK,
			Output:   `^SMTP OK: `,
			ScriptOK: true,
		},
		{
			Name:     "--fqdn is the name sent in HELO after the fallback",
			Script:   smtptest.Script("S: 220 mx", "C: EHLO probe\\.example\\.test", "S: 502 no", "C: HELO probe\\.example\\.test", "S: 250 mx", smtptest.Tail()),
			Args:     []string{"--fqdn", "probe.example.test"},
			Status:   checkers.OK,
			Output:   `^SMTP OK: `,
			ScriptOK: true,
		},
		{
			Name:   "malformed reply is CRITICAL",
			Script: smtptest.Script("S: hello there", "CLOSE"),
			Status: checkers.CRITICAL,
			Output: `^SMTP CRITICAL: malformed reply \(not an SMTP reply code\): hello there at step banner`,
		},
		{
			Name:   "reply line over 2000 bytes is CRITICAL",
			Script: smtptest.Script("S: 220 "+strings.Repeat("x", 2100), "CLOSE"),
			Status: checkers.CRITICAL,
			Output: `^SMTP CRITICAL: reply line longer than 2000 bytes at step banner`,
		},
		{
			Name:   "reply over 100 lines is CRITICAL",
			Script: smtptest.Script(strings.Split(strings.Repeat("S: 220-more\n", 120), "\n")[:120], "S: 220 end", "CLOSE"),
			Status: checkers.CRITICAL,
			Output: `^SMTP CRITICAL: reply longer than 100 lines at step banner`,
		},
	})
}

func TestCoreAuth(t *testing.T) {
	user := []string{"-U", "alice", "-P", "s3cret"}
	expectCases(t, []smtptest.Case{
		{
			Name:     "AUTH PLAIN sends the initial response",
			Script:   smtptest.Script(scriptAuthGreeting, "C: AUTH PLAIN "+lit(plainAliceS3cret), "S: 235 2.7.0 Authentication successful", smtptest.MailOK(), smtptest.RsetOK(), smtptest.Quit()),
			Args:     append([]string{"-A", "PLAIN"}, user...),
			Status:   checkers.OK,
			Output:   `^SMTP OK: .* \| time=` + pd + `;;;0 connect=` + pd + `;;;0 banner=` + pd + `;;;0 ehlo=` + pd + `;;;0 auth=` + pd + `;;;0 mail=`,
			ScriptOK: true,
		},
		{
			Name: "AUTH LOGIN answers user then password, whatever the prompts",
			Script: smtptest.Script(scriptAuthGreeting, "C: AUTH LOGIN", "S: 334 VXNlcm5hbWU6", "C: "+lit(b64Alice),
				"S: 334 UGFzc3dvcmQ6", "C: "+lit(b64S3cret), "S: 235 2.7.0 ok", smtptest.MailOK(), smtptest.RsetOK(), smtptest.Quit()),
			Args:     append([]string{"--authmech", "login"}, user...),
			Status:   checkers.OK,
			Output:   ` auth=` + pd,
			ScriptOK: true,
		},
		{
			Name: "AUTH CRAM-MD5 answers the RFC 2195 challenge with the known HMAC",
			Script: smtptest.Script(scriptAuthGreeting, "C: AUTH CRAM-MD5", "S: 334 "+cramChallenge, "C: "+lit(cramResponse),
				"S: 235 2.7.0 ok", smtptest.MailOK(), smtptest.RsetOK(), smtptest.Quit()),
			Args:     []string{"--authtype", "CRAM-MD5", "--authuser", "tim", "--authpassword", "tanstaaftanstaaf"},
			Status:   checkers.OK,
			Output:   ` auth=` + pd,
			ScriptOK: true,
		},
		{
			Name:     "AUTH mechanism not offered names the one asked for and those offered",
			Script:   smtptest.Script("S: 220 mx", "C: EHLO .+", "S: 250-mx", "S: 250 AUTH PLAIN LOGIN", smtptest.Quit()),
			Args:     append([]string{"-A", "CRAM-MD5"}, user...),
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: AUTH CRAM-MD5 not offered: the server offers PLAIN LOGIN\b[^|]* --`,
			ScriptOK: true,
		},
		{
			Name:     "no AUTH offered at all",
			Script:   smtptest.Script(smtptest.Greeting(), smtptest.Quit()),
			Args:     append([]string{"-A", "PLAIN"}, user...),
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: AUTH PLAIN not offered: the server offers no AUTH mechanism \(many servers offer AUTH only over TLS: try -S or -s\) --`,
			ScriptOK: true,
		},
		{
			Name:     "AUTH= (pre-RFC 4954) advertisement is understood",
			Script:   smtptest.Script("S: 220 mx", "C: EHLO .+", "S: 250-mx", "S: 250 AUTH=LOGIN", "C: AUTH LOGIN", "S: 334 VXNlcm5hbWU6", "C: .+", "S: 334 UGFzc3dvcmQ6", "C: .+", "S: 235 ok", smtptest.MailOK(), smtptest.RsetOK(), smtptest.Quit()),
			Args:     append([]string{"-A", "LOGIN"}, user...),
			Status:   checkers.OK,
			Output:   `^SMTP OK: `,
			ScriptOK: true,
		},
		{
			Name:     "AUTH refused with 535 is CRITICAL and never shows the password",
			Script:   smtptest.Script(scriptAuthGreeting, "C: AUTH PLAIN "+lit(plainAliceS3cret), "S: 535 5.7.8 Authentication credentials invalid", smtptest.Quit()),
			Args:     append([]string{"-A", "PLAIN", "-v"}, user...),
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: AUTH PLAIN refused at step auth: 535 5\.7\.8 Authentication credentials invalid --`,
			ScriptOK: true,
		},
		{
			Name:     "-v transcript follows the status line; AUTH payloads are redacted",
			Script:   smtptest.Script(scriptAuthGreeting, "C: AUTH PLAIN "+lit(plainAliceS3cret), "S: 235 2.7.0 ok", smtptest.MailOK(), smtptest.RsetOK(), smtptest.Quit()),
			Args:     append([]string{"-A", "PLAIN", "-v"}, user...),
			Status:   checkers.OK,
			Output:   `^SMTP OK: [^\n]* \| time=[^\n]*\nS: 220 mx\.example\.test ESMTP ready\nC: EHLO \S+\nS: 250-mx\.example\.test\nS: 250-AUTH PLAIN LOGIN CRAM-MD5\nS: 250 8BITMIME\nC: AUTH PLAIN <redacted>\nS: 235 2\.7\.0 ok\nC: MAIL FROM:<>\nS: 250 2\.1\.0 Ok\nC: RSET\nS: 250 2\.0\.0 Ok\nC: QUIT\nS: 221 2\.0\.0 Bye\n$`,
			ScriptOK: true,
		},
		{
			Name: "-v with LOGIN redacts each answer",
			Script: smtptest.Script(scriptAuthGreeting, "C: AUTH LOGIN", "S: 334 VXNlcm5hbWU6", "C: "+lit(b64Alice),
				"S: 334 UGFzc3dvcmQ6", "C: "+lit(b64S3cret), "S: 235 2.7.0 ok", smtptest.MailOK(), smtptest.RsetOK(), smtptest.Quit()),
			Args:     append([]string{"-A", "LOGIN", "-v"}, user...),
			Status:   checkers.OK,
			Output:   `\nC: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: <redacted>\nS: 334 UGFzc3dvcmQ6\nC: <redacted>\nS: 235 `,
			ScriptOK: true,
		},
		{
			Name:     "AUTH to a host name resolving to loopback is allowed in cleartext",
			Script:   smtptest.Script(scriptAuthGreeting, "C: AUTH PLAIN "+lit(plainAliceS3cret), "S: 235 ok", smtptest.MailOK(), smtptest.RsetOK(), smtptest.Quit()),
			Args:     append([]string{"-A", "PLAIN", "-4", "-H", "localhost"}, user...),
			Status:   checkers.OK,
			Output:   `^SMTP OK: `,
			ScriptOK: true,
		},
		{
			Name:     "--authpass alias and --allow-plaintext-auth are accepted",
			Script:   smtptest.Script(scriptAuthGreeting, "C: AUTH PLAIN "+lit(plainAliceS3cret), "S: 235 ok", smtptest.MailOK(), smtptest.RsetOK(), smtptest.Quit()),
			Args:     []string{"-A", "PLAIN", "-U", "alice", "--authpass", "s3cret", "--allow-plaintext-auth"},
			Status:   checkers.OK,
			Output:   `^SMTP OK: `,
			ScriptOK: true,
		},
	})
}

// TestCoreAuthPasswordSources covers -P, --authpassword-file and the
// environment. t.Setenv forbids t.Parallel, so these run one by one.
func TestCoreAuthPasswordSources(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte("filepw\nsecond line is ignored\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	crlfFile := filepath.Join(dir, "pw-crlf")
	if err := os.WriteFile(crlfFile, []byte("filepw\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const (
		plainFilepw = "AGFsaWNlAGZpbGVwdw==" // \0alice\0filepw
		plainEnvpw  = "AGFsaWNlAGVudnB3"     // \0alice\0envpw
	)
	authOK := func(payload string) []string {
		return smtptest.Script(scriptAuthGreeting, "C: AUTH PLAIN "+lit(payload), "S: 235 ok", smtptest.MailOK(), smtptest.RsetOK(), smtptest.Quit())
	}
	cases := []struct {
		env string // CHECK_SMTP_AUTHPASSWORD
		smtptest.Case
	}{
		{"envpw", smtptest.Case{Name: "password from CHECK_SMTP_AUTHPASSWORD",
			Script: authOK(plainEnvpw), Args: []string{"-A", "PLAIN", "-U", "alice"},
			Status: checkers.OK, Output: `^SMTP OK: `, ScriptOK: true}},
		{"", smtptest.Case{Name: "password from the first line of --authpassword-file",
			Script: authOK(plainFilepw), Args: []string{"-A", "PLAIN", "-U", "alice", "--authpassword-file", pwFile},
			Status: checkers.OK, Output: `^SMTP OK: `, ScriptOK: true}},
		{"", smtptest.Case{Name: "a CRLF password file loses its CR",
			Script: authOK(plainFilepw), Args: []string{"-A", "PLAIN", "-U", "alice", "--authpassword-file", crlfFile},
			Status: checkers.OK, Output: `^SMTP OK: `, ScriptOK: true}},
		{"envpw", smtptest.Case{Name: "-P beats the file and the environment",
			Script: authOK(plainAliceS3cret), Args: []string{"-A", "PLAIN", "-U", "alice", "-P", "s3cret", "--authpassword-file", pwFile},
			Status: checkers.OK, Output: `^SMTP OK: `, ScriptOK: true}},
		{"envpw", smtptest.Case{Name: "the file beats the environment",
			Script: authOK(plainFilepw), Args: []string{"-A", "PLAIN", "-U", "alice", "--authpassword-file", pwFile},
			Status: checkers.OK, Output: `^SMTP OK: `, ScriptOK: true}},
		{"envpw", smtptest.Case{Name: "the env password never shows with -v",
			Script: smtptest.Script(scriptAuthGreeting, "C: AUTH PLAIN "+lit(plainEnvpw), "S: 535 5.7.8 no envpw for you", smtptest.Quit()),
			Args:   []string{"-A", "PLAIN", "-U", "alice", "-v"}, Status: checkers.CRITICAL,
			Output: `^SMTP CRITICAL: AUTH PLAIN refused at step auth: 535 5\.7\.8 no <redacted> for you -- [^\n]*\n(?s:.*)C: AUTH PLAIN <redacted>\nS: 535 5\.7\.8 no <redacted> for you\n`, ScriptOK: true}},
	}
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			t.Setenv("CHECK_SMTP_AUTHPASSWORD", tc.env)
			c := tc.Case
			c.Absent = []string{"s3cret", "filepw", "envpw", plainAliceS3cret, plainFilepw, plainEnvpw}
			expect(t, c)
		})
	}

	// Without a server: these end before connecting.
	t.Run("no password anywhere is UNKNOWN", func(t *testing.T) {
		t.Setenv("CHECK_SMTP_AUTHPASSWORD", "")
		expect(t, smtptest.Case{NoConnect: true, Args: []string{"-A", "PLAIN", "-U", "alice"},
			Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: -A PLAIN needs a password: -P, env CHECK_SMTP_AUTHPASSWORD or --authpassword-file`})
	})
	t.Run("missing password file is UNKNOWN even with the env set", func(t *testing.T) {
		t.Setenv("CHECK_SMTP_AUTHPASSWORD", "envpw")
		expect(t, smtptest.Case{NoConnect: true, Args: []string{"-A", "PLAIN", "-U", "alice", "--authpassword-file", filepath.Join(dir, "nope")},
			Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: [^|]*cannot read --authpassword-file`})
	})
}

func TestCoreAuthOptionErrors(t *testing.T) {
	expectCases(t, []smtptest.Case{
		{Name: "-A without -U", Args: []string{"-H", "127.0.0.1", "-A", "PLAIN", "-P", "x"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: -A PLAIN needs -U \(user\) \(see --help\)\n$`},
		{Name: "-A with an unknown mechanism", Args: []string{"-H", "127.0.0.1", "-A", "XOAUTH2", "-U", "a", "-P", "x"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: -A XOAUTH2: unsupported mechanism`},
		{Name: "empty password file", Args: []string{"-H", "127.0.0.1", "-A", "PLAIN", "-U", "a", "--authpassword-file", os.DevNull}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: --authpassword-file /dev/null: first line is empty`},
	})
}

// TestCoreCleartextAuthRefused: AUTH to a non-loopback IP literal over plain
// TCP must be refused while parsing the options, before any dial. 192.0.2.1
// is TEST-NET-1: never connected to; with -t 30 a dial attempt would hang
// far past the bound below or leave connect perfdata.
func TestCoreCleartextAuthRefused(t *testing.T) {
	t.Parallel()
	for _, mech := range []string{"PLAIN", "LOGIN", "CRAM-MD5"} {
		// Refused before any dial: the run returns long before -t 30 (the
		// guard allows Deadline + smtptest.HangSlack), without perfdata.
		expect(t, smtptest.Case{Args: []string{"-H", "192.0.2.1", "-t", "30", "-A", mech, "-U", "alice", "-P", "s3cret"},
			Deadline: 5 * time.Second, Absent: []string{"s3cret"}, Status: checkers.UNKNOWN,
			Output: `^SMTP UNKNOWN: refusing to send AUTH in cleartext to 192\.0\.2\.1: use -s or -S, or --allow-plaintext-auth\n$`})
	}
}

func TestCoreEnvelope(t *testing.T) {
	expectCases(t, []smtptest.Case{
		{
			Name:     "-f is the MAIL FROM sender",
			Script:   smtptest.Script(smtptest.Greeting(), "C: MAIL FROM:<mon@example\\.test>", "S: 250 ok", smtptest.RsetOK(), smtptest.Quit()),
			Args:     []string{"-f", "mon@example.test"},
			Status:   checkers.OK,
			Output:   `^SMTP OK: `,
			ScriptOK: true,
		},
		{
			Name:     "default sender is the null path",
			Script:   smtptest.Script(smtptest.Greeting(), "C: MAIL FROM:<>", "S: 250 ok", smtptest.RsetOK(), smtptest.Quit()),
			Status:   checkers.OK,
			Output:   `^SMTP OK: `,
			ScriptOK: true,
		},
		{
			Name:     "MAIL 451 is CRITICAL",
			Script:   smtptest.Script(smtptest.Greeting(), "C: MAIL FROM:<>", "S: 451 4.3.0 try again", smtptest.Quit()),
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: MAIL FROM rejected at step mail: 451 4\.3\.0 try again -- .* mail=` + pd + `;;;0\n$`,
			ScriptOK: true,
		},
		{
			Name: "several --rcpt accepted",
			Script: smtptest.Script(smtptest.Greeting(), smtptest.MailOK(), "C: RCPT TO:<a@example\\.test>", "S: 250 2.1.5 ok",
				"C: RCPT TO:<b@example\\.test>", "S: 251 2.1.5 will forward", smtptest.RsetOK(), smtptest.Quit()),
			Args:     []string{"--rcpt", "a@example.test", "--rcpt", "b@example.test"},
			Status:   checkers.OK,
			Output:   ` mail=` + pd + `;;;0 rcpt=` + pd + `;;;0 rset=`,
			ScriptOK: true,
		},
		{
			Name: "the second --rcpt refused is CRITICAL naming it",
			Script: smtptest.Script(smtptest.Greeting(), smtptest.MailOK(), "C: RCPT TO:<a@example\\.test>", "S: 250 ok",
				"C: RCPT TO:<b@example\\.test>", "S: 550 5.1.1 no such user", smtptest.Quit()),
			Args:     []string{"--rcpt", "a@example.test", "--rcpt", "b@example.test"},
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: RCPT TO:<b@example\.test> rejected at step rcpt: 550 5\.1\.1 no such user --`,
			ScriptOK: true,
		},
		{
			Name:     "--rcpt refused with 4xx is CRITICAL too",
			Script:   smtptest.Script(smtptest.Greeting(), smtptest.MailOK(), "C: RCPT TO:<a@example\\.test>", "S: 450 4.2.0 greylisted", smtptest.Quit()),
			Args:     []string{"--rcpt", "a@example.test"},
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: RCPT TO:<a@example\.test> rejected at step rcpt: 450 4\.2\.0 greylisted --`,
			ScriptOK: true,
		},
		{
			Name: "--reject-rcpt refused with 5xx is OK (no open relay)",
			Script: smtptest.Script(smtptest.Greeting(), smtptest.MailOK(), "C: RCPT TO:<a@example\\.test>", "S: 250 ok",
				"C: RCPT TO:<x@elsewhere\\.test>", "S: 554 5.7.1 relay access denied", smtptest.RsetOK(), smtptest.Quit()),
			Args:     []string{"--rcpt", "a@example.test", "--reject-rcpt", "x@elsewhere.test"},
			Status:   checkers.OK,
			Output:   `^SMTP OK: .* rcpt=` + pd,
			ScriptOK: true,
		},
		{
			Name:     "--reject-rcpt accepted is CRITICAL",
			Script:   smtptest.Script(smtptest.Greeting(), smtptest.MailOK(), "C: RCPT TO:<x@elsewhere\\.test>", "S: 250 2.1.5 ok", smtptest.Quit()),
			Args:     []string{"--reject-rcpt", "x@elsewhere.test"},
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: RCPT TO:<x@elsewhere\.test> accepted, expected a rejection: 250 2\.1\.5 ok --`,
			ScriptOK: true,
		},
		{
			Name:     "--reject-rcpt answered 4xx is WARNING and the conversation goes on",
			Script:   smtptest.Script(smtptest.Greeting(), smtptest.MailOK(), "C: RCPT TO:<x@elsewhere\\.test>", "S: 450 4.7.1 greylisted", smtptest.RsetOK(), smtptest.Quit()),
			Args:     []string{"--reject-rcpt", "x@elsewhere.test"},
			Status:   checkers.WARNING,
			Output:   `^SMTP WARNING: RCPT TO:<x@elsewhere\.test> got a temporary failure, expected a permanent rejection: 450 4\.7\.1 greylisted -- 0\.\d{3}s response time`,
			ScriptOK: true,
		},
		{
			Name:     "RSET refused is CRITICAL",
			Script:   smtptest.Script(smtptest.Greeting(), smtptest.MailOK(), "C: RSET", "S: 502 5.5.1 not implemented", smtptest.Quit()),
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: RSET rejected at step rset: 502 5\.5\.1 not implemented --`,
			ScriptOK: true,
		},
		{
			Name:     "QUIT refused is WARNING",
			Script:   smtptest.Script(smtptest.Greeting(), smtptest.MailOK(), "C: RSET", "S: 250 ok", "C: QUIT", "S: 500 5.5.1 no"),
			Status:   checkers.WARNING,
			Output:   `^SMTP WARNING: QUIT refused: 500 5\.5\.1 no -- 0\.\d{3}s response time, .* quit=` + pd + `;;;0\n$`,
			ScriptOK: true,
		},
		{
			Name:     "QUIT answered by closing is WARNING",
			Script:   smtptest.Script(smtptest.Greeting(), smtptest.MailOK(), "C: RSET", "S: 250 ok", "C: QUIT", "CLOSE"),
			Status:   checkers.WARNING,
			Output:   `^SMTP WARNING: QUIT failed: connection closed by server at step quit`,
			ScriptOK: true,
		},
		{
			Name:     "-q: QUIT refused is OK",
			Script:   smtptest.Script(smtptest.Greeting(), smtptest.MailOK(), "C: RSET", "S: 250 ok", "C: QUIT", "S: 500 no"),
			Args:     []string{"-q"},
			Status:   checkers.OK,
			Output:   `^SMTP OK: `,
			ScriptOK: true,
		},
		{
			Name:     "--ignore-quit-failure: QUIT closed is OK",
			Script:   smtptest.Script(smtptest.Greeting(), smtptest.MailOK(), "C: RSET", "S: 250 ok", "C: QUIT", "CLOSE"),
			Args:     []string{"--ignore-quit-failure"},
			Status:   checkers.OK,
			Output:   `^SMTP OK: `,
			ScriptOK: true,
		},
		{
			Name:     "--status-as warning=critical remaps a failed QUIT",
			Script:   smtptest.Script(smtptest.Greeting(), smtptest.MailOK(), "C: RSET", "S: 250 ok", "C: QUIT", "S: 500 no"),
			Args:     []string{"--status-as", "warning=critical"},
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: QUIT refused: 500 no --`,
			ScriptOK: true,
		},
		{
			Name:     "--no-perfdata leaves the perfdata off",
			Script:   smtptest.Script(smtptest.Greeting(), smtptest.Tail()),
			Args:     []string{"--no-perfdata"},
			Status:   checkers.OK,
			Output:   `^SMTP OK: 0\.\d{3}s response time, mx\.example\.test ESMTP ready\n$`,
			ScriptOK: true,
		},
		{
			Name:     "--no-perfdata with -v: transcript, still no perfdata",
			Script:   smtptest.Script(smtptest.Greeting(), smtptest.Tail()),
			Args:     []string{"--no-perfdata", "-v"},
			Status:   checkers.OK,
			Output:   `^SMTP OK: [^|\n]*\nS: 220 [^|]*C: QUIT\nS: 221 2\.0\.0 Bye\n$`,
			ScriptOK: true,
		},
		{
			Name: "perfdata order and thresholds; every step that ran",
			Script: smtptest.Script(scriptAuthGreeting, "C: AUTH PLAIN .+", "S: 235 ok", smtptest.MailOK(),
				"C: RCPT TO:<a@example\\.test>", "S: 250 ok", smtptest.RsetOK(), smtptest.Quit()),
			Args: []string{"-A", "PLAIN", "-U", "alice", "-P", "s3cret", "--rcpt", "a@example.test",
				"-w", "80", "-c", "90.5", "--step-warning", "mail=40", "--step-critical", "mail=50",
				"--step-warning", "connect=10.5", "--step-critical", "quit=20"},
			Status: checkers.OK,
			Output: `^SMTP OK: [^|]* \| time=` + pd + `;80;90\.5;0 connect=` + pd + `;10\.5;;0 banner=` + pd + `;;;0 ehlo=` + pd +
				`;;;0 auth=` + pd + `;;;0 mail=` + pd + `;40;50;0 rcpt=` + pd + `;;;0 rset=` + pd + `;;;0 quit=` + pd + `;;20;0\n$`,
			ScriptOK: true,
		},
		{
			Name:     "'|' in server text becomes '¦', control characters go",
			Script:   smtptest.Script("S: 220 mx | pipes\x07 here", "C: EHLO .+", "S: 250 mx", smtptest.Tail()),
			Status:   checkers.OK,
			Output:   `^SMTP OK: 0\.\d{3}s response time, mx ¦ pipes here \| time=[^|]*\n$`,
			ScriptOK: true,
		},
		{
			Name:     "server text is quoted up to 300 characters",
			Script:   smtptest.Script(smtptest.Greeting(), "C: MAIL FROM:<>", "S: 550 "+strings.Repeat("y", 400), smtptest.Quit()),
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: MAIL FROM rejected at step mail: 550 y{296}\.\.\. -- `,
			ScriptOK: true,
		},
	})
}

func TestCoreThresholds(t *testing.T) {
	// The MAIL reply is held back 300ms; thresholds of 0.1s are well below.
	slowMail := smtptest.Script(smtptest.Greeting(), "C: MAIL FROM:<>", "SLEEP 300ms", "S: 250 ok", smtptest.RsetOK(), smtptest.Quit())
	expectCases(t, []smtptest.Case{
		{
			Name:     "-w exceeded is WARNING",
			Script:   slowMail,
			Args:     []string{"-w", "0.1"},
			Status:   checkers.WARNING,
			Output:   `^SMTP WARNING: response time \d+\.\d{3}s over warning threshold 0\.1s -- .* \| time=` + pd + `;0\.1;;0 `,
			ScriptOK: true,
		},
		{
			Name:     "-c exceeded is CRITICAL",
			Script:   slowMail,
			Args:     []string{"-w", "0.05", "-c", "0.1"},
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: response time \d+\.\d{3}s over critical threshold 0\.1s -- .* \| time=` + pd + `;0\.05;0\.1;0 `,
			ScriptOK: true,
		},
		{
			Name:     "generous -w/-c are OK",
			Script:   slowMail,
			Args:     []string{"--warning", "20", "--critical", "30"},
			Status:   checkers.OK,
			Output:   `^SMTP OK: `,
			ScriptOK: true,
		},
		{
			Name:     "--step-warning on the slow step is WARNING naming it",
			Script:   slowMail,
			Args:     []string{"--step-warning", "mail=0.1", "--step-warning", "banner=20"},
			Status:   checkers.WARNING,
			Output:   `^SMTP WARNING: step mail took \d+\.\d{3}s, over warning threshold 0\.1s -- .* banner=` + pd + `;20;;0 .* mail=` + pd + `;0\.1;;0 `,
			ScriptOK: true,
		},
		{
			Name:     "--step-critical on the slow step is CRITICAL",
			Script:   slowMail,
			Args:     []string{"--step-critical", "MAIL=0.1"},
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: step mail took \d+\.\d{3}s, over critical threshold 0\.1s --`,
			ScriptOK: true,
		},
		{
			Name:     "a step threshold on a fast step stays OK",
			Script:   slowMail,
			Args:     []string{"--step-critical", "rset=20"},
			Status:   checkers.OK,
			Output:   `^SMTP OK: `,
			ScriptOK: true,
		},
		{
			Name:     "time thresholds are not judged when the conversation failed",
			Script:   smtptest.Script(smtptest.Greeting(), "C: MAIL FROM:<>", "SLEEP 300ms", "S: 550 no", smtptest.Quit()),
			Args:     []string{"-c", "0.1", "--step-critical", "mail=0.1"},
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: MAIL FROM rejected at step mail: 550 no -- \d+\.\d{3}s response time, [^|]* \|`,
			ScriptOK: true,
		},
		{
			Name:   "-t expiry names the step it interrupted",
			Script: smtptest.Script("S: 220 mx.example.test", "HANG"),
			Args:   []string{"-t", "0.5"},
			Status: checkers.CRITICAL,
			Output: `^SMTP CRITICAL: timeout after 0\.5s at step ehlo \(reply to EHLO\) -- `,
		},
		{
			Name:   "-t expiry while waiting for the banner",
			Script: smtptest.Script("HANG"),
			Args:   []string{"--timeout", "0.5"},
			Status: checkers.CRITICAL,
			Output: `^SMTP CRITICAL: timeout after 0\.5s at step banner \(waiting for the banner\): nothing received, an implicit-TLS port\? try -s -- .*\| time=` + pd + `;;;0 connect=` + pd + `;;;0 banner=` + pd + `;;;0\n$`,
		},
		{
			Name:   "-t 0.5:UNKNOWN picks the state on timeout",
			Script: smtptest.Script("S: 220 mx.example.test", "HANG"),
			Args:   []string{"-t", "0.5:UNKNOWN"},
			Status: checkers.UNKNOWN,
			Output: `^SMTP UNKNOWN: timeout after 0\.5s at step ehlo`,
		},
		{
			Name:   "-t 0.5:3 picks UNKNOWN by number",
			Script: smtptest.Script("S: 220 mx.example.test", "HANG"),
			Args:   []string{"-t", "0.5:3"},
			Status: checkers.UNKNOWN,
			Output: `^SMTP UNKNOWN: timeout after 0\.5s at step ehlo`,
		},
		{
			Name:   "-t 0.5:warning in lower case",
			Script: smtptest.Script(smtptest.Greeting(), "C: MAIL FROM:<>", "HANG"),
			Args:   []string{"-t", "0.5:warning"},
			Status: checkers.WARNING,
			Output: `^SMTP WARNING: timeout after 0\.5s at step mail \(reply to MAIL\)`,
		},
		{
			Name:   "a server trickling one byte at a time still ends at the deadline",
			Script: smtptest.Script("RAW: 2", "SLEEP 200ms", "RAW: 2", "SLEEP 200ms", "RAW: 0", "SLEEP 200ms", "RAW:  ", "SLEEP 200ms", "RAW: m", "HANG"),
			Args:   []string{"-t", "0.5"},
			Status: checkers.CRITICAL,
			Output: `^SMTP CRITICAL: timeout after 0\.5s at step banner`,
		},
	})
}

func TestCoreOptionErrors(t *testing.T) {
	expectCases(t, []smtptest.Case{
		{Name: "unknown long option names it", Args: []string{"--bogus"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: unknown option --bogus \(see --help\)\n$`},
		{Name: "unknown short option names it", Args: []string{"-Z"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: unknown option -Z \(see --help\)\n$`},
		{Name: "option missing its value", Args: []string{"-H"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: -H \(--host\) needs a value: -H HOST \(see --help\)\n$`},
		{Name: "bad port", Args: []string{"-p", "70000"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: -p "70000": want a decimal port number 1-65535, e.g\. -p 587 \(see --help\)\n$`},
		{Name: "non-numeric port", Args: []string{"-p", "smtp"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: .*-p.*smtp`},
		{Name: "bad -t", Args: []string{"-t", "soon"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: -t "soon": want seconds > 0`},
		{Name: "-t 0", Args: []string{"-t", "0"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: -t "0": want seconds > 0`},
		{Name: "-t with an unknown state", Args: []string{"-t", "1:MAYBE"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: -t "1:MAYBE": unknown state "MAYBE"`},
		{Name: "bad -w", Args: []string{"-w", "fast"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: -w "fast": want seconds`},
		{Name: "negative -c", Args: []string{"--critical=-1"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: -c "-1": want seconds`},
		{Name: "--step-warning with an unknown step", Args: []string{"--step-warning", "data=1"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: --step-warning "data=1": unknown step "data"`},
		{Name: "--step-critical without seconds", Args: []string{"--step-critical", "mail"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: --step-critical "mail": want STEP=SECONDS`},
		{Name: "bad --status-as", Args: []string{"--status-as", "warning=purple"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: --status-as "warning=purple"`},
		{Name: "-4 with -6", Args: []string{"-4", "-6"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: -4 and -6 cannot be used together \(see --help\)\n$`},
		{Name: "-4 with an IPv6 literal", Args: []string{"-4", "-H", "::1"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: -4 given but host ::1 is an IPv6 address`},
		{Name: "two hosts", Args: []string{"-H", "a.example", "b.example"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: two hosts given`},
		{Name: "line break in -f", Args: []string{"-f", "a@b\r\nRCPT TO:<x@y>"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: -f must not contain a line break \(see --help\)\n$`},
		{Name: "empty --rcpt", Args: []string{"--rcpt", ""}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: recipient "" is empty`},
	})
}

func TestCoreHelpVersion(t *testing.T) {
	for _, arg := range []string{"-h", "--help"} {
		// Plain text, OK; hidden aliases not listed.
		expect(t, smtptest.Case{Args: []string{arg}, NotPlugin: true, Absent: []string{"--hostname", "--authpass "}, Status: checkers.OK,
			Output: `^check-smtp probes (?s:.*)\nUsage: check-smtp \[OPTIONS\] \[HOST\]\n(?s:.*)--authpassword-file=FILE`})
	}
	for _, arg := range []string{"-V", "--version"} {
		expect(t, smtptest.Case{Args: []string{arg, "-H", "192.0.2.1"}, NotPlugin: true, Status: checkers.OK, Output: `^check-smtp \S+\n$`})
	}
}

func TestCoreConnectFailures(t *testing.T) {
	t.Run("connection refused is CRITICAL", func(t *testing.T) {
		t.Parallel()
		p := smtptest.ClosedPort(t)
		expect(t, smtptest.Case{Args: []string{"-H", "127.0.0.1", "-p", p, "-t", "5"}, Status: checkers.CRITICAL,
			Output: `^SMTP CRITICAL: connection refused by 127\.0\.0\.1:` + p + ` -- \d+\.\d{3}s response time \| time=` + pd + `;;;0 connect=` + pd + `;;;0\n$`})
	})
	t.Run("unresolvable name is CRITICAL", func(t *testing.T) {
		t.Parallel()
		// .invalid never resolves (RFC 2606). Without a reachable DNS server
		// the lookup fails or hits the deadline: CRITICAL either way.
		expect(t, smtptest.Case{Args: []string{"-H", "no-such-host.invalid", "-p", "25", "-t", "2"}, Status: checkers.CRITICAL,
			Output: `^SMTP CRITICAL: (cannot resolve no-such-host\.invalid|timeout after 2s at step connect)`})
	})
}

// TestCoreHostForms: the host as a positional argument, the --hostname
// alias, -4 and -6 with their loopback.
func TestCoreHostForms(t *testing.T) {
	runHost := func(t *testing.T, ip string, args func(port string) []string) {
		m := smtptest.Serve(t, smtptest.ListenLoopback(t, ip), smtptest.Script(smtptest.Greeting(), smtptest.Tail()))
		out := expect(t, smtptest.Case{Args: args(m.Port()), Status: checkers.OK, Output: `^SMTP OK: `})
		m.AssertDone(t, out)
	}
	t.Run("positional host", func(t *testing.T) {
		t.Parallel()
		runHost(t, "127.0.0.1", func(p string) []string { return []string{"-p", p, "127.0.0.1"} })
	})
	t.Run("--hostname alias", func(t *testing.T) {
		t.Parallel()
		runHost(t, "127.0.0.1", func(p string) []string { return []string{"--hostname", "127.0.0.1", "--port", p} })
	})
	t.Run("-4 with localhost", func(t *testing.T) {
		t.Parallel()
		runHost(t, "127.0.0.1", func(p string) []string { return []string{"-4", "-H", "localhost", "-p", p} })
	})
	t.Run("-6 with ::1", func(t *testing.T) {
		t.Parallel()
		runHost(t, "::1", func(p string) []string { return []string{"-6", "-H", "::1", "-p", p} })
	})
	t.Run("bracketed IPv6 literal", func(t *testing.T) {
		t.Parallel()
		runHost(t, "::1", func(p string) []string { return []string{"-H", "[::1]", "-p", p} })
	})
}

// TestCoreAuthSecretsNeverShown: with -v and a server that echoes the
// payload back in its refusal, no form of the password reaches the output.
func TestCoreAuthSecretsNeverShown(t *testing.T) {
	secrets := []string{"s3cret", b64S3cret, plainAliceS3cret}
	cases := []smtptest.Case{
		{
			Name:     "PLAIN refused",
			Script:   smtptest.Script(scriptAuthGreeting, "C: AUTH PLAIN "+lit(plainAliceS3cret), "S: 535 5.7.8 bad "+plainAliceS3cret+" (s3cret)", smtptest.Quit()),
			Args:     []string{"-A", "PLAIN", "-U", "alice", "-P", "s3cret", "-v"},
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: AUTH PLAIN refused at step auth: 535 5\.7\.8 bad <redacted> \(<redacted>\) -- [^\n]*\n(.*\n)*C: AUTH PLAIN <redacted>\nS: 535 5\.7\.8 bad <redacted> \(<redacted>\)\n$`,
			ScriptOK: true,
		},
		{
			Name: "LOGIN refused",
			Script: smtptest.Script(scriptAuthGreeting, "C: AUTH LOGIN", "S: 334 VXNlcm5hbWU6", "C: "+lit(b64Alice),
				"S: 334 UGFzc3dvcmQ6", "C: "+lit(b64S3cret), "S: 535 5.7.8 "+b64S3cret+" is wrong", smtptest.Quit()),
			Args:     []string{"-A", "LOGIN", "-U", "alice", "-P", "s3cret", "-v"},
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: AUTH LOGIN refused at step auth: 535 5\.7\.8 <redacted> is wrong --`,
			ScriptOK: true,
		},
		{
			Name:     "CRAM-MD5 refused",
			Script:   smtptest.Script(scriptAuthGreeting, "C: AUTH CRAM-MD5", "S: 334 "+cramChallenge, "C: .+", "S: 535 5.7.8 nope", smtptest.Quit()),
			Args:     []string{"-A", "CRAM-MD5", "-U", "alice", "-P", "s3cret", "-v"},
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: AUTH CRAM-MD5 refused at step auth: 535 5\.7\.8 nope -- [^\n]*\n(.*\n)*C: AUTH CRAM-MD5\nS: 334 \S+\nC: <redacted>\nS: 535`,
			ScriptOK: true,
		},
	}
	for i := range cases {
		cases[i].Absent = secrets
	}
	expectCases(t, cases)
}
