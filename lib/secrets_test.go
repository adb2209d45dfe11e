package checksmtp

import (
	"bufio"
	"crypto/hmac"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/check-smtp/check-smtp/lib/internal/text"
	"github.com/mackerelio/checkers"

	"github.com/check-smtp/check-smtp/lib/internal/smtptest"
)

// The credentials of every secrets test. The password holds a "|" and a
// space: redaction must happen before sanitizing (which turns "|" into "¦")
// and before quoting cuts the text, or a mangled form slips through.
const (
	secretUser      = "alice"
	secretPassword  = "s3cr|t pa55 w0rd"
	secretChallenge = "<1896.697170952@mx.example.test>"
)

// secretForms lists every form of the credentials that must never be seen:
// the password raw and sanitized, the base64 of each AUTH payload (without
// padding, so an echo that drops the "=" is caught too), the CRAM-MD5 digest.
func secretForms() map[string]string {
	b64 := func(s string) string {
		return strings.TrimRight(base64.StdEncoding.EncodeToString([]byte(s)), "=")
	}
	mac := hmac.New(md5.New, []byte(secretPassword))
	mac.Write([]byte(secretChallenge))
	digest := hex.EncodeToString(mac.Sum(nil))
	plain := "\x00" + secretUser + "\x00" + secretPassword
	return map[string]string{
		"password":                   secretPassword,
		"sanitized password":         text.Sanitize(secretPassword),
		"password without the pipe":  "t pa55 w0rd",
		"base64 password (LOGIN)":    b64(secretPassword),
		"base64 PLAIN payload":       b64(plain),
		"base64 PLAIN payload, head": b64(plain)[:12],
		"base64 user (LOGIN)":        b64(secretUser),
		"CRAM-MD5 digest":            digest,
		"CRAM-MD5 digest, head":      digest[:12],
		"base64 CRAM-MD5 response":   b64(secretUser + " " + digest),
		"base64 CRAM-MD5, head":      b64(secretUser + " " + digest)[:12],
	}
}

// secretValues is every form of the credentials, for Case.Absent.
func secretValues() []string {
	var forms []string
	for _, f := range secretForms() {
		forms = append(forms, f)
	}
	return forms
}

// assertNoSecret scans every byte of out for every form of the credentials.
func assertNoSecret(t *testing.T, what, out string) {
	t.Helper()
	for name, form := range secretForms() {
		if strings.Contains(out, form) {
			t.Errorf("%s shows the %s %q:\n%s", what, name, form, out)
		}
	}
}

// authBehaviour is what the secrets server does with the AUTH exchange.
type authBehaviour int

const (
	authAccept        authBehaviour = iota // 235
	authRefuse                             // 535, nothing echoed
	authEchoError                          // 535 quoting every base64 line received
	authEchoDecoded                        // 535 quoting every line received, base64-decoded
	authEchoCut                            // 535 whose quoted text is cut inside the echo
	authEcho334                            // echoes each payload back as a 334 challenge
	authEcho334Text                        // a 334 "challenge" that is not base64 and quotes the decoded payload
	authEchoMalformed                      // a malformed reply line quoting the decoded payload
	authEchoLong                           // a reply line over 2000 bytes that ends with the payload
)

var authBehaviours = map[string]authBehaviour{
	"accept": authAccept, "refuse": authRefuse, "echo in 535": authEchoError,
	"echo decoded in 535": authEchoDecoded, "echo at the quoting cut": authEchoCut,
	"echo as 334": authEcho334, "echo decoded in a non-base64 334": authEcho334Text,
	"echo decoded in a malformed reply": authEchoMalformed, "echo in an overlong line": authEchoLong,
}

// startSecretsServer serves one SMTP conversation offering PLAIN, LOGIN and
// CRAM-MD5, handling AUTH as behaviour says. It returns the port.
func startSecretsServer(t *testing.T, behaviour authBehaviour) string {
	t.Helper()
	return smtptest.ServeOnce(t, func(conn net.Conn) { serveSecrets(conn, behaviour) })
}

