package checksmtp

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mackerelio/checkers"
)

// Certificate chains whose members expire at different times (issue #14):
// the whole verified chain is judged, at the current time.

// chainDates are the validity periods of a root, an intermediate and a
// leaf, as offsets from now.
type chainDates struct {
	rootFrom, rootTo   time.Duration
	interFrom, interTo time.Duration
	leafFrom, leafTo   time.Duration
}

// testChain is a leaf served with its intermediate, and the root as a CA
// file.
type testChain struct {
	cert   tls.Certificate
	caFile string
}

func newTestChain(t *testing.T, d chainDates) testChain {
	t.Helper()
	now := time.Now()
	c := &testCerts{}
	root := c.leafTemplate(t, "check-smtp chain root", nil, nil, now.Add(d.rootFrom), now.Add(d.rootTo))
	root.IsCA, root.BasicConstraintsValid = true, true
	root.KeyUsage, root.ExtKeyUsage = x509.KeyUsageCertSign, nil
	rootCert := c.sign(t, root, nil, nil)
	inter := c.leafTemplate(t, "check-smtp chain intermediate", nil, nil, now.Add(d.interFrom), now.Add(d.interTo))
	inter.IsCA, inter.BasicConstraintsValid = true, true
	inter.KeyUsage, inter.ExtKeyUsage = x509.KeyUsageCertSign, nil
	interCert := c.sign(t, inter, rootCert.Leaf, rootCert.PrivateKey.(*ecdsa.PrivateKey))
	leaf := c.leafTemplate(t, "localhost", certTestDNS, certTestIPs, now.Add(d.leafFrom), now.Add(d.leafTo))
	leafCert := c.sign(t, leaf, interCert.Leaf, interCert.PrivateKey.(*ecdsa.PrivateKey))
	leafCert.Certificate = append(leafCert.Certificate, interCert.Certificate[0])
	caFile := filepath.Join(t.TempDir(), "root.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rootCert.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	return testChain{cert: leafCert, caFile: caFile}
}

// day and an hour, so that whole-day arithmetic holds however long a test
// runs.
func days(n int) time.Duration { return time.Duration(n)*certTestDay + time.Hour }

func chainRun(t *testing.T, ch testChain, args []string, status checkers.Status, pattern string) string {
	t.Helper()
	m := serveTLSMock(t, listenLoopback(t, "127.0.0.1"), certTestServerTLS(ch.cert), script(scriptSTARTTLS, scriptEHLOAgain, scriptTail))
	full := append([]string{"-H", "127.0.0.1", "-p", m.port(), "-S", "--cafile", ch.caFile}, args...)
	out := expectRun(t, full, status, pattern)
	m.done()
	return out
}

// TestIgnoreExpirationReissuedIssuer: the leaf expired before its issuer's
// certificate was (re)issued; --ignore-certificate-expiration forgives the
// leaf's expiry only, the rest is verified now.
func TestIgnoreExpirationReissuedIssuer(t *testing.T) {
	// The leaf ran from 90 to 30 days ago; the intermediate was issued 10
	// days ago and runs for a year.
	reissued := chainDates{rootFrom: -days(400), rootTo: days(3650), interFrom: -days(10), interTo: days(365), leafFrom: -days(90), leafTo: -days(30)}
	t.Run("with --ignore-certificate-expiration: OK", func(t *testing.T) {
		t.Parallel()
		chainRun(t, newTestChain(t, reissued), []string{"--ignore-certificate-expiration"}, checkers.OK,
			`^SMTP OK: .* cert_days=-31 chain_days=-31\n$`)
	})
	t.Run("without it: the leaf's expiry, not a verification error", func(t *testing.T) {
		t.Parallel()
		chainRun(t, newTestChain(t, reissued), nil, checkers.CRITICAL,
			`^SMTP CRITICAL: certificate expired 30 days ago \(NotAfter [^)]+\) -- `)
	})
	t.Run("an expired intermediate is not forgiven, and is named", func(t *testing.T) {
		t.Parallel()
		ch := newTestChain(t, chainDates{rootFrom: -days(400), rootTo: days(3650), interFrom: -days(400), interTo: -days(5), leafFrom: -days(90), leafTo: -days(30)})
		chainRun(t, ch, []string{"--ignore-certificate-expiration"}, checkers.CRITICAL,
			`^SMTP CRITICAL: intermediate certificate "CN=check-smtp chain intermediate" not valid at this time \(NotBefore [^,]+, NotAfter [^)]+\) -- `)
	})
	t.Run("a name mismatch is not forgiven", func(t *testing.T) {
		t.Parallel()
		chainRun(t, newTestChain(t, reissued), []string{"--ignore-certificate-expiration", "--sni=wrong.example"}, checkers.CRITICAL,
			`^SMTP CRITICAL: certificate is issued for localhost, 127\.0\.0\.1, ::1, not wrong\.example \(use --sni=NAME or -k\) -- `)
	})
}

// TestChainExpiry: -D judges the leaf, the intermediates and the anchor;
// chain_days is the fewest days left in the chain.
func TestChainExpiry(t *testing.T) {
	long := chainDates{rootFrom: -days(400), rootTo: days(3650), interFrom: -days(400), interTo: days(1000), leafFrom: -days(1), leafTo: days(200)}
	for _, tc := range []struct {
		name    string
		dates   func(chainDates) chainDates
		args    []string
		status  checkers.Status
		pattern string
	}{
		{"all far off: OK, chain_days is the leaf's", func(d chainDates) chainDates { return d }, []string{"-D", "30,14"}, checkers.OK,
			`^SMTP OK: .*certificate expires in 200 days \| .* cert_days=200;30:;14: chain_days=200;30:;14:\n$`},
		{"intermediate first: CRITICAL naming it", func(d chainDates) chainDates { d.interTo = days(5); return d }, []string{"-D", "30,14"}, checkers.CRITICAL,
			`^SMTP CRITICAL: intermediate certificate "CN=check-smtp chain intermediate" expires in 5 days \(NotAfter [^)]+\), fewer than 14 -- .*certificate expires in 200 days \| .* cert_days=200;30:;14: chain_days=5;30:;14:\n$`},
		{"root first: WARNING naming it", func(d chainDates) chainDates { d.rootTo = days(20); return d }, []string{"-D", "30,14"}, checkers.WARNING,
			`^SMTP WARNING: root certificate "CN=check-smtp chain root" expires in 20 days \(NotAfter [^)]+\), fewer than 30 -- .* cert_days=200;30:;14: chain_days=20;30:;14:\n$`},
		{"without -D: chain_days only", func(d chainDates) chainDates { d.rootTo = days(20); return d }, nil, checkers.OK,
			` cert_days=200 chain_days=20\n$`},
		{"leaf first: the leaf", func(d chainDates) chainDates { d.leafTo = days(3); return d }, []string{"-D", "30,14"}, checkers.CRITICAL,
			`^SMTP CRITICAL: certificate expires in 3 days \(NotAfter [^)]+\), fewer than 14 -- .* chain_days=3;30:;14:\n$`},
		{"-k: the chain as presented (no root)", func(d chainDates) chainDates { d.rootTo = days(20); d.interTo = days(50); return d }, []string{"-k", "-D", "30,14"}, checkers.OK,
			` cert_days=200;30:;14: chain_days=50;30:;14:\n$`},
		{"-k: an intermediate as presented", func(d chainDates) chainDates { d.interTo = days(10); return d }, []string{"-k", "-D", "30,14"}, checkers.CRITICAL,
			`^SMTP CRITICAL: intermediate certificate "CN=check-smtp chain intermediate" expires in 10 days .*, fewer than 14 -- `},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := tc.args
			chainRun(t, newTestChain(t, tc.dates(long)), args, tc.status, tc.pattern)
		})
	}
}

