package checksmtp

import (
	"crypto/tls"
	"strings"
	"testing"

	"github.com/mackerelio/checkers"

	"github.com/check-smtp/check-smtp/lib/internal/smtptest"
)

// Compatibility: the command lines operators already have, from the
// Mackerel check-smtp README and from Icinga 2's ITL "smtp" CheckCommand
// (which runs monitoring-plugins' check_smtp), run unchanged except for the
// target (a loopback mock) and its port.

// compatCert is a CA-signed certificate for localhost and 127.0.0.1 and the
// CA's PEM file for --cafile.
func compatCert(t *testing.T) (tls.Certificate, string) {
	t.Helper()
	certs := smtptest.NewCerts(t)
	return certs.Valid, certs.CAFile
}

// compatTLSMock serves script on 127.0.0.1 with cert for its "TLS" actions.
func compatTLSMock(t *testing.T, cert tls.Certificate, script []string) *smtptest.Server {
	t.Helper()
	return smtptest.ServeTLS(t, smtptest.ListenLoopback(t, "127.0.0.1"), smtptest.ServerTLS(cert), script)
}

// subst replaces the README's target with the mock: host and port.
func subst(args []string, port string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		switch a {
		case "smtp.example.com", "mail.example.com":
			a = "127.0.0.1"
		case "PORT":
			a = port
		}
		out[i] = a
	}
	return out
}

func TestCompatMackerelREADME(t *testing.T) {
	// check-smtp/README.md, "Synopsis" and "Setting for mackerel-agent":
	//   check-smtp -H smtp.example.com -p 25 -w 3 -c 5 -t 10
	//   command = ["check-smtp", "-H", "smtp.example.com", "-p", "25", "-w", "3", "-c", "5", "-t", "10"]
	readme := []string{"-H", "smtp.example.com", "-p", "PORT", "-w", "3", "-c", "5", "-t", "10"}

	t.Run("synopsis", func(t *testing.T) {
		t.Parallel()
		m := smtptest.Start(t, smtptest.Script(smtptest.Greeting(), smtptest.Tail())...)
		out := expect(t, smtptest.Case{
			Args:   subst(readme, m.Port()),
			Status: checkers.OK, Output: `^SMTP OK: \d+\.\d{3}s response time, mx\.example\.test ESMTP ready \| time=\d+\.\d{6}s;3;5;0 connect=\S+ banner=\S+ ehlo=\S+ mail=\S+ rset=\S+ quit=\S+\n$`,
		})
		m.AssertDone(t, out)
	})
	t.Run("synopsis against a refusing server", func(t *testing.T) {
		t.Parallel()
		m := smtptest.Start(t, "S: 554 5.3.2 mx.example.test closing", "C: QUIT", "S: 221 bye")
		out := expect(t, smtptest.Case{
			Args:   subst(readme, m.Port()),
			Status: checkers.CRITICAL, Output: `^SMTP CRITICAL: server refused the connection at step banner: 554 5\.3\.2 mx\.example\.test closing -- `,
		})
		m.AssertDone(t, out)
	})
	t.Run("documented options -F -A PLAIN -U -P, long forms", func(t *testing.T) {
		t.Parallel()
		m := smtptest.Start(t, "S: 220 mx.example.test ESMTP", "C: EHLO mon\\.example\\.test", "S: 250-mx.example.test", "S: 250 AUTH PLAIN",
			"C: AUTH PLAIN AG1hY2tlcmVsAHMzY3JldA==", "S: 235 2.7.0 Ok", "C: MAIL FROM:<>", "S: 250 Ok", "C: RSET", "S: 250 Ok", "C: QUIT", "S: 221 Bye")
		args := []string{"--host", "smtp.example.com", "--port", "PORT", "--fqdn=mon.example.test", "--authmech=PLAIN",
			"--authuser=mackerel", "--authpassword=s3cret", "--warning=3", "--critical=5", "--timeout=10"}
		out := expect(t, smtptest.Case{Args: subst(args, m.Port()), Status: checkers.OK, Output: `^SMTP OK: .* auth=`})
		m.AssertDone(t, out)
	})

	cert, caFile := compatCert(t)
	starttls := []string{"S: 220 mx.example.test ESMTP", "C: EHLO .+", "S: 250-mx.example.test", "S: 250 STARTTLS",
		"C: STARTTLS", "S: 220 2.0.0 Ready", "TLS", "C: EHLO .+", "S: 250 mx.example.test"}
	// Deliberate difference: Mackerel's check-smtp never verifies the
	// certificate; this one does unless -k.
	t.Run("-S with an untrusted certificate is CRITICAL", func(t *testing.T) {
		t.Parallel()
		m := compatTLSMock(t, cert, starttls)
		expect(t, smtptest.Case{
			Args:   subst(append(readme, "-S"), m.Port()),
			Status: checkers.CRITICAL, Output: `^SMTP CRITICAL: .*certificate`,
		})
	})
	t.Run("-S with -k is OK", func(t *testing.T) {
		t.Parallel()
		m := compatTLSMock(t, cert, smtptest.Script(starttls, smtptest.Tail()))
		out := expect(t, smtptest.Case{
			Args:   subst(append(readme, "-S", "-k"), m.Port()),
			Status: checkers.OK, Output: `^SMTP OK: .*, TLS.* starttls=\S+ `,
		})
		m.AssertDone(t, out)
	})
	t.Run("-s with --cafile is OK", func(t *testing.T) {
		t.Parallel()
		m := compatTLSMock(t, cert, smtptest.Script("TLS", smtptest.Greeting(), smtptest.Tail()))
		out := expect(t, smtptest.Case{
			Args:   subst(append(readme, "-s", "--cafile", caFile), m.Port()),
			Status: checkers.OK, Output: `^SMTP OK: .* tls=\S+ banner=`,
		})
		m.AssertDone(t, out)
	})
	// Deliberate difference: Mackerel requires -w or -c (UNKNOWN without).
	t.Run("no threshold is fine", func(t *testing.T) {
		t.Parallel()
		expect(t, smtptest.Case{
			Script: smtptest.Script(smtptest.Greeting(), smtptest.Tail()), ScriptOK: true,
			Status: checkers.OK, Output: `^SMTP OK: .* time=\S+;;;0 `,
		})
	})
}

