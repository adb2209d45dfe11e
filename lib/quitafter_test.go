package checksmtp

import (
	"testing"

	"github.com/mackerelio/checkers"

	"github.com/check-smtp/check-smtp/lib/internal/smtptest"
)

// TestQuitAfter: --quit-after STEP ends with QUIT right after STEP; later
// steps are not sent and are absent from the perfdata.
func TestQuitAfter(t *testing.T) {
	quit := smtptest.Quit()
	expectCases(t, []smtptest.Case{
		{
			Name:     "banner",
			Script:   smtptest.Script("S: 220 mx.example.test ESMTP ready", quit),
			Args:     []string{"--quit-after", "banner"},
			Status:   checkers.OK,
			Output:   `^SMTP OK: 0\.\d{3}s response time, mx\.example\.test ESMTP ready \| time=` + pd + `;;;0 connect=` + pd + `;;;0 banner=` + pd + `;;;0 quit=` + pd + `;;;0\n$`,
			ScriptOK: true,
		},
		{
			Name:     "banner: -e is judged against the banner alone",
			Script:   smtptest.Script("S: 220 mx.example.test ESMTP ready", quit),
			Args:     []string{"--quit-after", "banner", "-e", "Postfix"},
			Status:   checkers.WARNING,
			Output:   `^SMTP WARNING: the banner does not contain "Postfix": 220 mx\.example\.test ESMTP ready -- `,
			ScriptOK: true,
		},
		{
			Name:     "ehlo",
			Script:   smtptest.Script(smtptest.Greeting(), quit),
			Args:     []string{"--quit-after", "ehlo"},
			Status:   checkers.OK,
			Output:   `^SMTP OK: .* \| time=` + pd + `;;;0 connect=` + pd + `;;;0 banner=` + pd + `;;;0 ehlo=` + pd + `;;;0 quit=` + pd + `;;;0\n$`,
			ScriptOK: true,
		},
		{
			Name:     "ehlo: QUIT refused is still judged",
			Script:   smtptest.Script(smtptest.Greeting(), "C: QUIT", "S: 500 no"),
			Args:     []string{"--quit-after", "ehlo"},
			Status:   checkers.WARNING,
			Output:   `^SMTP WARNING: QUIT refused: 500 no -- `,
			ScriptOK: true,
		},
		{
			Name:   "auth",
			Script: smtptest.Script(scriptAuthGreeting, "C: AUTH PLAIN "+lit(plainAliceS3cret), "S: 235 2.7.0 ok", quit),
			Args:   []string{"--quit-after", "auth", "-A", "PLAIN", "-U", "alice", "-P", "s3cret"},
			Status: checkers.OK,
			Output: `^SMTP OK: .* \| time=` + pd + `;;;0 connect=` + pd + `;;;0 banner=` + pd + `;;;0 ehlo=` + pd + `;;;0 auth=` + pd +
				`;;;0 quit=` + pd + `;;;0\n$`,
			ScriptOK: true,
		},
		{
			Name:     "mail: no RSET",
			Script:   smtptest.Script(smtptest.Greeting(), smtptest.MailOK(), quit),
			Args:     []string{"--quit-after", "mail"},
			Status:   checkers.OK,
			Output:   ` ehlo=` + pd + `;;;0 mail=` + pd + `;;;0 quit=` + pd + `;;;0\n$`,
			ScriptOK: true,
		},
		{
			Name:     "rcpt: no RSET",
			Script:   smtptest.Script(smtptest.Greeting(), smtptest.MailOK(), "C: RCPT TO:<a@example\\.test>", "S: 250 ok", quit),
			Args:     []string{"--quit-after", "rcpt", "--rcpt", "a@example.test"},
			Status:   checkers.OK,
			Output:   ` mail=` + pd + `;;;0 rcpt=` + pd + `;;;0 quit=` + pd + `;;;0\n$`,
			ScriptOK: true,
		},
		{
			Name:     "a failure before the step still ends the check",
			Script:   smtptest.Script("S: 554 no service", smtptest.Quit()),
			Args:     []string{"--quit-after", "ehlo"},
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: server refused the connection at step banner: 554 no service -- `,
			ScriptOK: true,
		},
	})

	c := smtptest.NewCerts(t)
	tlsCases := []struct {
		name   string
		script []string
		args   []string
		perf   string
	}{
		{"-S starttls: QUIT over TLS, no second EHLO", smtptest.Script(smtptest.STARTTLS(), quit), []string{"-S", "--quit-after", "starttls"},
			` ehlo=` + pd + `;;;0 starttls=` + pd + `;;;0 tls=` + pd + `;;;0 quit=` + pd + `;;;0 cert_days=364 chain_days=364\n$`},
		{"-S tls: the same as starttls", smtptest.Script(smtptest.STARTTLS(), quit), []string{"-S", "--quit-after", "tls"},
			` starttls=` + pd + `;;;0 tls=` + pd + `;;;0 quit=` + pd + `;;;0 cert_days=364 chain_days=364\n$`},
		{"-S ehlo: after the EHLO over TLS", smtptest.Script(smtptest.STARTTLS(), smtptest.EHLOAgain(), quit), []string{"-S", "--quit-after", "ehlo"},
			` starttls=` + pd + `;;;0 tls=` + pd + `;;;0 quit=` + pd + `;;;0 cert_days=364 chain_days=364\n$`},
		{"-s tls: the banner is still read", smtptest.Script("TLS", "S: 220 mx.example.test ESMTP", quit), []string{"-s", "--quit-after", "tls"},
			`\| time=` + pd + `;;;0 connect=` + pd + `;;;0 tls=` + pd + `;;;0 banner=` + pd + `;;;0 quit=` + pd + `;;;0 cert_days=364 chain_days=364\n$`},
		{"-s ehlo", smtptest.Script("TLS", smtptest.Greeting(), quit), []string{"-s", "--quit-after", "ehlo", "-D", "30,14"},
			` tls=` + pd + `;;;0 banner=` + pd + `;;;0 ehlo=` + pd + `;;;0 quit=` + pd + `;;;0 cert_days=364;30:;14: chain_days=364;30:;14:\n$`},
	}
	for _, tc := range tlsCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			expect(t, smtptest.Case{Script: tc.script, TLS: smtptest.ServerTLS(c.Valid), ScriptOK: true,
				Args: append([]string{"--cafile", c.CAFile}, tc.args...), Status: checkers.OK, Output: `^SMTP OK: .*` + tc.perf})
		})
	}

	t.Run("option errors", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"--quit-after", "data"}, `--quit-after "data": want one of banner, ehlo, starttls, tls, auth, mail, rcpt, e\.g\. --quit-after ehlo \(see --help\)\n$`},
			{[]string{"--quit-after", "starttls"}, `--quit-after starttls: this command line never runs step starttls \(it needs -S\) \(see --help\)\n$`},
			{[]string{"--quit-after", "starttls", "-s"}, `--quit-after starttls: this command line never runs step starttls \(it needs -S\)`},
			{[]string{"--quit-after", "tls"}, `--quit-after tls: this command line never runs step tls \(it needs -s or -S\)`},
			{[]string{"--quit-after", "auth"}, `--quit-after auth: this command line never runs step auth \(it needs -A\)`},
			{[]string{"--quit-after", "rcpt"}, `--quit-after rcpt: this command line never runs step rcpt \(it needs --rcpt or --reject-rcpt\)`},
			{[]string{"--quit-after", "ehlo", "--rcpt", "a@example.test"}, `--rcpt is never sent with --quit-after ehlo \(RCPT comes after ehlo\)`},
			{[]string{"--quit-after", "mail", "--reject-rcpt", "a@example.test"}, `--reject-rcpt is never sent with --quit-after mail \(RCPT comes after mail\)`},
			{[]string{"--quit-after", "ehlo", "-A", "PLAIN", "-U", "a", "-P", "b"}, `-A is never sent with --quit-after ehlo \(AUTH comes after ehlo\)`},
			{[]string{"--quit-after", "rcpt", "--rcpt", "a@example.test", "-C", "NOOP"}, `-C is never sent with --quit-after rcpt \(the -C commands come after rcpt\)`},
			{[]string{"--quit-after", "ehlo", "-f", "a@example.test"}, `-f is never sent with --quit-after ehlo \(MAIL comes after ehlo\)`},
		} {
			optionError(t, tc.args, tc.want)
		}
	})
}
