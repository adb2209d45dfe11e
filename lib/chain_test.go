package checksmtp

import (
	"crypto/tls"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mackerelio/checkers"

	"github.com/check-smtp/check-smtp/lib/internal/smtptest"
)

// Certificate chains whose members expire at different times (issue #14):
// the whole verified chain is judged, at the current time.

// day and an hour, so that whole-day arithmetic holds however long a test
// runs.
func days(n int) time.Duration { return time.Duration(n)*smtptest.Day + time.Hour }

// chainRun serves ch with STARTTLS and runs the check with its root as
// --cafile.
func chainRun(t *testing.T, ch smtptest.Chain, args []string, status checkers.Status, pattern string) string {
	t.Helper()
	return expect(t, smtptest.Case{Script: smtptest.Script(smtptest.STARTTLS(), smtptest.EHLOAgain(), smtptest.Tail()), TLS: smtptest.ServerTLS(ch.Cert),
		Args: append([]string{"-S", "--cafile", ch.CAFile}, args...), Status: status, Output: pattern})
}

// TestIgnoreExpirationReissuedIssuer: the leaf expired before its issuer's
// certificate was (re)issued; --ignore-certificate-expiration forgives the
// leaf's expiry only, the rest is verified now.
func TestIgnoreExpirationReissuedIssuer(t *testing.T) {
	// The leaf ran from 90 to 30 days ago; the intermediate was issued 10
	// days ago and runs for a year.
	reissued := smtptest.ChainDates{RootFrom: -days(400), RootTo: days(3650), InterFrom: -days(10), InterTo: days(365), LeafFrom: -days(90), LeafTo: -days(30)}
	t.Run("with --ignore-certificate-expiration: OK", func(t *testing.T) {
		t.Parallel()
		chainRun(t, smtptest.NewChain(t, reissued), []string{"--ignore-certificate-expiration"}, checkers.OK,
			`^SMTP OK: .* cert_days=-31 chain_days=-31\n$`)
	})
	t.Run("without it: the leaf's expiry, not a verification error", func(t *testing.T) {
		t.Parallel()
		chainRun(t, smtptest.NewChain(t, reissued), nil, checkers.CRITICAL,
			`^SMTP CRITICAL: certificate expired 30 days ago \(NotAfter [^)]+\) -- `)
	})
	t.Run("an expired intermediate is not forgiven, and is named", func(t *testing.T) {
		t.Parallel()
		ch := smtptest.NewChain(t, smtptest.ChainDates{RootFrom: -days(400), RootTo: days(3650), InterFrom: -days(400), InterTo: -days(5), LeafFrom: -days(90), LeafTo: -days(30)})
		chainRun(t, ch, []string{"--ignore-certificate-expiration"}, checkers.CRITICAL,
			`^SMTP CRITICAL: intermediate certificate "CN=check-smtp chain intermediate" not valid at this time \(NotBefore [^,]+, NotAfter [^)]+\) -- `)
	})
	t.Run("a name mismatch is not forgiven", func(t *testing.T) {
		t.Parallel()
		chainRun(t, smtptest.NewChain(t, reissued), []string{"--ignore-certificate-expiration", "--sni=wrong.example"}, checkers.CRITICAL,
			`^SMTP CRITICAL: certificate is issued for localhost, 127\.0\.0\.1, ::1, not wrong\.example \(use --sni=NAME or -k\) -- `)
	})
}

