package checksmtp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/check-smtp/check-smtp/lib/internal/tlsverify"
)

// testCerts is a private CA and leaf certificates made at test time, so
// nothing in testdata can expire. Every leaf but wrongName is valid for
// localhost, 127.0.0.1 and ::1.
type testCerts struct {
	caFile string // the CA certificate as PEM in t.TempDir(), for --cafile
	caPool *x509.CertPool

	valid       tls.Certificate // signed by the CA, valid for a year
	wrongName   tls.Certificate // signed by the CA, valid only for wrong.example
	expired     tls.Certificate // signed by the CA, NotAfter 30 days (and an hour) ago
	selfSigned  tls.Certificate // its own issuer: unknown to any root pool
	chained     tls.Certificate // signed by an intermediate CA, served with it
	notYetValid tls.Certificate // signed by the CA, NotBefore tomorrow

	ca    *x509.Certificate
	caKey *ecdsa.PrivateKey
}

// loopbackNames are the names and addresses a "valid" leaf covers.
var (
	certTestDNS = []string{"localhost"}
	certTestIPs = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
)

const certTestDay = 24 * time.Hour

func newTestCerts(t testing.TB) *testCerts {
	t.Helper()
	now := time.Now()
	c := &testCerts{}
	c.caKey = certTestKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber:          certTestSerial(t),
		Subject:               pkix.Name{CommonName: "check-smtp test CA"},
		NotBefore:             now.Add(-365 * certTestDay),
		NotAfter:              now.Add(3650 * certTestDay),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &c.caKey.PublicKey, c.caKey)
	if err != nil {
		t.Fatal(err)
	}
	if c.ca, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	c.caPool = x509.NewCertPool()
	c.caPool.AddCert(c.ca)
	c.caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(c.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}

	c.valid = c.leaf(t, "localhost", certTestDNS, certTestIPs, now.Add(-certTestDay), now.Add(365*certTestDay), false)
	c.wrongName = c.leaf(t, "wrong.example", []string{"wrong.example"}, nil, now.Add(-certTestDay), now.Add(365*certTestDay), false)
	// An hour past the 30 days, so "30 days ago" holds however long the test runs.
	c.expired = c.leaf(t, "localhost", certTestDNS, certTestIPs, now.Add(-90*certTestDay), now.Add(-30*certTestDay-time.Hour), false)
	c.selfSigned = c.leaf(t, "localhost", certTestDNS, certTestIPs, now.Add(-certTestDay), now.Add(365*certTestDay), true)
	c.notYetValid = c.leaf(t, "localhost", certTestDNS, certTestIPs, now.Add(certTestDay), now.Add(365*certTestDay), false)

	// The intermediate is signed by the CA; the leaf by the intermediate.
	inter := c.leafTemplate(t, "check-smtp test intermediate", nil, nil, now.Add(-certTestDay), now.Add(3650*certTestDay))
	inter.IsCA, inter.BasicConstraintsValid = true, true
	inter.KeyUsage, inter.ExtKeyUsage = x509.KeyUsageCertSign, nil
	interCert := c.sign(t, inter, c.ca, c.caKey)
	leaf := c.leafTemplate(t, "localhost", certTestDNS, certTestIPs, now.Add(-certTestDay), now.Add(365*certTestDay))
	c.chained = c.sign(t, leaf, interCert.Leaf, interCert.PrivateKey.(*ecdsa.PrivateKey))
	c.chained.Certificate = append(c.chained.Certificate, interCert.Certificate[0])
	return c
}

// expiringIn is a CA-signed loopback leaf that expires in days whole days
// plus one hour: whole-day arithmetic gives exactly days for the next hour.
func (c *testCerts) expiringIn(t testing.TB, days int) tls.Certificate {
	t.Helper()
	now := time.Now()
	return c.leaf(t, "localhost", certTestDNS, certTestIPs, now.Add(-certTestDay), now.Add(time.Duration(days)*certTestDay+time.Hour), false)
}

// leaf makes a server certificate, signed by the CA or by itself.
func (c *testCerts) leaf(t testing.TB, cn string, dns []string, ips []net.IP, notBefore, notAfter time.Time, selfSigned bool) tls.Certificate {
	t.Helper()
	tmpl := c.leafTemplate(t, cn, dns, ips, notBefore, notAfter)
	if selfSigned {
		return c.sign(t, tmpl, nil, nil)
	}
	return c.sign(t, tmpl, c.ca, c.caKey)
}

func (c *testCerts) leafTemplate(t testing.TB, cn string, dns []string, ips []net.IP, notBefore, notAfter time.Time) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber: certTestSerial(t),
		Subject:      pkix.Name{CommonName: cn},
		DNSNames:     dns,
		IPAddresses:  ips,
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
}

// sign makes a certificate from tmpl with a fresh key, signed by parent
// (nil parent: self-signed).
func (c *testCerts) sign(t testing.TB, tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) tls.Certificate {
	t.Helper()
	key := certTestKey(t)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// certTestServerTLS is the server side configuration serving cert: for the mock
// (mockServer.tlsConfig) and for go-smtp (smtp.Server.TLSConfig).
func certTestServerTLS(cert tls.Certificate) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{cert}}
}

func certTestKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func certTestSerial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestTestCerts checks the helper itself: the chains verify (or not) as
// their names promise, against the CA file as the product reads it.
func TestTestCerts(t *testing.T) {
	t.Parallel()
	c := newTestCerts(t)
	pemBytes, err := os.ReadFile(c.caFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pemBytes) {
		t.Fatal("CA file holds no certificate")
	}
	verify := func(cert tls.Certificate, name string) error {
		_, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: name})
		return err
	}
	for _, name := range []string{"localhost", "127.0.0.1", "::1"} {
		if err := verify(c.valid, name); err != nil {
			t.Errorf("valid leaf for %s: %v", name, err)
		}
	}
	if err := verify(c.wrongName, "localhost"); err == nil {
		t.Error("wrong-name leaf verifies for localhost")
	}
	if err := verify(c.wrongName, "wrong.example"); err != nil {
		t.Errorf("wrong-name leaf for wrong.example: %v", err)
	}
	if err := verify(c.expired, "localhost"); err == nil {
		t.Error("expired leaf verifies")
	}
	if err := verify(c.selfSigned, "localhost"); err == nil {
		t.Error("self-signed leaf verifies against the CA")
	}
	if err := verify(c.notYetValid, "localhost"); err == nil {
		t.Error("not-yet-valid leaf verifies")
	}
	inter := x509.NewCertPool()
	inter.AppendCertsFromPEM(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.chained.Certificate[1]}))
	if _, err := c.chained.Leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: "localhost"}); err != nil {
		t.Errorf("chained leaf with its intermediate: %v", err)
	}
	if err := verify(c.chained, "localhost"); err == nil {
		t.Error("chained leaf verifies without its intermediate")
	}
	if d := tlsverify.DaysLeft(c.expiringIn(t, 10).Leaf, time.Now()); d != 10 {
		t.Errorf("expiringIn(10) has %d days left", d)
	}
	if d := tlsverify.DaysLeft(c.expired.Leaf, time.Now()); d != -31 {
		t.Errorf("expired leaf has %d days left, want -31 (30 days and an hour ago)", d)
	}
}
