package integration

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// A check-smtp run against one of the servers from servers.sh.
// Args and env go through expand: ${POSTFIX_SMTP}, ${CA}, ${USER}, ${PASS}...
type checkCase struct {
	name     string
	server   string // CHASQUID, POSTFIX, DOVECOT, or "" for none
	ipv6     bool   // needs ::1
	args     []string
	env      []string
	code     int
	line     string   // regexp the first line must match
	labels   []string // perfdata labels that must be there
	noLabels []string // perfdata labels that must not be there
}

const (
	// steps of a plain SMTP conversation that ends well
	plainSteps = "time connect banner ehlo mail rset quit"
	// the same over STARTTLS, with certificate days
	starttlsSteps = plainSteps + " tls starttls cert_days"
)

func fields(s string) []string { return strings.Fields(s) }

func checkCases() []checkCase {
	const (
		postfixBanner  = `localhost ESMTP Postfix \(check-smtp integration\)`
		chasquidBanner = `localhost ESMTP chasquid`
		dovecotBanner  = `Dovecot .*ready`
		tlsInfo        = `TLS ?v?1\.[23]`
		authUser       = "${USER}"
	)
	local := []string{"-H", "127.0.0.1"}
	a := func(extra ...string) []string { return append(append([]string{}, local...), extra...) }
	return []checkCase{
		// ---------------------------------------------------------- Postfix
		{name: "postfix/plain", server: "POSTFIX", args: a("-p", "${POSTFIX_SMTP}"),
			code: 0, line: `^SMTP OK: .*` + postfixBanner, labels: fields(plainSteps), noLabels: fields("tls starttls auth rcpt cert_days")},
		{name: "postfix/plain-ipv6", server: "POSTFIX", ipv6: true, args: []string{"-H", "::1", "-p", "${POSTFIX_SMTP}"},
			code: 0, line: `^SMTP OK: .*` + postfixBanner, labels: fields(plainSteps)},
		{name: "postfix/plain-6-flag", server: "POSTFIX", ipv6: true, args: []string{"-6", "-H", "::1", "-p", "${POSTFIX_SMTP}"},
			code: 0, line: `^SMTP OK: `, labels: fields(plainSteps)},
		{name: "postfix/starttls-untrusted", server: "POSTFIX", args: a("-p", "${POSTFIX_SMTP}", "-S"),
			code: 2, line: `^SMTP CRITICAL: .*(unknown authority|not trusted|untrusted)`},
		{name: "postfix/starttls-cafile", server: "POSTFIX", args: a("-p", "${POSTFIX_SMTP}", "-S", "--cafile", "${CA}"),
			code: 0, line: `^SMTP OK: .*` + postfixBanner + `.*` + tlsInfo, labels: fields(starttlsSteps)},
		{name: "postfix/starttls-insecure", server: "POSTFIX", args: a("-p", "${POSTFIX_SMTP}", "-S", "-k"),
			code: 0, line: `^SMTP OK: .*` + tlsInfo, labels: fields(plainSteps + " tls starttls")},
		{name: "postfix/starttls-localhost-name", server: "POSTFIX", args: []string{"-H", "localhost", "-4", "-p", "${POSTFIX_SMTP}", "-S", "--cafile", "${CA}"},
			code: 0, line: `^SMTP OK: `, labels: fields(starttlsSteps)},
		{name: "postfix/starttls-wrong-sni", server: "POSTFIX", args: a("-p", "${POSTFIX_SMTP}", "-S", "--cafile", "${CA}", "--sni=mail.elsewhere.example"),
			code: 2, line: `^SMTP CRITICAL: .*mail\.elsewhere\.example`},
		{name: "postfix/cert-days-ok", server: "POSTFIX", args: a("-p", "${POSTFIX_SMTP}", "-S", "--cafile", "${CA}", "-D", "30,10"),
			code: 0, line: `^SMTP OK: .*certificate expires in 8[0-9][0-9] days`, labels: fields(starttlsSteps)},
		{name: "postfix/cert-days-warning", server: "POSTFIX", args: a("-p", "${POSTFIX_SOON}", "-S", "--cafile", "${CA}", "-D", "30,10"),
			code: 1, line: `^SMTP WARNING: .*certificate expires in (19|20) days`, labels: fields(starttlsSteps)},
		{name: "postfix/cert-days-critical", server: "POSTFIX", args: a("-p", "${POSTFIX_SOON}", "-S", "--cafile", "${CA}", "-D", "30,25"),
			code: 2, line: `^SMTP CRITICAL: .*certificate expires in (19|20) days`, labels: fields("time cert_days")},
		{name: "postfix/unknown-ca", server: "POSTFIX", args: a("-p", "${POSTFIX_STRANGER}", "-S", "--cafile", "${CA}"),
			code: 2, line: `^SMTP CRITICAL: .*(unknown authority|not trusted|untrusted)`},
		{name: "postfix/unknown-ca-insecure", server: "POSTFIX", args: a("-p", "${POSTFIX_STRANGER}", "-S", "-k"),
			code: 0, line: `^SMTP OK: `, labels: fields(plainSteps + " tls starttls")},
		{name: "postfix/rcpt-accepted", server: "POSTFIX", args: a("-p", "${POSTFIX_SMTP}", "--rcpt", "postmaster@localhost"),
			code: 0, line: `^SMTP OK: `, labels: fields(plainSteps + " rcpt")},
		{name: "postfix/rcpt-refused", server: "POSTFIX", args: a("-p", "${POSTFIX_SMTP}", "--rcpt", "nobody@localhost"),
			code: 2, line: `^SMTP CRITICAL: .*nobody@localhost.*550`, labels: fields("time rcpt")},
		{name: "postfix/reject-rcpt-relay-denied", server: "POSTFIX", args: a("-p", "${POSTFIX_SMTP}", "--reject-rcpt", "someone@elsewhere.example"),
			code: 0, line: `^SMTP OK: `, labels: fields(plainSteps + " rcpt")},
		{name: "postfix/reject-rcpt-and-rcpt", server: "POSTFIX", args: a("-p", "${POSTFIX_SMTP}", "--reject-rcpt", "someone@elsewhere.example", "--rcpt", "postmaster@localhost"),
			code: 0, line: `^SMTP OK: `, labels: fields(plainSteps + " rcpt")},
		{name: "postfix/reject-rcpt-accepted-local", server: "POSTFIX", args: a("-p", "${POSTFIX_SMTP}", "--reject-rcpt", "postmaster@localhost"),
			code: 2, line: `^SMTP CRITICAL: .*postmaster@localhost.*25[0-9]`},
		{name: "postfix/submission-needs-starttls", server: "POSTFIX", args: a("-p", "${POSTFIX_SUBMISSION}"),
			code: 2, line: `^SMTP CRITICAL: .*530`},
		{name: "postfix/auth-not-offered", server: "POSTFIX", args: a("-p", "${POSTFIX_SMTP}", "-A", "PLAIN", "-U", authUser, "-P", "${PASS}"),
			code: 2, line: `^SMTP CRITICAL: .*PLAIN`},
		{name: "postfix/auth-plain", server: "POSTFIX", args: a("-p", "${POSTFIX_SUBMISSION}", "-S", "--cafile", "${CA}", "-A", "PLAIN", "-U", authUser, "-P", "${PASS}"),
			code: 0, line: `^SMTP OK: `, labels: fields(starttlsSteps + " auth")},
		{name: "postfix/auth-login", server: "POSTFIX", args: a("-p", "${POSTFIX_SUBMISSION}", "-S", "--cafile", "${CA}", "-A", "LOGIN", "-U", authUser, "-P", "${PASS}"),
			code: 0, line: `^SMTP OK: `, labels: fields(starttlsSteps + " auth")},
		{name: "postfix/auth-plain-wrong", server: "POSTFIX", args: a("-p", "${POSTFIX_SUBMISSION}", "-S", "--cafile", "${CA}", "-A", "PLAIN", "-U", authUser, "-P", "wrong-Passw0rd"),
			code: 2, line: `^SMTP CRITICAL: .*AUTH.*535`, labels: fields("time auth"), noLabels: fields("mail")},
		{name: "postfix/auth-login-wrong", server: "POSTFIX", args: a("-p", "${POSTFIX_SUBMISSION}", "-S", "--cafile", "${CA}", "-A", "LOGIN", "-U", authUser, "-P", "wrong-Passw0rd"),
			code: 2, line: `^SMTP CRITICAL: .*AUTH.*535`, labels: fields("time auth"), noLabels: fields("mail")},
		{name: "postfix/auth-password-env", server: "POSTFIX", args: a("-p", "${POSTFIX_SUBMISSION}", "-S", "--cafile", "${CA}", "-A", "PLAIN", "-U", authUser),
			env: []string{"CHECK_SMTP_AUTHPASSWORD=${PASS}"}, code: 0, line: `^SMTP OK: `, labels: fields(starttlsSteps + " auth")},
		{name: "postfix/auth-relay-allowed", server: "POSTFIX", args: a("-p", "${POSTFIX_SUBMISSION}", "-S", "--cafile", "${CA}", "-A", "LOGIN", "-U", authUser, "-P", "${PASS}", "--rcpt", "someone@elsewhere.example"),
			code: 0, line: `^SMTP OK: `, labels: fields(starttlsSteps + " auth rcpt")},
		{name: "postfix/smtps-auth", server: "POSTFIX", args: a("-p", "${POSTFIX_SMTPS}", "-s", "--cafile", "${CA}", "-A", "LOGIN", "-U", authUser, "-P", "${PASS}", "-D", "30,10"),
			code: 0, line: `^SMTP OK: .*` + tlsInfo, labels: fields(plainSteps + " tls auth cert_days"), noLabels: fields("starttls")},
		{name: "postfix/smtps-untrusted", server: "POSTFIX", args: a("-p", "${POSTFIX_SMTPS}", "-s"),
			code: 2, line: `^SMTP CRITICAL: .*(unknown authority|not trusted|untrusted)`},
		{name: "postfix/expect-mismatch", server: "POSTFIX", args: a("-p", "${POSTFIX_SMTP}", "-e", "Exim"),
			code: 1, line: `^SMTP WARNING: .*Exim`, labels: fields(plainSteps)},
		{name: "postfix/command-response", server: "POSTFIX", args: a("-p", "${POSTFIX_SMTP}", "-C", "NOOP", "-R", `^250 2\.0\.0 Ok`),
			code: 0, line: `^SMTP OK: `, labels: fields(plainSteps)},
		{name: "postfix/command-response-mismatch", server: "POSTFIX", args: a("-p", "${POSTFIX_SMTP}", "-C", "VRFY postmaster", "-R", `^25[0-2]`),
			code: 1, line: `^SMTP WARNING: .*VRFY`},
		{name: "postfix/warning-threshold", server: "POSTFIX", args: a("-p", "${POSTFIX_SMTP}", "-w", "0.000001"),
			code: 1, line: `^SMTP WARNING: `, labels: fields(plainSteps)},
		{name: "postfix/critical-threshold", server: "POSTFIX", args: a("-p", "${POSTFIX_SMTP}", "-w", "0.000001", "-c", "0.000002"),
			code: 2, line: `^SMTP CRITICAL: `, labels: fields(plainSteps)},

		// ---------------------------------------------------------- chasquid
		{name: "chasquid/plain", server: "CHASQUID", args: a("-p", "${CHASQUID_SMTP}"),
			code: 0, line: `^SMTP OK: .*` + chasquidBanner, labels: fields(plainSteps)},
		{name: "chasquid/plain-ipv6", server: "CHASQUID", ipv6: true, args: []string{"-H", "::1", "-p", "${CHASQUID_SMTP}", "-S", "--cafile", "${CA}"},
			code: 0, line: `^SMTP OK: .*` + chasquidBanner, labels: fields(starttlsSteps)},
		{name: "chasquid/starttls-untrusted", server: "CHASQUID", args: a("-p", "${CHASQUID_SMTP}", "-S"),
			code: 2, line: `^SMTP CRITICAL: .*(unknown authority|not trusted|untrusted)`},
		{name: "chasquid/starttls-cafile", server: "CHASQUID", args: a("-p", "${CHASQUID_SMTP}", "-S", "--cafile", "${CA}", "-D", "30,10"),
			code: 0, line: `^SMTP OK: .*` + chasquidBanner + `.*` + tlsInfo, labels: fields(starttlsSteps)},
		{name: "chasquid/starttls-insecure", server: "CHASQUID", args: a("-p", "${CHASQUID_SMTP}", "-S", "-k"),
			code: 0, line: `^SMTP OK: `, labels: fields(plainSteps + " tls starttls")},
		{name: "chasquid/smtps-on-plain-port", server: "CHASQUID", args: a("-p", "${CHASQUID_SMTP}", "-s", "--cafile", "${CA}"),
			code: 2, line: `^SMTP CRITICAL: .*TLS`},
		{name: "chasquid/reject-rcpt-relay-denied", server: "CHASQUID", args: a("-p", "${CHASQUID_SMTP}", "--reject-rcpt", "someone@elsewhere.example"),
			code: 0, line: `^SMTP OK: `, labels: fields(plainSteps + " rcpt")},
		{name: "chasquid/rcpt-accepted", server: "CHASQUID", args: a("-p", "${CHASQUID_SMTP}", "--rcpt", "tester@localhost"),
			code: 0, line: `^SMTP OK: `, labels: fields(plainSteps + " rcpt")},
		{name: "chasquid/reject-rcpt-accepted-local", server: "CHASQUID", args: a("-p", "${CHASQUID_SMTP}", "--reject-rcpt", "postmaster@localhost"),
			code: 2, line: `^SMTP CRITICAL: .*postmaster@localhost`},
		{name: "chasquid/auth-plain", server: "CHASQUID", args: a("-p", "${CHASQUID_SUBMISSION}", "-S", "--cafile", "${CA}", "-A", "PLAIN", "-U", authUser, "-P", "${PASS}"),
			code: 0, line: `^SMTP OK: `, labels: fields(starttlsSteps + " auth")},
		{name: "chasquid/auth-plain-wrong", server: "CHASQUID", args: a("-p", "${CHASQUID_SUBMISSION}", "-S", "--cafile", "${CA}", "-A", "PLAIN", "-U", authUser, "-P", "wrong-Passw0rd"),
			code: 2, line: `^SMTP CRITICAL: .*AUTH.*535`, noLabels: fields("mail")},
		{name: "chasquid/auth-login-not-offered", server: "CHASQUID", args: a("-p", "${CHASQUID_SUBMISSION}", "-S", "--cafile", "${CA}", "-A", "LOGIN", "-U", authUser, "-P", "${PASS}"),
			code: 2, line: `^SMTP CRITICAL: .*LOGIN.*PLAIN`, noLabels: fields("mail")},
		{name: "chasquid/submissions-auth", server: "CHASQUID", args: a("-p", "${CHASQUID_SUBMISSIONS}", "-s", "--cafile", "${CA}", "-A", "PLAIN", "-U", authUser, "-P", "${PASS}", "-D", "30,10"),
			code: 0, line: `^SMTP OK: .*` + tlsInfo, labels: fields(plainSteps + " tls auth cert_days"), noLabels: fields("starttls")},
		{name: "chasquid/submissions-untrusted", server: "CHASQUID", args: a("-p", "${CHASQUID_SUBMISSIONS}", "-s"),
			code: 2, line: `^SMTP CRITICAL: .*(unknown authority|not trusted|untrusted)`},

		// ---------------------------------------------------------- Dovecot LMTP
		{name: "dovecot/lmtp-tcp", server: "DOVECOT", args: a("-L", "-p", "${LMTP_TCP}"),
			code: 0, line: `^SMTP OK: .*` + dovecotBanner, labels: fields("time connect banner mail rset quit")},
		{name: "dovecot/lmtp-tcp-ipv6", server: "DOVECOT", ipv6: true, args: []string{"-L", "-H", "::1", "-p", "${LMTP_TCP}"},
			code: 0, line: `^SMTP OK: .*` + dovecotBanner},
		{name: "dovecot/lmtp-socket", server: "DOVECOT", args: []string{"-L", "-H", "${LMTP_SOCKET}"},
			code: 0, line: `^SMTP OK: .*` + dovecotBanner, labels: fields("time connect banner mail rset quit")},
		{name: "dovecot/lmtp-socket-positional", server: "DOVECOT", args: []string{"-L", "${LMTP_SOCKET}", "--rcpt", "tester@localhost"},
			code: 0, line: `^SMTP OK: `, labels: fields("time rcpt")},
		{name: "dovecot/lmtp-rcpt-accepted", server: "DOVECOT", args: a("-L", "-p", "${LMTP_TCP}", "--rcpt", "tester@localhost"),
			code: 0, line: `^SMTP OK: `, labels: fields("time rcpt")},
		{name: "dovecot/lmtp-rcpt-refused", server: "DOVECOT", args: []string{"-L", "-H", "${LMTP_SOCKET}", "--rcpt", "nobody@localhost"},
			code: 2, line: `^SMTP CRITICAL: .*nobody@localhost.*550`},
		{name: "dovecot/smtp-against-lmtp", server: "DOVECOT", args: a("-p", "${LMTP_TCP}"),
			code: 2, line: `^SMTP CRITICAL: .*(EHLO|HELO)`},
		{name: "dovecot/lmtp-starttls-not-offered", server: "DOVECOT", args: a("-L", "-S", "-p", "${LMTP_TCP}"),
			code: 2, line: `^SMTP CRITICAL: .*STARTTLS`},

		// ---------------------------------------------------------- no server
		{name: "closed-port", args: a("-p", "${CLOSED_PORT}"),
			code: 2, line: `^SMTP CRITICAL: .*refused`, labels: fields("time")},
		{name: "bad-options-s-and-S", args: a("-p", "${CLOSED_PORT}", "-s", "-S"),
			code: 3, line: `^SMTP UNKNOWN: .*-s.*-S|^SMTP UNKNOWN: .*-S.*-s`},
		{name: "bad-options-auth-without-user", args: a("-p", "${CLOSED_PORT}", "-A", "PLAIN"),
			code: 3, line: `^SMTP UNKNOWN: `},
		{name: "missing-cafile", args: a("-p", "${CLOSED_PORT}", "-S", "--cafile", "${STATE}/no-such-ca.pem"),
			code: 3, line: `^SMTP UNKNOWN: .*no-such-ca\.pem`},
	}
}

