package checksmtp

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mackerelio/checkers"

	"github.com/check-smtp/check-smtp/lib/internal/smtptest"
)

// Without --cafile the system roots decide. The check tries the system
// bundle file first (SSL_CERT_FILE here) and the whole system pool only if
// the bundle does not anchor the chain. Not parallel: t.Setenv.
func TestSystemRootsBundleFirst(t *testing.T) {
	certs := smtptest.NewCerts(t)
	other := smtptest.NewCerts(t) // a CA that did not sign the server's certificate

	t.Run("a CA in the system bundle verifies without --cafile", func(t *testing.T) {
		t.Setenv("SSL_CERT_FILE", certs.CAFile)
		expect(t, smtptest.Case{
			Script: smtptest.Script(smtptest.STARTTLS(), smtptest.EHLOAgain(), smtptest.Tail()), TLS: smtptest.ServerTLS(certs.Valid),
			Args:   []string{"-S"},
			Status: checkers.OK, Output: `^SMTP OK: .*certificate expires in`,
		})
	})

	t.Run("a bundle without the CA falls back to the system pool, which lacks it too", func(t *testing.T) {
		t.Setenv("SSL_CERT_FILE", other.CAFile)
		expect(t, smtptest.Case{
			Script: smtptest.Script(smtptest.STARTTLS()), TLS: smtptest.ServerTLS(certs.Valid),
			Args:   []string{"-S"},
			Status: checkers.CRITICAL, Output: `^SMTP CRITICAL: certificate signed by unknown authority .*\(use --cafile or -k\)`,
		})
	})

	t.Run("--cafile adds to the bundle: either CA verifies", func(t *testing.T) {
		t.Setenv("SSL_CERT_FILE", certs.CAFile)
		expect(t, smtptest.Case{
			Script: smtptest.Script(smtptest.STARTTLS(), smtptest.EHLOAgain(), smtptest.Tail()), TLS: smtptest.ServerTLS(certs.Valid),
			Args:   []string{"-S", "--cafile", other.CAFile},
			Status: checkers.OK, Output: `^SMTP OK: `,
		})
	})

	t.Run("an unreadable bundle is skipped, not trusted", func(t *testing.T) {
		t.Setenv("SSL_CERT_FILE", filepath.Join(t.TempDir(), "missing.pem"))
		if _, err := os.Stat(os.Getenv("SSL_CERT_FILE")); err == nil {
			t.Fatal("bundle unexpectedly exists")
		}
		expect(t, smtptest.Case{
			Script: smtptest.Script(smtptest.STARTTLS()), TLS: smtptest.ServerTLS(certs.Valid),
			Args:   []string{"-S"},
			Status: checkers.CRITICAL, Output: `^SMTP CRITICAL: certificate signed by unknown authority`,
		})
	})
}