// itl builds the argv Icinga 2 produces from the ITL "smtp" CheckCommand
// (itl/command-plugins.conf): every argument has order 0, so they come in
// the sorted order of their keys; -4/-6/-S are set_if flags, every other key
// is followed by its value, -q included ("-q" = { value = "$smtp_ignore_quit$" }).
func itl(vars map[string]string) []string {
	keys := []struct{ key, v string }{
		{"-4", "smtp_ipv4"}, {"-6", "smtp_ipv6"}, {"-A", "smtp_authtype"}, {"-C", "smtp_command"},
		{"-D", "smtp_certificate_age"}, {"-F", "smtp_helo_fqdn"}, {"-H", "smtp_address"}, {"-P", "smtp_authpass"},
		{"-R", "smtp_response"}, {"-S", "smtp_starttls"}, {"-U", "smtp_authuser"}, {"-c", "smtp_critical"},
		{"-e", "smtp_expect"}, {"-f", "smtp_mail_from"}, {"-p", "smtp_port"}, {"-q", "smtp_ignore_quit"},
		{"-t", "smtp_timeout"}, {"-w", "smtp_warning"},
	}
	var argv []string
	for _, k := range keys {
		v, ok := vars[k.v]
		if !ok {
			continue
		}
		switch k.key {
		case "-4", "-6", "-S": // set_if
			if v == "true" {
				argv = append(argv, k.key)
			}
		default:
			argv = append(argv, k.key, v)
		}
	}
	return argv
}