func TestCheckAgainstRealServers(t *testing.T) {
	for _, c := range checkCases() {
		t.Run(c.name, func(t *testing.T) {
			requireServer(t, c.server)
			if c.ipv6 && srv["IPV6"] != "1" {
				t.Skip("no ::1 on this machine")
			}
			args := make([]string, len(c.args))
			for i, a := range c.args {
				args[i] = expand(a)
			}
			env := make([]string, len(c.env))
			for i, e := range c.env {
				env[i] = expand(e)
			}
			r := runCheck(t, env, args...)
			t.Logf("%s", r)
			labels, _ := checkPluginContract(t, r)
			if r.code != c.code {
				t.Errorf("exit code %d, want %d (%s)", r.code, c.code, statusNames[c.code])
			}
			if !regexp.MustCompile(c.line).MatchString(r.firstLine()) {
				t.Errorf("first line %q does not match %q", r.firstLine(), c.line)
			}
			have := map[string]bool{}
			for _, l := range labels {
				have[l] = true
			}
			for _, l := range c.labels {
				if !have[l] {
					t.Errorf("perfdata label %q missing (have %v)", l, labels)
				}
			}
			for _, l := range c.noLabels {
				if have[l] {
					t.Errorf("perfdata label %q present for a step that did not run (have %v)", l, labels)
				}
			}
		})
	}
}

