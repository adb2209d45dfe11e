package checksmtp

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mackerelio/checkers"

	"github.com/check-smtp/check-smtp/lib/internal/smtptest"
)

// TestReadmeRecipes runs every command line of README.md's recipes (the
// ```sh block after a "<!-- recipe: NAME -->" line) exactly as written,
// against go-smtp or the scripted mock: a dialer routes the recipe's host
// and port (or socket path) to the double, SSL_CERT_FILE is the test CA
// (the double's certificate is issued for the recipe's names), and the
// password file the recipes name is a temporary one.
func TestReadmeRecipes(t *testing.T) {
	recipes := readmeRecipes(t)
	ca := smtptest.NewCerts(t)
	names := []string{"mx.example.com", "mail.example.com"}
	certFor := func(days int) tls.Certificate {
		now := time.Now()
		return ca.Leaf(t, "mail.example.com", names, nil, now.Add(-smtptest.Day), now.Add(time.Duration(days)*smtptest.Day+time.Hour), false)
	}
	pwFile := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(pwFile, []byte(recipePassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	// A run is one command line of a recipe (line, from 0) against one double.
	type run struct {
		line   int
		what   string
		routes func(t *testing.T) map[string]string // recipe address -> double
		status checkers.Status
		output string // regexp over stdout
	}
	goSMTP := func(cert *tls.Certificate, implicit bool, local ...string) func(t *testing.T) string {
		return func(t *testing.T) string { return startRecipeGoSMTP(t, cert, implicit, local...) }
	}
	route := func(addr string, start func(t *testing.T) string) func(t *testing.T) map[string]string {
		return func(t *testing.T) map[string]string { return map[string]string{addr: "127.0.0.1:" + start(t)} }
	}
	mock := func(cert tls.Certificate, sc ...any) func(t *testing.T) string {
		return func(t *testing.T) string {
			return smtptest.ServeTLS(t, smtptest.ListenLoopback(t, "127.0.0.1"), smtptest.ServerTLS(cert), smtptest.Script(sc...)).Port()
		}
	}
	cert365, cert20, cert5 := certFor(365), certFor(20), certFor(5)
	quit := smtptest.Quit()
	// How each recipe's command lines must end against each double.
	want := map[string][]run{
		"mx-starttls": {{0, "go-smtp offering STARTTLS on 25",
			route("mx.example.com:25", goSMTP(&cert365, false)), checkers.OK,
			`^SMTP OK: \S+ response time, gosmtp\.example\.test ESMTP Service Ready, TLS 1\.3, \S+, certificate expires in 365 days \| time=\S+;2;5;0 connect=\S+ banner=\S+ ehlo=\S+ starttls=\S+ tls=\S+ mail=\S+ rset=\S+ quit=\S+ cert_days=365;30:;14: chain_days=365;30:;14:\n$`}},
		"submission-587": {{0, "go-smtp on 587 with AUTH PLAIN after STARTTLS",
			route("mail.example.com:587", goSMTP(&cert365, false, "postmaster@example.com")), checkers.OK,
			` ehlo=\S+ starttls=\S+ tls=\S+ auth=\S+ mail=\S+ rcpt=\S+ rset=\S+ quit=\S+ cert_days=365 chain_days=365\n$`}},
		"smtps-465": {
			{0, "go-smtp with implicit TLS, AUTH PLAIN", route("mail.example.com:465", goSMTP(&cert365, true)), checkers.OK,
				` connect=\S+ tls=\S+ banner=\S+ ehlo=\S+ auth=\S+ mail=\S+ rset=\S+ quit=\S+ cert_days=365 chain_days=365\n$`},
			{1, "a 465 refusing MAIL without AUTH: --quit-after ehlo never sends it",
				route("mail.example.com:465", mock(cert365, "TLS", smtptest.Greeting(), quit)), checkers.OK,
				` connect=\S+ tls=\S+ banner=\S+ ehlo=\S+ quit=\S+ cert_days=365;30:;14: chain_days=365;30:;14:\n$`},
		},
		"certificate-expiry": {
			{0, "365 days left", route("mx.example.com:25", mock(cert365, smtptest.STARTTLS(), quit)), checkers.OK, `^SMTP OK: .*, certificate expires in 365 days \|`},
			{0, "20 days left", route("mx.example.com:25", mock(cert20, smtptest.STARTTLS(), quit)), checkers.WARNING, `^SMTP WARNING: certificate expires in 20 days \(NotAfter \S+\), fewer than 30 -- `},
			{0, "5 days left", route("mx.example.com:25", mock(cert5, smtptest.STARTTLS(), quit)), checkers.CRITICAL, `^SMTP CRITICAL: certificate expires in 5 days \(NotAfter \S+\), fewer than 14 -- `},
		},
		"lmtp-socket": {{0, "LMTP on a unix socket",
			func(t *testing.T) map[string]string {
				ln, path := smtptest.UnixListener(t)
				smtptest.Serve(t, ln, smtptest.Script(smtptest.LMTPGreeting(), "C: MAIL FROM:<>", "S: 250 2.1.0 OK", "C: RCPT TO:<postmaster@example\\.com>", "S: 250 2.1.5 OK", smtptest.RsetOK(), smtptest.Quit()))
				return map[string]string{"/run/dovecot/lmtp": path}
			}, checkers.OK, `^SMTP OK: \S+ response time, lmtp\.example\.test Dovecot ready\. \| time=\S+ connect=\S+ banner=\S+ ehlo=\S+ mail=\S+ rcpt=\S+ rset=\S+ quit=\S+\n$`}},
		"open-relay": {
			{0, "relaying refused: OK", route("mx.example.com:25", goSMTP(nil, false, "postmaster@example.com")), checkers.OK, `^SMTP OK: .* rcpt=\S+ rset=`},
			{0, "relaying accepted: CRITICAL", route("mx.example.com:25", goSMTP(nil, false, "postmaster@example.com", "relay-test@example.net")), checkers.CRITICAL,
				`^SMTP CRITICAL: RCPT TO:<relay-test@example\.net> accepted, expected a rejection: 250 `},
		},
	}

	for name := range want {
		if _, ok := recipes[name]; !ok {
			t.Errorf("recipe %q is not in README.md", name)
		}
	}
	for name, lines := range recipes {
		runs, ok := want[name]
		if !ok {
			t.Errorf("README.md recipe %q has no test here", name)
			continue
		}
		covered := make([]bool, len(lines))
		for _, r := range runs {
			if r.line >= len(lines) {
				t.Errorf("README.md recipe %q has %d command lines, the test runs line %d", name, len(lines), r.line+1)
				continue
			}
			covered[r.line] = true
		}
		for i, c := range covered {
			if !c {
				t.Errorf("README.md recipe %q: command line %d is not run by the test", name, i+1)
			}
		}
		for _, r := range runs {
			if r.line >= len(lines) {
				continue
			}
			line := lines[r.line]
			t.Run(name+"/"+r.what, func(t *testing.T) {
				args := strings.Fields(strings.TrimPrefix(line, "check-smtp "))
				for j, a := range args {
					if a == recipePasswordFile {
						args[j] = pwFile
					}
				}
				env := processEnviron()
				env.dialer = recipeDialer{routes: r.routes(t)}
				env.getenv = func(k string) string {
					if k == "SSL_CERT_FILE" {
						return ca.CAFile
					}
					return ""
				}
				smtptest.Expect(t, checkIn(env), smtptest.Case{Args: args, Status: r.status, Output: r.output})
			})
		}
	}
}

// The account and password file the recipes use.
const (
	recipeUser         = "monitor@example.com"
	recipePassword     = "recipe-pa55"
	recipePasswordFile = "/etc/check-smtp/password"
)

// readmeRecipes maps each recipe name to its command lines.
func readmeRecipes(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	marker := regexp.MustCompile(`(?m)^<!-- recipe: ([a-z0-9-]+) -->\n+` + "```sh\n" + `((?s:.*?))` + "```")
	out := map[string][]string{}
	for _, m := range marker.FindAllStringSubmatch(string(b), -1) {
		for _, l := range strings.Split(m[2], "\n") {
			if strings.HasPrefix(l, "check-smtp ") {
				if strings.ContainsAny(l, `"'$\`) {
					t.Errorf("recipe %s: %q needs a shell to read, keep recipes to plain words", m[1], l)
				}
				out[m[1]] = append(out[m[1]], l)
			}
		}
		if len(out[m[1]]) == 0 {
			t.Errorf("recipe %s has no check-smtp command line", m[1])
		}
	}
	if len(out) == 0 {
		t.Fatal("README.md has no recipes")
	}
	return out
}

// recipeDialer connects a recipe's address to its double and refuses any
// other: a recipe must reach only what the test gave it.
type recipeDialer struct{ routes map[string]string }

func (d recipeDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	to, ok := d.routes[address]
	if !ok {
		return nil, fmt.Errorf("recipe dialled %s %s, which the test does not serve", network, address)
	}
	if network != "unix" {
		network = "tcp"
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, to)
}

// startRecipeGoSMTP serves go-smtp on 127.0.0.1 with the recipes' account
// (AUTH PLAIN and LOGIN, over TLS only) and the local recipients given (no
// other RCPT is accepted); cert nil: no TLS at all.
func startRecipeGoSMTP(t *testing.T, cert *tls.Certificate, implicit bool, local ...string) string {
	t.Helper()
	be := &smtptest.Backend{User: recipeUser, Password: recipePassword, Local: append([]string{}, local...), Domain: "example.test"}
	return smtptest.StartGoSMTPWith(t, be, smtptest.GoSMTPConfig{Cert: cert, Implicit: implicit}).Port
}
