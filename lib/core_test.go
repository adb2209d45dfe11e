package checksmtp

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mackerelio/checkers"
)

// Tests of the core check (issue #2): the plain-TCP conversation, options,
// thresholds, deadline and output, each driven over a loopback socket
// against the scripted mock server.

// pd matches one perfdata value in seconds with µs precision.
const pd = `\d+\.\d{6}s`

// lit quotes a literal (base64 holds '+' and '/') for a "C:" regexp.
func lit(s string) string { return regexp.QuoteMeta(s) }

// Greeting fragments that advertise AUTH.
var (
	scriptAuthGreeting = []string{"S: 220 mx.example.test ESMTP ready", "C: EHLO .+",
		"S: 250-mx.example.test", "S: 250-AUTH PLAIN LOGIN CRAM-MD5", "S: 250 8BITMIME"}
	scriptRsetQuit = []string{"C: RSET", "S: 250 2.0.0 Ok", "C: QUIT", "S: 221 2.0.0 Bye"}
	scriptMailOK   = []string{"C: MAIL FROM:<.*>", "S: 250 2.1.0 Ok"}
	// After a refusal the check still says goodbye, untimed.
	scriptPoliteQuit = []string{"C: QUIT", "S: 221 2.0.0 Bye"}
)

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

// argCase is a run that must end before any connection: option errors,
// --help, --version. No server is started; the args are used as they are.
type argCase struct {
	name    string
	args    []string
	status  checkers.Status
	message string // regexp over format(ckr)
}

func runArgCases(t *testing.T, cases []argCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ckr := run(tc.args)
			out := format(ckr)
			if ckr.Status != tc.status {
				t.Errorf("status %v, want %v\noutput: %s", ckr.Status, tc.status, out)
			}
			if !regexp.MustCompile(tc.message).MatchString(out) {
				t.Errorf("output does not match %q:\n%s", tc.message, out)
			}
			if !strings.HasSuffix(out, "\n") {
				t.Errorf("output does not end in a newline: %q", out)
			}
		})
	}
}