// TestCertDaysPerfdata checks the cert_days datum carries -D as alert-below ranges.
func TestCertDaysPerfdata(t *testing.T) {
	requireServer(t, "POSTFIX")
	r := runCheck(t, nil, "-H", "127.0.0.1", "-p", srv["POSTFIX_SOON"], "-S", "--cafile", srv["CA"], "-D", "30,10")
	t.Logf("%s", r)
	_, data := checkPluginContract(t, r)
	if !regexp.MustCompile(`^cert_days=(19|20);30:;10:`).MatchString(data["cert_days"]) {
		t.Errorf("cert_days datum %q, want cert_days=19 or 20 with ;30:;10:", data["cert_days"])
	}
}

// TestNoPerfdata: --no-perfdata leaves no '|' anywhere.
func TestNoPerfdata(t *testing.T) {
	requireServer(t, "POSTFIX")
	r := runCheck(t, nil, "-H", "127.0.0.1", "-p", srv["POSTFIX_SMTP"], "-S", "--cafile", srv["CA"], "--no-perfdata")
	t.Logf("%s", r)
	checkPluginContract(t, r)
	if r.code != 0 || strings.Contains(r.stdout, "|") || strings.Contains(r.stdout, "time=") {
		t.Errorf("want OK without perfdata")
	}
}