// TestCertificateWording: the days left read "expires in N days", and a
// certificate that failed verification is never called valid.
func TestCertificateWording(t *testing.T) {
	c := newTestCerts(t)
	for _, tc := range []struct {
		name string
		cert tls.Certificate
		args []string
	}{
		{"unknown authority", c.valid, nil},
		{"wrong name", c.wrongName, []string{"--cafile", c.caFile}},
		{"self-signed", c.selfSigned, []string{"--cafile", c.caFile}},
		{"not yet valid", c.notYetValid, []string{"--cafile", c.caFile}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := serveTLSMock(t, listenLoopback(t, "127.0.0.1"), certTestServerTLS(tc.cert), script("TLS", "HANG"))
			out := expectRun(t, append([]string{"-H", "localhost", "-4", "-p", m.port(), "-s"}, tc.args...), checkers.CRITICAL, `^SMTP CRITICAL: `)
			msg, _, _ := strings.Cut(out, " | ")
			if regexp.MustCompile(`(^|[^t] )valid\b`).MatchString(msg) {
				t.Errorf("a certificate that failed verification is described as valid: %s", out)
			}
		})
	}
	t.Run("OK summary", func(t *testing.T) {
		t.Parallel()
		m := serveTLSMock(t, listenLoopback(t, "127.0.0.1"), certTestServerTLS(c.valid), script("TLS", scriptGreeting, scriptTail))
		out := expectRun(t, []string{"-H", "127.0.0.1", "-p", m.port(), "-s", "--cafile", c.caFile}, checkers.OK, `, certificate expires in 364 days \| `)
		if strings.Contains(out, "valid") {
			t.Errorf("'valid' in %s", out)
		}
	})
}