func TestCoreGreeting(t *testing.T) {
	runMockCases(t, []mockCase{
		{
			name:     "banner 554 is CRITICAL and quotes the banner",
			script:   script("S: 554 5.7.1 mx.example.test no service for you", scriptPoliteQuit),
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: server refused the connection at step banner: 554 5\.7\.1 mx\.example\.test no service for you -- 0\.\d{3}s response time \| time=` + pd + `;;;0 connect=` + pd + `;;;0 banner=` + pd + `;;;0\n$`,
			scriptOK: true,
		},
		{
			name:    "banner 421 is CRITICAL",
			script:  script("S: 421 4.3.2 mx.example.test too busy", "CLOSE"),
			status:  checkers.CRITICAL,
			message: `^SMTP CRITICAL: server refused the connection at step banner: 421 4\.3\.2 mx\.example\.test too busy --`,
		},
		{
			name:    "multi-line banner is read whole",
			script:  script("S: 220-mx.example.test ESMTP", "S: 220-no UCE", "S: 220 welcome", "C: EHLO .+", "S: 250 mx", scriptTail),
			status:  checkers.OK,
			message: `^SMTP OK: 0\.\d{3}s response time, mx\.example\.test ESMTP no UCE welcome \|`,
		},
		{
			name:     "EHLO 5xx falls back to HELO",
			script:   script("S: 220 old.example.test SMTP", "C: EHLO .+", "S: 502 5.5.2 command not recognized", "C: HELO .+", "S: 250 old.example.test", scriptTail),
			status:   checkers.OK,
			message:  `^SMTP OK: .* \| time=` + pd + `;;;0 connect=` + pd + `;;;0 banner=` + pd + `;;;0 ehlo=` + pd + `;;;0 mail=`,
			scriptOK: true,
		},
		{
			name:     "EHLO and HELO both refused is CRITICAL quoting both",
			script:   script("S: 220 mx.example.test", "C: EHLO .+", "S: 500 5.5.1 what", "C: HELO .+", "S: 501 5.5.4 go away", scriptPoliteQuit),
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: EHLO and HELO both refused at step ehlo .*EHLO: 500 5\.5\.1 what, then HELO: 501 5\.5\.4 go away --`,
			scriptOK: true,
		},
		{
			name:     "EHLO 4xx is CRITICAL without a HELO fallback",
			script:   script("S: 220 mx.example.test", "C: EHLO .+", "S: 421 4.7.0 try later", scriptPoliteQuit),
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: EHLO rejected at step ehlo: 421 4\.7\.0 try later --`,
			scriptOK: true,
		},
		{
			name:     "-F is the name sent in EHLO",
			script:   script("S: 220 mx", "C: EHLO probe\\.example\\.test", "S: 250 mx", scriptTail),
			args:     []string{"-F", "probe.example.test"},
			status:   checkers.OK,
			message:  `^SMTP OK: `,
			scriptOK: true,
		},
		{
			name:     "--fqdn is the name sent in HELO after the fallback",
			script:   script("S: 220 mx", "C: EHLO probe\\.example\\.test", "S: 502 no", "C: HELO probe\\.example\\.test", "S: 250 mx", scriptTail),
			args:     []string{"--fqdn", "probe.example.test"},
			status:   checkers.OK,
			message:  `^SMTP OK: `,
			scriptOK: true,
		},
		{
			name:    "malformed reply is CRITICAL",
			script:  script("S: hello there", "CLOSE"),
			status:  checkers.CRITICAL,
			message: `^SMTP CRITICAL: malformed reply \(not an SMTP reply code\): hello there at step banner`,
		},
		{
			name:    "reply line over 2000 bytes is CRITICAL",
			script:  script("S: 220 "+strings.Repeat("x", 2100), "CLOSE"),
			status:  checkers.CRITICAL,
			message: `^SMTP CRITICAL: reply line longer than 2000 bytes at step banner`,
		},
		{
			name:    "reply over 100 lines is CRITICAL",
			script:  script(strings.Split(strings.Repeat("S: 220-more\n", 120), "\n")[:120], "S: 220 end", "CLOSE"),
			status:  checkers.CRITICAL,
			message: `^SMTP CRITICAL: reply longer than 100 lines at step banner`,
		},
	})
}

func TestCoreAuth(t *testing.T) {
	user := []string{"-U", "alice", "-P", "s3cret"}
	runMockCases(t, []mockCase{
		{
			name:     "AUTH PLAIN sends the initial response",
			script:   script(scriptAuthGreeting, "C: AUTH PLAIN "+lit(plainAliceS3cret), "S: 235 2.7.0 Authentication successful", scriptMailOK, scriptRsetQuit),
			args:     append([]string{"-A", "PLAIN"}, user...),
			status:   checkers.OK,
			message:  `^SMTP OK: .* \| time=` + pd + `;;;0 connect=` + pd + `;;;0 banner=` + pd + `;;;0 ehlo=` + pd + `;;;0 auth=` + pd + `;;;0 mail=`,
			scriptOK: true,
		},
		{
			name: "AUTH LOGIN answers user then password, whatever the prompts",
			script: script(scriptAuthGreeting, "C: AUTH LOGIN", "S: 334 VXNlcm5hbWU6", "C: "+lit(b64Alice),
				"S: 334 UGFzc3dvcmQ6", "C: "+lit(b64S3cret), "S: 235 2.7.0 ok", scriptMailOK, scriptRsetQuit),
			args:     append([]string{"--authmech", "login"}, user...),
			status:   checkers.OK,
			message:  ` auth=` + pd,
			scriptOK: true,
		},
		{
			name: "AUTH CRAM-MD5 answers the RFC 2195 challenge with the known HMAC",
			script: script(scriptAuthGreeting, "C: AUTH CRAM-MD5", "S: 334 "+cramChallenge, "C: "+lit(cramResponse),
				"S: 235 2.7.0 ok", scriptMailOK, scriptRsetQuit),
			args:     []string{"--authtype", "CRAM-MD5", "--authuser", "tim", "--authpassword", "tanstaaftanstaaf"},
			status:   checkers.OK,
			message:  ` auth=` + pd,
			scriptOK: true,
		},
		{
			name:     "AUTH mechanism not offered names the one asked for and those offered",
			script:   script("S: 220 mx", "C: EHLO .+", "S: 250-mx", "S: 250 AUTH PLAIN LOGIN", scriptPoliteQuit),
			args:     append([]string{"-A", "CRAM-MD5"}, user...),
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: AUTH CRAM-MD5 not offered: the server offers PLAIN LOGIN\b[^|]* --`,
			scriptOK: true,
		},
		{
			name:     "no AUTH offered at all",
			script:   script(scriptGreeting, scriptPoliteQuit),
			args:     append([]string{"-A", "PLAIN"}, user...),
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: AUTH PLAIN not offered: the server offers no AUTH mechanism \(many servers offer AUTH only over TLS: try -S or -s\) --`,
			scriptOK: true,
		},
		{
			name:     "AUTH= (pre-RFC 4954) advertisement is understood",
			script:   script("S: 220 mx", "C: EHLO .+", "S: 250-mx", "S: 250 AUTH=LOGIN", "C: AUTH LOGIN", "S: 334 VXNlcm5hbWU6", "C: .+", "S: 334 UGFzc3dvcmQ6", "C: .+", "S: 235 ok", scriptMailOK, scriptRsetQuit),
			args:     append([]string{"-A", "LOGIN"}, user...),
			status:   checkers.OK,
			message:  `^SMTP OK: `,
			scriptOK: true,
		},
		{
			name:     "AUTH refused with 535 is CRITICAL and never shows the password",
			script:   script(scriptAuthGreeting, "C: AUTH PLAIN "+lit(plainAliceS3cret), "S: 535 5.7.8 Authentication credentials invalid", scriptPoliteQuit),
			args:     append([]string{"-A", "PLAIN", "-v"}, user...),
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: AUTH PLAIN refused at step auth: 535 5\.7\.8 Authentication credentials invalid --`,
			scriptOK: true,
		},
		{
			name:     "-v transcript follows the status line; AUTH payloads are redacted",
			script:   script(scriptAuthGreeting, "C: AUTH PLAIN "+lit(plainAliceS3cret), "S: 235 2.7.0 ok", scriptMailOK, scriptRsetQuit),
			args:     append([]string{"-A", "PLAIN", "-v"}, user...),
			status:   checkers.OK,
			message:  `^SMTP OK: [^\n]* \| time=[^\n]*\nS: 220 mx\.example\.test ESMTP ready\nC: EHLO \S+\nS: 250-mx\.example\.test\nS: 250-AUTH PLAIN LOGIN CRAM-MD5\nS: 250 8BITMIME\nC: AUTH PLAIN <redacted>\nS: 235 2\.7\.0 ok\nC: MAIL FROM:<>\nS: 250 2\.1\.0 Ok\nC: RSET\nS: 250 2\.0\.0 Ok\nC: QUIT\nS: 221 2\.0\.0 Bye\n$`,
			scriptOK: true,
		},
		{
			name: "-v with LOGIN redacts each answer",
			script: script(scriptAuthGreeting, "C: AUTH LOGIN", "S: 334 VXNlcm5hbWU6", "C: "+lit(b64Alice),
				"S: 334 UGFzc3dvcmQ6", "C: "+lit(b64S3cret), "S: 235 2.7.0 ok", scriptMailOK, scriptRsetQuit),
			args:     append([]string{"-A", "LOGIN", "-v"}, user...),
			status:   checkers.OK,
			message:  `\nC: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: <redacted>\nS: 334 UGFzc3dvcmQ6\nC: <redacted>\nS: 235 `,
			scriptOK: true,
		},
		{
			name:     "AUTH to a host name resolving to loopback is allowed in cleartext",
			script:   script(scriptAuthGreeting, "C: AUTH PLAIN "+lit(plainAliceS3cret), "S: 235 ok", scriptMailOK, scriptRsetQuit),
			args:     append([]string{"-A", "PLAIN", "-4", "-H", "localhost"}, user...),
			status:   checkers.OK,
			message:  `^SMTP OK: `,
			scriptOK: true,
		},
		{
			name:     "--authpass alias and --allow-plaintext-auth are accepted",
			script:   script(scriptAuthGreeting, "C: AUTH PLAIN "+lit(plainAliceS3cret), "S: 235 ok", scriptMailOK, scriptRsetQuit),
			args:     []string{"-A", "PLAIN", "-U", "alice", "--authpass", "s3cret", "--allow-plaintext-auth"},
			status:   checkers.OK,
			message:  `^SMTP OK: `,
			scriptOK: true,
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
		return script(scriptAuthGreeting, "C: AUTH PLAIN "+lit(payload), "S: 235 ok", scriptMailOK, scriptRsetQuit)
	}
	cases := []struct {
		env string
		mockCase
	}{
		{"envpw", mockCase{name: "password from CHECK_SMTP_AUTHPASSWORD",
			script: authOK(plainEnvpw), args: []string{"-A", "PLAIN", "-U", "alice"},
			status: checkers.OK, message: `^SMTP OK: `, scriptOK: true}},
		{"", mockCase{name: "password from the first line of --authpassword-file",
			script: authOK(plainFilepw), args: []string{"-A", "PLAIN", "-U", "alice", "--authpassword-file", pwFile},
			status: checkers.OK, message: `^SMTP OK: `, scriptOK: true}},
		{"", mockCase{name: "a CRLF password file loses its CR",
			script: authOK(plainFilepw), args: []string{"-A", "PLAIN", "-U", "alice", "--authpassword-file", crlfFile},
			status: checkers.OK, message: `^SMTP OK: `, scriptOK: true}},
		{"envpw", mockCase{name: "-P beats the file and the environment",
			script: authOK(plainAliceS3cret), args: []string{"-A", "PLAIN", "-U", "alice", "-P", "s3cret", "--authpassword-file", pwFile},
			status: checkers.OK, message: `^SMTP OK: `, scriptOK: true}},
		{"envpw", mockCase{name: "the file beats the environment",
			script: authOK(plainFilepw), args: []string{"-A", "PLAIN", "-U", "alice", "--authpassword-file", pwFile},
			status: checkers.OK, message: `^SMTP OK: `, scriptOK: true}},
		{"envpw", mockCase{name: "the env password never shows with -v",
			script: script(scriptAuthGreeting, "C: AUTH PLAIN "+lit(plainEnvpw), "S: 535 5.7.8 no envpw for you", scriptPoliteQuit),
			args:   []string{"-A", "PLAIN", "-U", "alice", "-v"}, status: checkers.CRITICAL,
			message: `^SMTP CRITICAL: AUTH PLAIN refused at step auth: 535 5\.7\.8 no <redacted> for you -- [^\n]*\n(?s:.*)C: AUTH PLAIN <redacted>\nS: 535 5\.7\.8 no <redacted> for you\n`, scriptOK: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CHECK_SMTP_AUTHPASSWORD", tc.env)
			checkMockCase(t, tc.mockCase, "s3cret", "filepw", "envpw", plainAliceS3cret, plainFilepw, plainEnvpw)
		})
	}

	// Without a server: these end before connecting.
	t.Run("no password anywhere is UNKNOWN", func(t *testing.T) {
		t.Setenv("CHECK_SMTP_AUTHPASSWORD", "")
		ckr := run([]string{"-H", "127.0.0.1", "-p", closedPort(t), "-A", "PLAIN", "-U", "alice"})
		if ckr.Status != checkers.UNKNOWN || !strings.Contains(ckr.Message, "-A PLAIN needs a password: -P, env CHECK_SMTP_AUTHPASSWORD or --authpassword-file") {
			t.Errorf("got %v: %s", ckr.Status, ckr.Message)
		}
	})
	t.Run("missing password file is UNKNOWN even with the env set", func(t *testing.T) {
		t.Setenv("CHECK_SMTP_AUTHPASSWORD", "envpw")
		ckr := run([]string{"-H", "127.0.0.1", "-p", closedPort(t), "-A", "PLAIN", "-U", "alice", "--authpassword-file", filepath.Join(dir, "nope")})
		if ckr.Status != checkers.UNKNOWN || !strings.Contains(ckr.Message, "cannot read --authpassword-file") {
			t.Errorf("got %v: %s", ckr.Status, ckr.Message)
		}
	})
}

func TestCoreAuthOptionErrors(t *testing.T) {
	runArgCases(t, []argCase{
		{"-A without -U", []string{"-H", "127.0.0.1", "-A", "PLAIN", "-P", "x"}, checkers.UNKNOWN, `^SMTP UNKNOWN: -A PLAIN needs -U \(user\) \(see --help\)\n$`},
		{"-A with an unknown mechanism", []string{"-H", "127.0.0.1", "-A", "XOAUTH2", "-U", "a", "-P", "x"}, checkers.UNKNOWN, `^SMTP UNKNOWN: -A XOAUTH2: unsupported mechanism`},
		{"empty password file", []string{"-H", "127.0.0.1", "-A", "PLAIN", "-U", "a", "--authpassword-file", os.DevNull}, checkers.UNKNOWN, `^SMTP UNKNOWN: --authpassword-file /dev/null: first line is empty`},
	})
}

// TestCoreCleartextAuthRefused: AUTH to a non-loopback IP literal over plain
// TCP must be refused while parsing the options, before any dial. 192.0.2.1
// is TEST-NET-1: never connected to; with -t 30 a dial attempt would hang
// far past the bound below or leave connect perfdata.
func TestCoreCleartextAuthRefused(t *testing.T) {
	t.Parallel()
	for _, mech := range []string{"PLAIN", "LOGIN", "CRAM-MD5"} {
		done := make(chan *checkers.Checker, 1)
		go func() {
			done <- run([]string{"-H", "192.0.2.1", "-t", "30", "-A", mech, "-U", "alice", "-P", "s3cret"})
		}()
		var ckr *checkers.Checker
		select {
		case ckr = <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("-A %s to 192.0.2.1: run did not return: it must refuse before dialing", mech)
		}
		out := format(ckr)
		want := "SMTP UNKNOWN: refusing to send AUTH in cleartext to 192.0.2.1: use -s or -S, or --allow-plaintext-auth\n"
		if ckr.Status != checkers.UNKNOWN || out != want {
			t.Errorf("-A %s: got %v %q, want %q (the pre-dial refusal, no perfdata)", mech, ckr.Status, out, want)
		}
		if strings.Contains(out, "s3cret") {
			t.Errorf("password in output: %q", out)
		}
	}
}

func TestCoreEnvelope(t *testing.T) {
	runMockCases(t, []mockCase{
		{
			name:     "-f is the MAIL FROM sender",
			script:   script(scriptGreeting, "C: MAIL FROM:<mon@example\\.test>", "S: 250 ok", scriptRsetQuit),
			args:     []string{"-f", "mon@example.test"},
			status:   checkers.OK,
			message:  `^SMTP OK: `,
			scriptOK: true,
		},
		{
			name:     "default sender is the null path",
			script:   script(scriptGreeting, "C: MAIL FROM:<>", "S: 250 ok", scriptRsetQuit),
			status:   checkers.OK,
			message:  `^SMTP OK: `,
			scriptOK: true,
		},
		{
			name:     "MAIL 451 is CRITICAL",
			script:   script(scriptGreeting, "C: MAIL FROM:<>", "S: 451 4.3.0 try again", scriptPoliteQuit),
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: MAIL FROM rejected at step mail: 451 4\.3\.0 try again -- .* mail=` + pd + `;;;0\n$`,
			scriptOK: true,
		},
		{
			name: "several --rcpt accepted",
			script: script(scriptGreeting, scriptMailOK, "C: RCPT TO:<a@example\\.test>", "S: 250 2.1.5 ok",
				"C: RCPT TO:<b@example\\.test>", "S: 251 2.1.5 will forward", scriptRsetQuit),
			args:     []string{"--rcpt", "a@example.test", "--rcpt", "b@example.test"},
			status:   checkers.OK,
			message:  ` mail=` + pd + `;;;0 rcpt=` + pd + `;;;0 rset=`,
			scriptOK: true,
		},
		{
			name: "the second --rcpt refused is CRITICAL naming it",
			script: script(scriptGreeting, scriptMailOK, "C: RCPT TO:<a@example\\.test>", "S: 250 ok",
				"C: RCPT TO:<b@example\\.test>", "S: 550 5.1.1 no such user", scriptPoliteQuit),
			args:     []string{"--rcpt", "a@example.test", "--rcpt", "b@example.test"},
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: RCPT TO:<b@example\.test> rejected at step rcpt: 550 5\.1\.1 no such user --`,
			scriptOK: true,
		},
		{
			name:     "--rcpt refused with 4xx is CRITICAL too",
			script:   script(scriptGreeting, scriptMailOK, "C: RCPT TO:<a@example\\.test>", "S: 450 4.2.0 greylisted", scriptPoliteQuit),
			args:     []string{"--rcpt", "a@example.test"},
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: RCPT TO:<a@example\.test> rejected at step rcpt: 450 4\.2\.0 greylisted --`,
			scriptOK: true,
		},
		{
			name: "--reject-rcpt refused with 5xx is OK (no open relay)",
			script: script(scriptGreeting, scriptMailOK, "C: RCPT TO:<a@example\\.test>", "S: 250 ok",
				"C: RCPT TO:<x@elsewhere\\.test>", "S: 554 5.7.1 relay access denied", scriptRsetQuit),
			args:     []string{"--rcpt", "a@example.test", "--reject-rcpt", "x@elsewhere.test"},
			status:   checkers.OK,
			message:  `^SMTP OK: .* rcpt=` + pd,
			scriptOK: true,
		},
		{
			name:     "--reject-rcpt accepted is CRITICAL",
			script:   script(scriptGreeting, scriptMailOK, "C: RCPT TO:<x@elsewhere\\.test>", "S: 250 2.1.5 ok", scriptPoliteQuit),
			args:     []string{"--reject-rcpt", "x@elsewhere.test"},
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: RCPT TO:<x@elsewhere\.test> accepted, expected a rejection: 250 2\.1\.5 ok --`,
			scriptOK: true,
		},
		{
			name:     "--reject-rcpt answered 4xx is WARNING and the conversation goes on",
			script:   script(scriptGreeting, scriptMailOK, "C: RCPT TO:<x@elsewhere\\.test>", "S: 450 4.7.1 greylisted", scriptRsetQuit),
			args:     []string{"--reject-rcpt", "x@elsewhere.test"},
			status:   checkers.WARNING,
			message:  `^SMTP WARNING: RCPT TO:<x@elsewhere\.test> got a temporary failure, expected a permanent rejection: 450 4\.7\.1 greylisted -- 0\.\d{3}s response time`,
			scriptOK: true,
		},
		{
			name:     "RSET refused is CRITICAL",
			script:   script(scriptGreeting, scriptMailOK, "C: RSET", "S: 502 5.5.1 not implemented", scriptPoliteQuit),
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: RSET rejected at step rset: 502 5\.5\.1 not implemented --`,
			scriptOK: true,
		},
		{
			name:     "QUIT refused is WARNING",
			script:   script(scriptGreeting, scriptMailOK, "C: RSET", "S: 250 ok", "C: QUIT", "S: 500 5.5.1 no"),
			status:   checkers.WARNING,
			message:  `^SMTP WARNING: QUIT refused: 500 5\.5\.1 no -- 0\.\d{3}s response time, .* quit=` + pd + `;;;0\n$`,
			scriptOK: true,
		},
		{
			name:     "QUIT answered by closing is WARNING",
			script:   script(scriptGreeting, scriptMailOK, "C: RSET", "S: 250 ok", "C: QUIT", "CLOSE"),
			status:   checkers.WARNING,
			message:  `^SMTP WARNING: QUIT failed: connection closed by server at step quit`,
			scriptOK: true,
		},
		{
			name:     "-q: QUIT refused is OK",
			script:   script(scriptGreeting, scriptMailOK, "C: RSET", "S: 250 ok", "C: QUIT", "S: 500 no"),
			args:     []string{"-q"},
			status:   checkers.OK,
			message:  `^SMTP OK: `,
			scriptOK: true,
		},
		{
			name:     "--ignore-quit-failure: QUIT closed is OK",
			script:   script(scriptGreeting, scriptMailOK, "C: RSET", "S: 250 ok", "C: QUIT", "CLOSE"),
			args:     []string{"--ignore-quit-failure"},
			status:   checkers.OK,
			message:  `^SMTP OK: `,
			scriptOK: true,
		},
		{
			name:     "--status-as warning=critical remaps a failed QUIT",
			script:   script(scriptGreeting, scriptMailOK, "C: RSET", "S: 250 ok", "C: QUIT", "S: 500 no"),
			args:     []string{"--status-as", "warning=critical"},
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: QUIT refused: 500 no --`,
			scriptOK: true,
		},
		{
			name:     "--no-perfdata leaves the perfdata off",
			script:   script(scriptGreeting, scriptTail),
			args:     []string{"--no-perfdata"},
			status:   checkers.OK,
			message:  `^SMTP OK: 0\.\d{3}s response time, mx\.example\.test ESMTP ready\n$`,
			scriptOK: true,
		},
		{
			name:     "--no-perfdata with -v: transcript, still no perfdata",
			script:   script(scriptGreeting, scriptTail),
			args:     []string{"--no-perfdata", "-v"},
			status:   checkers.OK,
			message:  `^SMTP OK: [^|\n]*\nS: 220 [^|]*C: QUIT\nS: 221 2\.0\.0 Bye\n$`,
			scriptOK: true,
		},
		{
			name: "perfdata order and thresholds; every step that ran",
			script: script(scriptAuthGreeting, "C: AUTH PLAIN .+", "S: 235 ok", scriptMailOK,
				"C: RCPT TO:<a@example\\.test>", "S: 250 ok", scriptRsetQuit),
			args: []string{"-A", "PLAIN", "-U", "alice", "-P", "s3cret", "--rcpt", "a@example.test",
				"-w", "80", "-c", "90.5", "--step-warning", "mail=40", "--step-critical", "mail=50",
				"--step-warning", "connect=10.5", "--step-critical", "quit=20"},
			status: checkers.OK,
			message: `^SMTP OK: [^|]* \| time=` + pd + `;80;90\.5;0 connect=` + pd + `;10\.5;;0 banner=` + pd + `;;;0 ehlo=` + pd +
				`;;;0 auth=` + pd + `;;;0 mail=` + pd + `;40;50;0 rcpt=` + pd + `;;;0 rset=` + pd + `;;;0 quit=` + pd + `;;20;0\n$`,
			scriptOK: true,
		},
		{
			name:     "'|' in server text becomes '¦', control characters go",
			script:   script("S: 220 mx | pipes\x07 here", "C: EHLO .+", "S: 250 mx", scriptTail),
			status:   checkers.OK,
			message:  `^SMTP OK: 0\.\d{3}s response time, mx ¦ pipes here \| time=[^|]*\n$`,
			scriptOK: true,
		},
		{
			name:     "server text is quoted up to 300 characters",
			script:   script(scriptGreeting, "C: MAIL FROM:<>", "S: 550 "+strings.Repeat("y", 400), scriptPoliteQuit),
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: MAIL FROM rejected at step mail: 550 y{296}\.\.\. -- `,
			scriptOK: true,
		},
	})
}

func TestCoreThresholds(t *testing.T) {
	// The MAIL reply is held back 300ms; thresholds of 0.1s are well below.
	slowMail := script(scriptGreeting, "C: MAIL FROM:<>", "SLEEP 300ms", "S: 250 ok", scriptRsetQuit)
	runMockCases(t, []mockCase{
		{
			name:     "-w exceeded is WARNING",
			script:   slowMail,
			args:     []string{"-w", "0.1"},
			status:   checkers.WARNING,
			message:  `^SMTP WARNING: response time \d+\.\d{3}s over warning threshold 0\.1s -- .* \| time=` + pd + `;0\.1;;0 `,
			scriptOK: true,
		},
		{
			name:     "-c exceeded is CRITICAL",
			script:   slowMail,
			args:     []string{"-w", "0.05", "-c", "0.1"},
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: response time \d+\.\d{3}s over critical threshold 0\.1s -- .* \| time=` + pd + `;0\.05;0\.1;0 `,
			scriptOK: true,
		},
		{
			name:     "generous -w/-c are OK",
			script:   slowMail,
			args:     []string{"--warning", "20", "--critical", "30"},
			status:   checkers.OK,
			message:  `^SMTP OK: `,
			scriptOK: true,
		},
		{
			name:     "--step-warning on the slow step is WARNING naming it",
			script:   slowMail,
			args:     []string{"--step-warning", "mail=0.1", "--step-warning", "banner=20"},
			status:   checkers.WARNING,
			message:  `^SMTP WARNING: step mail took \d+\.\d{3}s, over warning threshold 0\.1s -- .* banner=` + pd + `;20;;0 .* mail=` + pd + `;0\.1;;0 `,
			scriptOK: true,
		},
		{
			name:     "--step-critical on the slow step is CRITICAL",
			script:   slowMail,
			args:     []string{"--step-critical", "MAIL=0.1"},
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: step mail took \d+\.\d{3}s, over critical threshold 0\.1s --`,
			scriptOK: true,
		},
		{
			name:     "a step threshold on a fast step stays OK",
			script:   slowMail,
			args:     []string{"--step-critical", "rset=20"},
			status:   checkers.OK,
			message:  `^SMTP OK: `,
			scriptOK: true,
		},
		{
			name:     "time thresholds are not judged when the conversation failed",
			script:   script(scriptGreeting, "C: MAIL FROM:<>", "SLEEP 300ms", "S: 550 no", scriptPoliteQuit),
			args:     []string{"-c", "0.1", "--step-critical", "mail=0.1"},
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: MAIL FROM rejected at step mail: 550 no -- \d+\.\d{3}s response time, [^|]* \|`,
			scriptOK: true,
		},
		{
			name:    "-t expiry names the step it interrupted",
			script:  script("S: 220 mx.example.test", "HANG"),
			args:    []string{"-t", "0.5"},
			status:  checkers.CRITICAL,
			message: `^SMTP CRITICAL: timeout after 0\.5s at step ehlo \(reply to EHLO\) -- `,
		},
		{
			name:    "-t expiry while waiting for the banner",
			script:  script("HANG"),
			args:    []string{"--timeout", "0.5"},
			status:  checkers.CRITICAL,
			message: `^SMTP CRITICAL: timeout after 0\.5s at step banner \(waiting for the banner\): nothing received, an implicit-TLS port\? try -s -- .*\| time=` + pd + `;;;0 connect=` + pd + `;;;0 banner=` + pd + `;;;0\n$`,
		},
		{
			name:    "-t 0.5:UNKNOWN picks the state on timeout",
			script:  script("S: 220 mx.example.test", "HANG"),
			args:    []string{"-t", "0.5:UNKNOWN"},
			status:  checkers.UNKNOWN,
			message: `^SMTP UNKNOWN: timeout after 0\.5s at step ehlo`,
		},
		{
			name:    "-t 0.5:3 picks UNKNOWN by number",
			script:  script("S: 220 mx.example.test", "HANG"),
			args:    []string{"-t", "0.5:3"},
			status:  checkers.UNKNOWN,
			message: `^SMTP UNKNOWN: timeout after 0\.5s at step ehlo`,
		},
		{
			name:    "-t 0.5:warning in lower case",
			script:  script(scriptGreeting, "C: MAIL FROM:<>", "HANG"),
			args:    []string{"-t", "0.5:warning"},
			status:  checkers.WARNING,
			message: `^SMTP WARNING: timeout after 0\.5s at step mail \(reply to MAIL\)`,
		},
		{
			name:    "a server trickling one byte at a time still ends at the deadline",
			script:  script("RAW: 2", "SLEEP 200ms", "RAW: 2", "SLEEP 200ms", "RAW: 0", "SLEEP 200ms", "RAW:  ", "SLEEP 200ms", "RAW: m", "HANG"),
			args:    []string{"-t", "0.5"},
			status:  checkers.CRITICAL,
			message: `^SMTP CRITICAL: timeout after 0\.5s at step banner`,
		},
	})
}

func TestCoreOptionErrors(t *testing.T) {
	runArgCases(t, []argCase{
		{"unknown long option names it", []string{"--bogus"}, checkers.UNKNOWN, `^SMTP UNKNOWN: unknown option --bogus \(see --help\)\n$`},
		{"unknown short option names it", []string{"-Z"}, checkers.UNKNOWN, `^SMTP UNKNOWN: unknown option -Z \(see --help\)\n$`},
		{"option missing its value", []string{"-H"}, checkers.UNKNOWN, `^SMTP UNKNOWN: -H \(--host\) needs a value: -H HOST \(see --help\)\n$`},
		{"bad port", []string{"-p", "70000"}, checkers.UNKNOWN, `^SMTP UNKNOWN: -p "70000": want a decimal port number 1-65535, e.g\. -p 587 \(see --help\)\n$`},
		{"non-numeric port", []string{"-p", "smtp"}, checkers.UNKNOWN, `^SMTP UNKNOWN: .*-p.*smtp`},
		{"bad -t", []string{"-t", "soon"}, checkers.UNKNOWN, `^SMTP UNKNOWN: -t "soon": want seconds > 0`},
		{"-t 0", []string{"-t", "0"}, checkers.UNKNOWN, `^SMTP UNKNOWN: -t "0": want seconds > 0`},
		{"-t with an unknown state", []string{"-t", "1:MAYBE"}, checkers.UNKNOWN, `^SMTP UNKNOWN: -t "1:MAYBE": unknown state "MAYBE"`},
		{"bad -w", []string{"-w", "fast"}, checkers.UNKNOWN, `^SMTP UNKNOWN: -w "fast": want seconds`},
		{"negative -c", []string{"--critical=-1"}, checkers.UNKNOWN, `^SMTP UNKNOWN: -c "-1": want seconds`},
		{"--step-warning with an unknown step", []string{"--step-warning", "data=1"}, checkers.UNKNOWN, `^SMTP UNKNOWN: --step-warning "data=1": unknown step "data"`},
		{"--step-critical without seconds", []string{"--step-critical", "mail"}, checkers.UNKNOWN, `^SMTP UNKNOWN: --step-critical "mail": want STEP=SECONDS`},
		{"bad --status-as", []string{"--status-as", "warning=purple"}, checkers.UNKNOWN, `^SMTP UNKNOWN: --status-as "warning=purple"`},
		{"-4 with -6", []string{"-4", "-6"}, checkers.UNKNOWN, `^SMTP UNKNOWN: -4 and -6 cannot be used together \(see --help\)\n$`},
		{"-4 with an IPv6 literal", []string{"-4", "-H", "::1"}, checkers.UNKNOWN, `^SMTP UNKNOWN: -4 given but host ::1 is an IPv6 address`},
		{"two hosts", []string{"-H", "a.example", "b.example"}, checkers.UNKNOWN, `^SMTP UNKNOWN: two hosts given`},
		{"line break in -f", []string{"-f", "a@b\r\nRCPT TO:<x@y>"}, checkers.UNKNOWN, `^SMTP UNKNOWN: -f must not contain a line break \(see --help\)\n$`},
		{"empty --rcpt", []string{"--rcpt", ""}, checkers.UNKNOWN, `^SMTP UNKNOWN: recipient "" is empty`},
	})
}

func TestCoreHelpVersion(t *testing.T) {
	for _, arg := range []string{"-h", "--help"} {
		ckr := run([]string{arg})
		out := format(ckr)
		if ckr.Status != checkers.OK || ckr.Name != "" {
			t.Errorf("%s: status %v name %q, want OK and no name (plain text output)", arg, ckr.Status, ckr.Name)
		}
		if !strings.HasPrefix(out, "check-smtp probes ") || !strings.Contains(out, "\nUsage: check-smtp [OPTIONS] [HOST]\n") || !strings.Contains(out, "--authpassword-file=FILE") || !strings.HasSuffix(out, "\n") {
			t.Errorf("%s: not the usage text:\n%s", arg, out)
		}
		if strings.Contains(out, "--hostname") || strings.Contains(out, "--authpass ") {
			t.Errorf("%s: hidden aliases listed:\n%s", arg, out)
		}
	}
	for _, arg := range []string{"-V", "--version"} {
		ckr := run([]string{arg, "-H", "192.0.2.1"})
		if out := format(ckr); ckr.Status != checkers.OK || ckr.Name != "" || !regexp.MustCompile(`^check-smtp \S+\n$`).MatchString(out) {
			t.Errorf("%s: status %v name %q output %q", arg, ckr.Status, ckr.Name, out)
		}
	}
}

func TestCoreConnectFailures(t *testing.T) {
	t.Run("connection refused is CRITICAL", func(t *testing.T) {
		t.Parallel()
		p := closedPort(t)
		ckr := run([]string{"-H", "127.0.0.1", "-p", p, "-t", "5"})
		out := format(ckr)
		want := regexp.MustCompile(`^SMTP CRITICAL: connection refused by 127\.0\.0\.1:` + p + ` -- \d+\.\d{3}s response time \| time=` + pd + `;;;0 connect=` + pd + `;;;0\n$`)
		if ckr.Status != checkers.CRITICAL || !want.MatchString(out) {
			t.Errorf("got %v:\n%s", ckr.Status, out)
		}
	})
	t.Run("unresolvable name is CRITICAL", func(t *testing.T) {
		t.Parallel()
		// .invalid never resolves (RFC 2606). Without a reachable DNS server
		// the lookup fails or hits the deadline: CRITICAL either way.
		ckr := run([]string{"-H", "no-such-host.invalid", "-p", "25", "-t", "2"})
		out := format(ckr)
		if ckr.Status != checkers.CRITICAL || !regexp.MustCompile(`^SMTP CRITICAL: (cannot resolve no-such-host\.invalid|timeout after 2s at step connect)`).MatchString(out) {
			t.Errorf("got %v:\n%s", ckr.Status, out)
		}
	})
}

// TestCoreHostForms: the host as a positional argument, the --hostname
// alias, -4 and -6 with their loopback.
func TestCoreHostForms(t *testing.T) {
	runHost := func(t *testing.T, network, addr string, args func(port string) []string) {
		ln, err := net.Listen(network, addr)
		if err != nil {
			t.Skipf("no %s loopback here: %v", network, err)
		}
		m := serveMock(t, ln, script(scriptGreeting, scriptTail))
		ckr := run(args(m.port()))
		if ckr.Status != checkers.OK {
			t.Errorf("got %v: %s", ckr.Status, ckr.Message)
		}
		if probs := m.done(); len(probs) > 0 {
			t.Errorf("server script: %v", probs)
		}
	}
	t.Run("positional host", func(t *testing.T) {
		t.Parallel()
		runHost(t, "tcp4", "127.0.0.1:0", func(p string) []string { return []string{"-p", p, "127.0.0.1"} })
	})
	t.Run("--hostname alias", func(t *testing.T) {
		t.Parallel()
		runHost(t, "tcp4", "127.0.0.1:0", func(p string) []string { return []string{"--hostname", "127.0.0.1", "--port", p} })
	})
	t.Run("-4 with localhost", func(t *testing.T) {
		t.Parallel()
		runHost(t, "tcp4", "127.0.0.1:0", func(p string) []string { return []string{"-4", "-H", "localhost", "-p", p} })
	})
	t.Run("-6 with ::1", func(t *testing.T) {
		t.Parallel()
		runHost(t, "tcp6", "[::1]:0", func(p string) []string { return []string{"-6", "-H", "::1", "-p", p} })
	})
	t.Run("bracketed IPv6 literal", func(t *testing.T) {
		t.Parallel()
		runHost(t, "tcp6", "[::1]:0", func(p string) []string { return []string{"-H", "[::1]", "-p", p} })
	})
}

// TestCoreAuthSecretsNeverShown: with -v and a server that echoes the
// payload back in its refusal, no form of the password reaches the output.
func TestCoreAuthSecretsNeverShown(t *testing.T) {
	secrets := []string{"s3cret", b64S3cret, plainAliceS3cret}
	cases := []mockCase{
		{
			name:     "PLAIN refused",
			script:   script(scriptAuthGreeting, "C: AUTH PLAIN "+lit(plainAliceS3cret), "S: 535 5.7.8 bad "+plainAliceS3cret+" (s3cret)", scriptPoliteQuit),
			args:     []string{"-A", "PLAIN", "-U", "alice", "-P", "s3cret", "-v"},
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: AUTH PLAIN refused at step auth: 535 5\.7\.8 bad <redacted> \(<redacted>\) -- [^\n]*\n(.*\n)*C: AUTH PLAIN <redacted>\nS: 535 5\.7\.8 bad <redacted> \(<redacted>\)\n$`,
			scriptOK: true,
		},
		{
			name: "LOGIN refused",
			script: script(scriptAuthGreeting, "C: AUTH LOGIN", "S: 334 VXNlcm5hbWU6", "C: "+lit(b64Alice),
				"S: 334 UGFzc3dvcmQ6", "C: "+lit(b64S3cret), "S: 535 5.7.8 "+b64S3cret+" is wrong", scriptPoliteQuit),
			args:     []string{"-A", "LOGIN", "-U", "alice", "-P", "s3cret", "-v"},
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: AUTH LOGIN refused at step auth: 535 5\.7\.8 <redacted> is wrong --`,
			scriptOK: true,
		},
		{
			name:     "CRAM-MD5 refused",
			script:   script(scriptAuthGreeting, "C: AUTH CRAM-MD5", "S: 334 "+cramChallenge, "C: .+", "S: 535 5.7.8 nope", scriptPoliteQuit),
			args:     []string{"-A", "CRAM-MD5", "-U", "alice", "-P", "s3cret", "-v"},
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: AUTH CRAM-MD5 refused at step auth: 535 5\.7\.8 nope -- [^\n]*\n(.*\n)*C: AUTH CRAM-MD5\nS: 334 \S+\nC: <redacted>\nS: 535`,
			scriptOK: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			checkMockCase(t, tc, secrets...)
		})
	}
}
