package checksmtp

import (
	"strings"
	"testing"

	"github.com/check-smtp/check-smtp/lib/internal/smtptest"
	"github.com/mackerelio/checkers"
)

// The happy paths against an SMTP server we did not write: emersion/go-smtp,
// in-process on a loopback port, over plain TCP (smtptest.StartPlainGoSMTP:
// AUTH for alice / s3cret, RCPT for postmaster@ and alice@example.test). Its
// replies, multi-line EHLO and SASL exchange are its own, so the client is
// not only tested against our idea of SMTP. (TLS against go-smtp is in
// tls_test.go.)

func TestGoSMTPPlain(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		status  checkers.Status
		message string   // regexp over the whole output
		events  []string // what the backend must have seen, in order (nil: not checked)
	}{
		{
			name:    "plain conversation",
			status:  checkers.OK,
			message: `^SMTP OK: \d+\.\d{3}s response time, gosmtp\.example\.test ESMTP Service Ready \| time=` + pd + `;;;0 connect=` + pd + `;;;0 banner=` + pd + `;;;0 ehlo=` + pd + `;;;0 mail=` + pd + `;;;0 rset=` + pd + `;;;0 quit=` + pd + `;;;0\n$`,
			events:  []string{"mail ", "reset", "logout"},
		},
		{
			name:    "AUTH PLAIN",
			args:    []string{"-A", "PLAIN", "-U", "alice", "-P", "s3cret"},
			status:  checkers.OK,
			message: `^SMTP OK: .* ehlo=` + pd + `;;;0 auth=` + pd + `;;;0 mail=`,
			events:  []string{"auth alice", "mail ", "reset", "logout"},
		},
		{
			name:    "AUTH LOGIN",
			args:    []string{"-A", "LOGIN", "-U", "alice", "-P", "s3cret"},
			status:  checkers.OK,
			message: `^SMTP OK: .* auth=` + pd,
			events:  []string{"auth alice", "mail ", "reset", "logout"},
		},
		{
			name:    "AUTH PLAIN wrong password",
			args:    []string{"-A", "PLAIN", "-U", "alice", "-P", "wrong"},
			status:  checkers.CRITICAL,
			message: `^SMTP CRITICAL: AUTH PLAIN refused at step auth: 535 5\.7\.8 Authentication failed -- `,
			events:  []string{"logout"},
		},
		{
			name:    "AUTH LOGIN wrong user",
			args:    []string{"-A", "LOGIN", "-U", "mallory", "-P", "s3cret"},
			status:  checkers.CRITICAL,
			message: `^SMTP CRITICAL: AUTH LOGIN refused at step auth: 535 5\.7\.8 Authentication failed -- `,
		},
		{
			name:    "CRAM-MD5 not offered",
			args:    []string{"-A", "CRAM-MD5", "-U", "alice", "-P", "s3cret"},
			status:  checkers.CRITICAL,
			message: `^SMTP CRITICAL: AUTH CRAM-MD5 not offered: the server offers PLAIN LOGIN\b[^|]* -- `,
		},
		{
			name:    "sender and recipients accepted",
			args:    []string{"-f", "monitor@example.test", "--rcpt", "postmaster@example.test", "--rcpt", "alice@example.test"},
			status:  checkers.OK,
			message: `^SMTP OK: .* mail=` + pd + `;;;0 rcpt=` + pd + `;;;0 rset=`,
			events:  []string{"mail monitor@example.test", "rcpt postmaster@example.test", "rcpt alice@example.test", "reset", "logout"},
		},
		{
			name:    "recipient refused by the backend",
			args:    []string{"--rcpt", "postmaster@example.test", "--rcpt", "nobody@example.test"},
			status:  checkers.CRITICAL,
			message: `^SMTP CRITICAL: RCPT TO:<nobody@example\.test> rejected at step rcpt: 550 5\.1\.1 no such user here -- `,
			events:  []string{"mail ", "rcpt postmaster@example.test", "rcpt nobody@example.test", "logout"},
		},
		{
			name:    "relay refused: --reject-rcpt is OK",
			args:    []string{"--rcpt", "alice@example.test", "--reject-rcpt", "someone@elsewhere.test"},
			status:  checkers.OK,
			message: `^SMTP OK: `,
			events:  []string{"mail ", "rcpt alice@example.test", "rcpt someone@elsewhere.test", "reset", "logout"},
		},
		{
			name:    "--reject-rcpt accepted is CRITICAL",
			args:    []string{"--reject-rcpt", "alice@example.test"},
			status:  checkers.CRITICAL,
			message: `^SMTP CRITICAL: RCPT TO:<alice@example\.test> accepted, expected a rejection: 250 2\.0\.0 I'll make sure <alice@example\.test> gets this -- `,
		},
		{
			name:    "-v transcript of go-smtp's replies, AUTH redacted",
			args:    []string{"-v", "-F", "probe.example.test", "-A", "LOGIN", "-U", "alice", "-P", "s3cret"},
			status:  checkers.OK,
			message: `\nS: 220 gosmtp\.example\.test ESMTP Service Ready\nC: EHLO probe\.example\.test\nS: 250-Hello probe\.example\.test\n(S: 250-.*\n)*S: 250-AUTH PLAIN LOGIN\n(S: 250-.*\n)*S: 250 .*\nC: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: <redacted>\nS: 334 UGFzc3dvcmQ6\nC: <redacted>\nS: 235 2\.0\.0 Authentication succeeded\nC: MAIL FROM:<>\nS: 250 2\.0\.0 Roger, accepting mail from <>\nC: RSET\nS: 250 2\.0\.0 Session reset\nC: QUIT\nS: 221 2\.0\.0 Bye\n$`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := smtptest.StartPlainGoSMTP(t)
			expect(t, smtptest.Case{Args: append([]string{"-H", "127.0.0.1", "-p", g.Port}, tc.args...),
				Absent: []string{"s3cret", b64S3cret, plainAliceS3cret}, Status: tc.status, Output: tc.message})
			if tc.events != nil {
				// The session ends (logout) when the connection closes, which
				// may be just after run returns: wait for it.
				got := g.Backend.WaitEvents(len(tc.events))
				if strings.Join(got, "\n") != strings.Join(tc.events, "\n") {
					t.Errorf("server saw %q, want %q", got, tc.events)
				}
			}
		})
	}
}
