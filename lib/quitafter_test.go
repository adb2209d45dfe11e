package checksmtp

import (
	"testing"

	"github.com/mackerelio/checkers"
)

// TestQuitAfter: --quit-after STEP ends with QUIT right after STEP; later
// steps are not sent and are absent from the perfdata.
func TestQuitAfter(t *testing.T) {
	quit := []string{"C: QUIT", "S: 221 2.0.0 Bye"}
	runMockCases(t, []mockCase{
		{
			name:     "banner",
			script:   script("S: 220 mx.example.test ESMTP ready", quit),
			args:     []string{"--quit-after", "banner"},
			status:   checkers.OK,
			message:  `^SMTP OK: 0\.\d{3}s response time, mx\.example\.test ESMTP ready \| time=` + pd + `;;;0 connect=` + pd + `;;;0 banner=` + pd + `;;;0 quit=` + pd + `;;;0\n$`,
			scriptOK: true,
		},
		{
			name:     "banner: -e is judged against the banner alone",
			script:   script("S: 220 mx.example.test ESMTP ready", quit),
			args:     []string{"--quit-after", "banner", "-e", "Postfix"},
			status:   checkers.WARNING,
			message:  `^SMTP WARNING: the banner does not contain "Postfix": 220 mx\.example\.test ESMTP ready -- `,
			scriptOK: true,
		},
		{
			name:     "ehlo",
			script:   script(scriptGreeting, quit),
			args:     []string{"--quit-after", "ehlo"},
			status:   checkers.OK,
			message:  `^SMTP OK: .* \| time=` + pd + `;;;0 connect=` + pd + `;;;0 banner=` + pd + `;;;0 ehlo=` + pd + `;;;0 quit=` + pd + `;;;0\n$`,
			scriptOK: true,
		},
		{
			name:     "ehlo: QUIT refused is still judged",
			script:   script(scriptGreeting, "C: QUIT", "S: 500 no"),
			args:     []string{"--quit-after", "ehlo"},
			status:   checkers.WARNING,
			message:  `^SMTP WARNING: QUIT refused: 500 no -- `,
			scriptOK: true,
		},
		{
			name:   "auth",
			script: script(scriptAuthGreeting, "C: AUTH PLAIN "+lit(plainAliceS3cret), "S: 235 2.7.0 ok", quit),
			args:   []string{"--quit-after", "auth", "-A", "PLAIN", "-U", "alice", "-P", "s3cret"},
			status: checkers.OK,
			message: `^SMTP OK: .* \| time=` + pd + `;;;0 connect=` + pd + `;;;0 banner=` + pd + `;;;0 ehlo=` + pd + `;;;0 auth=` + pd +
				`;;;0 quit=` + pd + `;;;0\n$`,
			scriptOK: true,
		},
		{
			name:     "mail: no RSET",
			script:   script(scriptGreeting, scriptMailOK, quit),
			args:     []string{"--quit-after", "mail"},
			status:   checkers.OK,
			message:  ` ehlo=` + pd + `;;;0 mail=` + pd + `;;;0 quit=` + pd + `;;;0\n$`,
			scriptOK: true,
		},
		{
			name:     "rcpt: no RSET",
			script:   script(scriptGreeting, scriptMailOK, "C: RCPT TO:<a@example\\.test>", "S: 250 ok", quit),
			args:     []string{"--quit-after", "rcpt", "--rcpt", "a@example.test"},
			status:   checkers.OK,
			message:  ` mail=` + pd + `;;;0 rcpt=` + pd + `;;;0 quit=` + pd + `;;;0\n$`,
			scriptOK: true,
		},
		{
			name:     "a failure before the step still ends the check",
			script:   script("S: 554 no service", scriptPoliteQuit),
			args:     []string{"--quit-after", "ehlo"},
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: server refused the connection at step banner: 554 no service -- `,
			scriptOK: true,
		},
	})

	c := newTestCerts(t)
	tlsCases := []struct {
		name   string
		script []string
		args   []string
		perf   string
	}{
		{"-S starttls: QUIT over TLS, no second EHLO", script(scriptSTARTTLS, quit), []string{"-S", "--quit-after", "starttls"},
			` ehlo=` + pd + `;;;0 starttls=` + pd + `;;;0 tls=` + pd + `;;;0 quit=` + pd + `;;;0 cert_days=364 chain_days=364\n$`},
		{"-S tls: the same as starttls", script(scriptSTARTTLS, quit), []string{"-S", "--quit-after", "tls"},
			` starttls=` + pd + `;;;0 tls=` + pd + `;;;0 quit=` + pd + `;;;0 cert_days=364 chain_days=364\n$`},
		{"-S ehlo: after the EHLO over TLS", script(scriptSTARTTLS, scriptEHLOAgain, quit), []string{"-S", "--quit-after", "ehlo"},
			` starttls=` + pd + `;;;0 tls=` + pd + `;;;0 quit=` + pd + `;;;0 cert_days=364 chain_days=364\n$`},
		{"-s tls: the banner is still read", script("TLS", "S: 220 mx.example.test ESMTP", quit), []string{"-s", "--quit-after", "tls"},
			`\| time=` + pd + `;;;0 connect=` + pd + `;;;0 tls=` + pd + `;;;0 banner=` + pd + `;;;0 quit=` + pd + `;;;0 cert_days=364 chain_days=364\n$`},
		{"-s ehlo", script("TLS", scriptGreeting, quit), []string{"-s", "--quit-after", "ehlo", "-D", "30,14"},
			` tls=` + pd + `;;;0 banner=` + pd + `;;;0 ehlo=` + pd + `;;;0 quit=` + pd + `;;;0 cert_days=364;30:;14: chain_days=364;30:;14:\n$`},
	}
	for _, tc := range tlsCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, m := tlsMockRun(t, c, certTestServerTLS(c.valid), tc.script, append([]string{"--cafile", "CAFILE"}, tc.args...), checkers.OK, `^SMTP OK: .*`+tc.perf)
			scriptDone(t, m, out)
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