// TestChainExpiry: -D judges the leaf, the intermediates and the anchor;
// chain_days is the fewest days left in the chain.
func TestChainExpiry(t *testing.T) {
	long := smtptest.ChainDates{RootFrom: -days(400), RootTo: days(3650), InterFrom: -days(400), InterTo: days(1000), LeafFrom: -days(1), LeafTo: days(200)}
	for _, tc := range []struct {
		name    string
		dates   func(smtptest.ChainDates) smtptest.ChainDates
		args    []string
		status  checkers.Status
		pattern string
	}{
		{"all far off: OK, chain_days is the leaf's", func(d smtptest.ChainDates) smtptest.ChainDates { return d }, []string{"-D", "30,14"}, checkers.OK,
			`^SMTP OK: .*certificate expires in 200 days \| .* cert_days=200;30:;14: chain_days=200;30:;14:\n$`},
		{"intermediate first: CRITICAL naming it", func(d smtptest.ChainDates) smtptest.ChainDates { d.InterTo = days(5); return d }, []string{"-D", "30,14"}, checkers.CRITICAL,
			`^SMTP CRITICAL: intermediate certificate "CN=check-smtp chain intermediate" expires in 5 days \(NotAfter [^)]+\), fewer than 14 -- .*certificate expires in 200 days \| .* cert_days=200;30:;14: chain_days=5;30:;14:\n$`},
		{"root first: WARNING naming it", func(d smtptest.ChainDates) smtptest.ChainDates { d.RootTo = days(20); return d }, []string{"-D", "30,14"}, checkers.WARNING,
			`^SMTP WARNING: root certificate "CN=check-smtp chain root" expires in 20 days \(NotAfter [^)]+\), fewer than 30 -- .* cert_days=200;30:;14: chain_days=20;30:;14:\n$`},
		{"without -D: chain_days only", func(d smtptest.ChainDates) smtptest.ChainDates { d.RootTo = days(20); return d }, nil, checkers.OK,
			` cert_days=200 chain_days=20\n$`},
		{"leaf first: the leaf", func(d smtptest.ChainDates) smtptest.ChainDates { d.LeafTo = days(3); return d }, []string{"-D", "30,14"}, checkers.CRITICAL,
			`^SMTP CRITICAL: certificate expires in 3 days \(NotAfter [^)]+\), fewer than 14 -- .* chain_days=3;30:;14:\n$`},
		{"-k: the chain as presented (no root)", func(d smtptest.ChainDates) smtptest.ChainDates { d.RootTo = days(20); d.InterTo = days(50); return d }, []string{"-k", "-D", "30,14"}, checkers.OK,
			` cert_days=200;30:;14: chain_days=50;30:;14:\n$`},
		{"-k: an intermediate as presented", func(d smtptest.ChainDates) smtptest.ChainDates { d.InterTo = days(10); return d }, []string{"-k", "-D", "30,14"}, checkers.CRITICAL,
			`^SMTP CRITICAL: intermediate certificate "CN=check-smtp chain intermediate" expires in 10 days .*, fewer than 14 -- `},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := tc.args
			chainRun(t, smtptest.NewChain(t, tc.dates(long)), args, tc.status, tc.pattern)
		})
	}
}

// TestCertificateWording: the days left read "expires in N days", and a
// certificate that failed verification is never called valid.
func TestCertificateWording(t *testing.T) {
	c := smtptest.NewCerts(t)
	for _, tc := range []struct {
		name string
		cert tls.Certificate
		args []string
	}{
		{"unknown authority", c.Valid, nil},
		{"wrong name", c.WrongName, []string{"--cafile", c.CAFile}},
		{"self-signed", c.SelfSigned, []string{"--cafile", c.CAFile}},
		{"not yet valid", c.NotYetValid, []string{"--cafile", c.CAFile}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := smtptest.ServeTLS(t, smtptest.ListenLoopback(t, "127.0.0.1"), smtptest.ServerTLS(tc.cert), smtptest.Script("TLS", "HANG"))
			out := expect(t, smtptest.Case{
				Args:   append([]string{"-H", "localhost", "-4", "-p", m.Port(), "-s"}, tc.args...),
				Status: checkers.CRITICAL, Output: `^SMTP CRITICAL: `,
			})
			msg, _, _ := strings.Cut(out, " | ")
			if regexp.MustCompile(`(^|[^t] )valid\b`).MatchString(msg) {
				t.Errorf("a certificate that failed verification is described as valid: %s", out)
			}
		})
	}
	t.Run("OK summary", func(t *testing.T) {
		t.Parallel()
		out := expect(t, smtptest.Case{
			Script: smtptest.Script("TLS", smtptest.Greeting(), smtptest.Tail()), TLS: smtptest.ServerTLS(c.Valid),
			Args:   []string{"-s", "--cafile", c.CAFile},
			Status: checkers.OK, Output: `, certificate expires in 364 days \| `,
		})
		if strings.Contains(out, "valid") {
			t.Errorf("'valid' in %s", out)
		}
	})
}