func serveSecrets(conn net.Conn, behaviour authBehaviour) {
	r := bufio.NewReader(conn)
	say := func(format string, a ...any) { fmt.Fprintf(conn, format+"\r\n", a...) }
	hear := func() (string, bool) {
		l, err := r.ReadString('\n')
		return strings.TrimRight(l, "\r\n"), err == nil
	}
	decode := func(s string) string {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return s
		}
		return string(b)
	}
	say("220 mx.example.test ESMTP")
	for {
		line, ok := hear()
		if !ok {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			say("250-mx.example.test")
			say("250 AUTH PLAIN LOGIN CRAM-MD5")
		case "AUTH":
			mech, ir, _ := strings.Cut(arg, " ")
			var got []string // base64 lines from the client
			if ir != "" {
				got = append(got, ir)
			}
			prompts := map[string][]string{
				"PLAIN":    nil,
				"LOGIN":    {"VXNlcm5hbWU6", "UGFzc3dvcmQ6"},
				"CRAM-MD5": {base64.StdEncoding.EncodeToString([]byte(secretChallenge))},
			}[mech]
			if mech == "PLAIN" && ir == "" {
				prompts = []string{""}
			}
			aborted := false
			for _, p := range prompts {
				say("334 %s", p)
				l, ok := hear()
				if !ok {
					return
				}
				if l == "*" {
					aborted = true
					break
				}
				got = append(got, l)
			}
			if aborted {
				say("501 5.7.0 AUTH aborted")
				continue
			}
			var decoded []string
			for _, g := range got {
				decoded = append(decoded, decode(g))
			}
			switch behaviour {
			case authAccept:
				say("235 2.7.0 Authentication successful")
			case authRefuse:
				say("535 5.7.8 Authentication credentials invalid")
			case authEchoError:
				say("535 5.7.8 bad credentials %s", strings.Join(got, " "))
			case authEchoDecoded:
				say("535 5.7.8 bad credentials %s", strings.Join(decoded, " "))
			case authEchoCut:
				// The message quotes "535 5.7.8 x...": put the echo where a
				// 300-character cut falls, 12 characters into it.
				pad := strings.Repeat("x", text.MaxQuoted-len("535 5.7.8 ")-12)
				say("535 5.7.8 %s%s", pad, strings.Join(got, " "))
			case authEcho334:
				for _, g := range got {
					say("334 %s", g)
					if l, ok := hear(); !ok || l == "*" {
						break
					}
				}
				say("535 5.7.8 no")
			case authEcho334Text:
				say("334 you said: %s", strings.Join(decoded, " "))
				if _, ok := hear(); !ok {
					return
				}
				say("501 5.7.0 aborted")
			case authEchoMalformed:
				say("what is %s", strings.Join(decoded, " "))
			case authEchoLong:
				say("535 %s %s", strings.Repeat("y", 2100), strings.Join(got, " "))
			}
		case "MAIL", "RCPT", "RSET", "NOOP":
			say("250 2.0.0 Ok")
		case "QUIT":
			say("221 2.0.0 Bye")
			return
		default:
			say("500 5.5.1 unknown command")
		}
	}
}

// TestSecretsNeverShown runs every mechanism with -v against every server
// behaviour and scans the whole stdout for the credentials.
func TestSecretsNeverShown(t *testing.T) {
	t.Parallel()
	pwFile := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(pwFile, []byte(secretPassword+"\nsecond line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sources := map[string][]string{
		"-P":                  {"-P", secretPassword},
		"--authpassword-file": {"--authpassword-file", pwFile},
	}
	for _, mech := range []string{"PLAIN", "LOGIN", "CRAM-MD5"} {
		for bname, behaviour := range authBehaviours {
			for sname, source := range sources {
				if sname != "-P" && behaviour != authEchoDecoded {
					continue // the source does not change the exchange; one case is enough
				}
				t.Run(mech+"/"+bname+"/"+sname, func(t *testing.T) {
					t.Parallel()
					port := startSecretsServer(t, behaviour)
					args := append([]string{"-H", "127.0.0.1", "-p", port, "-t", "5", "-v", "-A", mech, "-U", secretUser}, source...)
					want := checkers.CRITICAL
					if behaviour == authAccept {
						want = checkers.OK
					}
					// The transcript has the AUTH line, and no form of the credentials.
					expect(t, smtptest.Case{Args: args, Status: want, Output: `\nC: AUTH ` + mech, Absent: secretValues()})
				})
			}
		}
	}
}

// TestSecretsInUsageErrors: option errors around the password never quote
// it, whatever carried it.
func TestSecretsInUsageErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "password")
	emptyFirst := filepath.Join(dir, "empty-first-line")
	ini := filepath.Join(dir, "plugins.ini")
	badIni := filepath.Join(dir, "bad.ini")
	for f, body := range map[string]string{
		pwFile:     secretPassword + "\n",
		emptyFirst: "\n" + secretPassword + "\n",
		ini:        "[check_smtp]\nauthpassword = " + secretPassword + "\nbogus-option = 1\n",
		badIni:     "[check_smtp]\nauthpassword: " + secretPassword + "\n",
	} {
		if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{
		{"-A", "PLAIN", "-P", secretPassword},                     // no -U
		{"-A", "XOAUTH2", "-U", secretUser, "-P", secretPassword}, // unsupported mechanism
		{"-A", "PLAIN", "--authpassword-file", pwFile},
		{"-A", "PLAIN", "-U", secretUser, "--authpassword-file", emptyFirst},
		{"-A", "PLAIN", "-U", secretUser, "--authpassword-file", filepath.Join(dir, "missing")},
		{"-A", "PLAIN", "-U", secretUser, "-P", secretPassword, "-H", "192.0.2.1"}, // cleartext to a non-loopback host
		{"-A", "PLAIN", "-U", secretUser, "-P", secretPassword, "-t", "soon"},
		{"-A", "PLAIN", "-U", secretUser, "-P", secretPassword, "--bogus"},
		{"-A", "PLAIN", "-U", secretUser, "--extra-opts=check_smtp@" + ini},
		{"-A", "PLAIN", "-U", secretUser, "--extra-opts=check_smtp@" + badIni},
	} {
		expect(t, smtptest.Case{Args: args, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: `, Absent: secretValues()})
	}
}

// TestRedactBeforeSanitize: the render step finds a password holding "|"
// and control characters before they are rewritten.
func TestRedactBeforeSanitize(t *testing.T) {
	t.Parallel()
	pw := "a|b\x1bc d"
	got := text.Line("535 bad "+pw+" end", []string{pw})
	if got != "535 bad <redacted> end" {
		t.Errorf("got %q", got)
	}
}
