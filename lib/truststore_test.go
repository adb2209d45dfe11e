package checksmtp

import (
	"bytes"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/mackerelio/checkers"

	"github.com/check-smtp/check-smtp/lib/internal/smtptest"
)

// A system bundle of the size of a distribution's (150 roots) with the test
// CA among them, passed as SSL_CERT_FILE, verifies the server without
// --cafile through the whole check (the trust store parses only the roots
// the chain names); the same bundle without the CA does not, whether the CA
// would have been first, in the middle or last. SSL_CERT_DIR names an
// empty directory, so that the machine's own roots stay out of it. Not
// parallel: t.Setenv.
func TestSystemStoreOf150Roots(t *testing.T) {
	certs := smtptest.NewCerts(t)
	caPEM, err := os.ReadFile(certs.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	var fillers [][]byte
	for i := range 150 {
		fillers = append(fillers, fillerRoot(t, i))
	}
	dir := t.TempDir()
	bundle := func(name string, at int) string {
		var b bytes.Buffer
		for i, f := range fillers {
			if i == at {
				b.Write(caPEM)
			}
			b.Write(f)
		}
		if at == len(fillers) {
			b.Write(caPEM)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	emptyDir := filepath.Join(dir, "certs")
	if err := os.Mkdir(emptyDir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SSL_CERT_DIR", emptyDir)
	for _, at := range []int{0, 75, 150} {
		t.Run(fmt.Sprintf("the CA at position %d of 151", at), func(t *testing.T) {
			t.Setenv("SSL_CERT_FILE", bundle(fmt.Sprintf("with-ca-%d.pem", at), at))
			expect(t, smtptest.Case{
				Script: smtptest.Script(smtptest.STARTTLS(), smtptest.EHLOAgain(), smtptest.Tail()), TLS: smtptest.ServerTLS(certs.Valid),
				Args:   []string{"-S"},
				Status: checkers.OK, Output: `^SMTP OK: .*certificate expires in`,
			})
		})
	}
	t.Run("150 roots without the CA", func(t *testing.T) {
		t.Setenv("SSL_CERT_FILE", bundle("without-ca.pem", -1))
		expect(t, smtptest.Case{
			Script: smtptest.Script(smtptest.STARTTLS()), TLS: smtptest.ServerTLS(certs.Valid),
			Args:   []string{"-S"},
			Status: checkers.CRITICAL, Output: `^SMTP CRITICAL: certificate signed by unknown authority \(issuer "CN=check-smtp test CA"\): not anchored by the system roots \(use --cafile or -k\)`,
		})
	})
	t.Run("the CA in the directory, 150 roots in the bundle", func(t *testing.T) {
		t.Setenv("SSL_CERT_FILE", bundle("without-ca-2.pem", -1))
		certDir := filepath.Join(dir, "hashed")
		if err := os.Mkdir(certDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(certDir, "test-ca.pem"), caPEM, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Setenv("SSL_CERT_DIR", certDir)
		expect(t, smtptest.Case{
			Script: smtptest.Script(smtptest.STARTTLS(), smtptest.EHLOAgain(), smtptest.Tail()), TLS: smtptest.ServerTLS(certs.Valid),
			Args:   []string{"-S"},
			Status: checkers.OK, Output: `^SMTP OK: `,
		})
	})
}

// fillerRoot is a self-signed CA certificate named after i, as PEM.
func fillerRoot(t testing.TB, i int) []byte {
	t.Helper()
	root := smtptest.NewRoot(t, pkix.Name{CommonName: fmt.Sprintf("Filler Root %03d", i), Organization: []string{"check-smtp test"}})
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Certificate[0]})
}
