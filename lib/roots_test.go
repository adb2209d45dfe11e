package checksmtp

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mackerelio/checkers"
)

// Without --cafile the system roots decide. The check tries the system
// bundle file first (SSL_CERT_FILE here) and the whole system pool only if
// the bundle does not anchor the chain. Not parallel: t.Setenv.
func TestSystemRootsBundleFirst(t *testing.T) {
	certs := newTestCerts(t)
	other := newTestCerts(t) // a CA that did not sign the server's certificate

	t.Run("a CA in the system bundle verifies without --cafile", func(t *testing.T) {
		t.Setenv("SSL_CERT_FILE", certs.caFile)
		m := serveTLSMock(t, listenLoopback(t, "127.0.0.1"), certTestServerTLS(certs.valid),
			script(scriptSTARTTLS, scriptEHLOAgain, scriptTail))
		tlsRun(t, certs, []string{"-H", "127.0.0.1", "-p", m.port(), "-S"}, checkers.OK, `^SMTP OK: .*certificate expires in`)
	})

	t.Run("a bundle without the CA falls back to the system pool, which lacks it too", func(t *testing.T) {
		t.Setenv("SSL_CERT_FILE", other.caFile)
		m := serveTLSMock(t, listenLoopback(t, "127.0.0.1"), certTestServerTLS(certs.valid),
			script(scriptSTARTTLS))
		tlsRun(t, certs, []string{"-H", "127.0.0.1", "-p", m.port(), "-S"}, checkers.CRITICAL,
			`^SMTP CRITICAL: certificate signed by unknown authority .*\(use --cafile or -k\)`)
	})

	t.Run("--cafile adds to the bundle: either CA verifies", func(t *testing.T) {
		t.Setenv("SSL_CERT_FILE", certs.caFile)
		m := serveTLSMock(t, listenLoopback(t, "127.0.0.1"), certTestServerTLS(certs.valid),
			script(scriptSTARTTLS, scriptEHLOAgain, scriptTail))
		tlsRun(t, certs, []string{"-H", "127.0.0.1", "-p", m.port(), "-S", "--cafile", other.caFile}, checkers.OK, `^SMTP OK: `)
	})

	t.Run("an unreadable bundle is skipped, not trusted", func(t *testing.T) {
		t.Setenv("SSL_CERT_FILE", filepath.Join(t.TempDir(), "missing.pem"))
		if _, err := os.Stat(os.Getenv("SSL_CERT_FILE")); err == nil {
			t.Fatal("bundle unexpectedly exists")
		}
		m := serveTLSMock(t, listenLoopback(t, "127.0.0.1"), certTestServerTLS(certs.valid),
			script(scriptSTARTTLS))
		tlsRun(t, certs, []string{"-H", "127.0.0.1", "-p", m.port(), "-S"}, checkers.CRITICAL,
			`^SMTP CRITICAL: certificate signed by unknown authority`)
	})
}