func TestCompatIcingaITL(t *testing.T) {
	// base64 of "icinga" and "s3cret" for AUTH LOGIN.
	authLogin := []string{"C: AUTH LOGIN", "S: 334 VXNlcm5hbWU6", "C: aWNpbmdh", "S: 334 UGFzc3dvcmQ6", "C: czNjcmV0", "S: 235 2.7.0 Authentication successful"}

	t.Run("host check with the defaults: -H only", func(t *testing.T) {
		t.Parallel()
		m := smtptest.Start(t, smtptest.Script(smtptest.Greeting(), smtptest.Tail())...)
		argv := itl(map[string]string{"smtp_address": "127.0.0.1", "smtp_port": m.Port()})
		if strings.Join(argv, " ") != "-H 127.0.0.1 -p "+m.Port() {
			t.Fatalf("argv %q", argv)
		}
		out := expect(t, smtptest.Case{Args: argv, Status: checkers.OK, Output: `^SMTP OK: `})
		m.AssertDone(t, out)
	})

	full := func(port, ignoreQuit string) map[string]string {
		return map[string]string{
			"smtp_ipv4": "true", "smtp_address": "127.0.0.1", "smtp_port": port,
			"smtp_mail_from": "<icinga@example.test>", "smtp_expect": "ESMTP",
			"smtp_command": "VRFY postmaster", "smtp_response": "^252",
			"smtp_helo_fqdn": "icinga.example.test",
			"smtp_authtype":  "LOGIN", "smtp_authuser": "icinga", "smtp_authpass": "s3cret",
			"smtp_ignore_quit": ignoreQuit, "smtp_warning": "3", "smtp_critical": "5", "smtp_timeout": "10",
		}
	}
	// The server answers QUIT with an error, which -q true must ignore.
	fullScript := smtptest.Script("S: 220 mx.example.test ESMTP Postfix", "C: EHLO icinga\\.example\\.test",
		"S: 250-mx.example.test", "S: 250 AUTH LOGIN PLAIN", authLogin,
		// check_smtp strips the angle brackets of -f; so does check-smtp.
		"C: MAIL FROM:<icinga@example\\.test>", "S: 250 2.1.0 Ok",
		"C: VRFY postmaster", "S: 252 2.0.0 postmaster", "C: RSET", "S: 250 2.0.0 Ok",
		"C: QUIT", "S: 451 4.3.0 not now")

	t.Run("service with every plain-text argument, smtp_ignore_quit = true", func(t *testing.T) {
		t.Parallel()
		m := smtptest.Start(t, fullScript...)
		argv := itl(full(m.Port(), "true"))
		want := "-4 -A LOGIN -C VRFY postmaster -F icinga.example.test -H 127.0.0.1 -P s3cret -R ^252 -U icinga -c 5 -e ESMTP -f <icinga@example.test> -p " + m.Port() + " -q true -t 10 -w 3"
		if strings.Join(argv, " ") != want {
			t.Fatalf("argv %q\nwant %q", strings.Join(argv, " "), want)
		}
		out := expect(t, smtptest.Case{
			Args:   argv,
			Status: checkers.OK, Output: `^SMTP OK: \S+ response time, mx\.example\.test ESMTP Postfix \| time=\S+;3;5;0 connect=\S+ banner=\S+ ehlo=\S+ auth=\S+ mail=\S+ command=\S+ rset=\S+ quit=\S+\n$`,
		})
		m.AssertDone(t, out)
	})
	t.Run("smtp_ignore_quit = false keeps the QUIT check", func(t *testing.T) {
		t.Parallel()
		m := smtptest.Start(t, fullScript...)
		out := expect(t, smtptest.Case{
			Args:   itl(full(m.Port(), "false")),
			Status: checkers.WARNING, Output: `^SMTP WARNING: QUIT refused: 451 4\.3\.0 not now -- `,
		})
		m.AssertDone(t, out)
	})
	t.Run("the -R mismatch is WARNING as in check_smtp", func(t *testing.T) {
		t.Parallel()
		m := smtptest.Start(t, fullScript...)
		vars := full(m.Port(), "true")
		vars["smtp_response"] = "^250"
		out := expect(t, smtptest.Case{
			Args:   itl(vars),
			Status: checkers.WARNING, Output: `^SMTP WARNING: reply to -C "VRFY postmaster" does not match -R "\^250": 252 2\.0\.0 postmaster -- `,
		})
		m.AssertDone(t, out)
	})

	cert, caFile := compatCert(t)
	tlsScript := smtptest.Script("S: 220 mx.example.test ESMTP", "C: EHLO .+", "S: 250-mx.example.test", "S: 250 STARTTLS",
		"C: STARTTLS", "S: 220 2.0.0 Ready", "TLS", "C: EHLO .+", "S: 250 mx.example.test", smtptest.Tail())
	tlsVars := func(port string) map[string]string {
		return map[string]string{"smtp_address": "127.0.0.1", "smtp_port": port, "smtp_starttls": "true",
			"smtp_certificate_age": "30,14", "smtp_timeout": "10"}
	}
	t.Run("STARTTLS with certificate age, CA added by the operator", func(t *testing.T) {
		t.Parallel()
		m := compatTLSMock(t, cert, tlsScript)
		argv := append(itl(tlsVars(m.Port())), "--cafile", caFile)
		out := expect(t, smtptest.Case{
			Args:   argv,
			Status: checkers.OK, Output: `^SMTP OK: .*certificate expires in \d+ days \| .* cert_days=\d+;30:;14: chain_days=\d+;30:;14:\n$`,
		})
		m.AssertDone(t, out)
	})
	// Deliberate difference: check_smtp never verifies the certificate.
	t.Run("STARTTLS with an untrusted certificate is CRITICAL", func(t *testing.T) {
		t.Parallel()
		m := compatTLSMock(t, cert, tlsScript)
		expect(t, smtptest.Case{Args: itl(tlsVars(m.Port())), Status: checkers.CRITICAL, Output: `^SMTP CRITICAL: .*certificate`})
	})
	// Deliberate difference: check_smtp -D alone switches to implicit TLS on
	// port 465; here -D needs -s or -S.
	t.Run("certificate age without STARTTLS is UNKNOWN", func(t *testing.T) {
		t.Parallel()
		optionError(t, []string{"-D", "30,14"}, `-D needs -s or -S`)
	})
}

func TestCompatIcingaQuitValue(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		ignore bool
	}{
		{[]string{"-q"}, true},
		{[]string{"-q", "true"}, true},
		{[]string{"-q", "TRUE"}, true},
		{[]string{"--ignore-quit-failure", "true"}, true},
		{[]string{"-q", "false"}, false},
		{[]string{"-q", "-H", "127.0.0.1"}, true},
		{nil, false},
	} {
		cfg, err := parseArgs(tc.args, processEnviron())
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
		} else if cfg.judge.ignoreQuit != tc.ignore || cfg.target.Host != "localhost" && cfg.target.Host != "127.0.0.1" {
			t.Errorf("%q: ignoreQuit %v (want %v), host %q", tc.args, cfg.judge.ignoreQuit, tc.ignore, cfg.target.Host)
		}
	}
	// After "--" nothing is an option: "true" there is the host.
	if cfg, err := parseArgs([]string{"-q", "--", "true"}, processEnviron()); err != nil || !cfg.judge.ignoreQuit || cfg.target.Host != "true" {
		t.Errorf(`-q -- true: %+v, %v`, cfg, err)
	}
}