// forbidden lists the forms in which a password (and the AUTH payloads that
// carry it) could leak: as is, and base64 at each of the three alignments.
func forbidden(user, pass string) []string {
	out := []string{pass}
	for _, payload := range []string{"\x00" + user + "\x00" + pass, user + "\x00" + user + "\x00" + pass, user, pass} {
		out = append(out, base64.StdEncoding.EncodeToString([]byte(payload)))
	}
	for k := 0; k < 3; k++ {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding} {
			e := enc.EncodeToString(append(make([]byte, k), pass...))
			// drop the characters that mix in the prefix and the last group
			start, end := (k*8+5)/6, len(e)-4
			if end-start >= 8 {
				out = append(out, e[start:end])
			}
		}
	}
	return out
}

func TestVerboseNeverShowsPassword(t *testing.T) {
	const wrong = "Wr0ng-pa55word_zq"
	dir := t.TempDir()
	passFile := filepath.Join(dir, "pass")
	if err := os.WriteFile(passFile, []byte(srv["PASS"]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, server string
		args         []string
		env          []string
		pass         string
		code         int
	}{
		{"postfix-plain", "POSTFIX", []string{"-p", "${POSTFIX_SUBMISSION}", "-S", "--cafile", "${CA}", "-A", "PLAIN", "-P", "${PASS}"}, nil, "${PASS}", 0},
		{"postfix-login", "POSTFIX", []string{"-p", "${POSTFIX_SUBMISSION}", "-S", "--cafile", "${CA}", "-A", "LOGIN", "-P", "${PASS}"}, nil, "${PASS}", 0},
		{"postfix-login-wrong", "POSTFIX", []string{"-p", "${POSTFIX_SUBMISSION}", "-S", "--cafile", "${CA}", "-A", "LOGIN", "-P", wrong}, nil, wrong, 2},
		{"postfix-plain-wrong", "POSTFIX", []string{"-p", "${POSTFIX_SMTPS}", "-s", "--cafile", "${CA}", "-A", "PLAIN", "-P", wrong}, nil, wrong, 2},
		{"postfix-env", "POSTFIX", []string{"-p", "${POSTFIX_SMTPS}", "-s", "--cafile", "${CA}", "-A", "PLAIN"}, []string{"CHECK_SMTP_AUTHPASSWORD=${PASS}"}, "${PASS}", 0},
		{"chasquid-file", "CHASQUID", []string{"-p", "${CHASQUID_SUBMISSIONS}", "-s", "--cafile", "${CA}", "-A", "PLAIN", "--authpassword-file", passFile}, nil, "${PASS}", 0},
		{"chasquid-plain-wrong", "CHASQUID", []string{"-p", "${CHASQUID_SUBMISSION}", "-S", "--cafile", "${CA}", "-A", "PLAIN", "-P", wrong}, nil, wrong, 2},
		{"chasquid-login-not-offered", "CHASQUID", []string{"-p", "${CHASQUID_SUBMISSION}", "-S", "--cafile", "${CA}", "-A", "LOGIN", "-P", "${PASS}"}, nil, "${PASS}", 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			requireServer(t, c.server)
			args := []string{"-v", "-H", "127.0.0.1", "-U", srv["USER"]}
			for _, a := range c.args {
				args = append(args, expand(a))
			}
			var env []string
			for _, e := range c.env {
				env = append(env, expand(e))
			}
			r := runCheck(t, env, args...)
			checkPluginContract(t, r)
			if r.code != c.code {
				t.Errorf("exit code %d, want %d\n%s", r.code, c.code, r)
			}
			if strings.Count(r.stdout, "\n") < 5 {
				t.Errorf("-v printed no transcript\n%s", r)
			}
			if c.code == 0 && !strings.Contains(r.stdout, "235") {
				t.Errorf("transcript lacks the server's 235 reply\n%s", r)
			}
			all := r.stdout + r.stderr
			for _, f := range forbidden(srv["USER"], expand(c.pass)) {
				if strings.Contains(all, f) {
					t.Errorf("output contains %q, a form of the password or AUTH payload", f)
				}
			}
			if t.Failed() {
				t.Logf("%s", r)
			}
		})
	}
}

// TestForbiddenFindsEncodedPasswords keeps the leak scanner honest.
func TestForbiddenFindsEncodedPasswords(t *testing.T) {
	const user, pass = "tester@localhost", "Sup3r-s3cret_pa55w0rd"
	leaks := []string{
		"C: AUTH PLAIN " + base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+pass)),
		"C: " + base64.StdEncoding.EncodeToString([]byte(pass)),
		"C: AUTH PLAIN " + base64.StdEncoding.EncodeToString([]byte("x\x00"+user+"\x00"+pass)),
		"C: AUTH PLAIN " + base64.StdEncoding.EncodeToString([]byte("xy\x00"+user+"\x00"+pass)),
		"password is " + pass,
	}
	for _, leak := range leaks {
		found := false
		for _, f := range forbidden(user, pass) {
			if strings.Contains(leak, f) {
				found = true
			}
		}
		if !found {
			t.Errorf("scanner misses %q", leak)
		}
	}
	for _, f := range forbidden(user, pass) {
		if strings.Contains("C: AUTH PLAIN <redacted>\nS: 235 2.7.0 Authentication successful", f) {
			t.Errorf("scanner flags a clean transcript (%q)", f)
		}
	}
}
