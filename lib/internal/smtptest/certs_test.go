package smtptest_test

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"os"
	"testing"
	"time"

	"github.com/check-smtp/check-smtp/lib/internal/smtptest"
	"github.com/check-smtp/check-smtp/lib/internal/tlsverify"
)

// poolFrom reads a CA file as the product does.
func poolFrom(t *testing.T, file string) *x509.CertPool {
	t.Helper()
	pemBytes, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pemBytes) {
		t.Fatalf("%s holds no certificate", file)
	}
	return roots
}

// TestCerts checks the certificates themselves: the chains verify (or not)
// as their names promise, against the CA file as the product reads it.
// (It was lib's TestTestCerts.)
func TestCerts(t *testing.T) {
	t.Parallel()
	c := smtptest.NewCerts(t)
	roots := poolFrom(t, c.CAFile)
	verify := func(cert tls.Certificate, name string) error {
		_, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: name})
		return err
	}
	for _, name := range []string{"localhost", "127.0.0.1", "::1"} {
		if err := verify(c.Valid, name); err != nil {
			t.Errorf("valid leaf for %s: %v", name, err)
		}
	}
	if err := verify(c.WrongName, "localhost"); err == nil {
		t.Error("wrong-name leaf verifies for localhost")
	}
	if err := verify(c.WrongName, "wrong.example"); err != nil {
		t.Errorf("wrong-name leaf for wrong.example: %v", err)
	}
	if err := verify(c.Expired, "localhost"); err == nil {
		t.Error("expired leaf verifies")
	}
	if err := verify(c.SelfSigned, "localhost"); err == nil {
		t.Error("self-signed leaf verifies against the CA")
	}
	if err := verify(c.NotYetValid, "localhost"); err == nil {
		t.Error("not-yet-valid leaf verifies")
	}
	inter := x509.NewCertPool()
	inter.AppendCertsFromPEM(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Chained.Certificate[1]}))
	if _, err := c.Chained.Leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: "localhost"}); err != nil {
		t.Errorf("chained leaf with its intermediate: %v", err)
	}
	if err := verify(c.Chained, "localhost"); err == nil {
		t.Error("chained leaf verifies without its intermediate")
	}
	if d := tlsverify.DaysLeft(c.ExpiringIn(t, 10).Leaf, time.Now()); d != 10 {
		t.Errorf("ExpiringIn(10) has %d days left", d)
	}
	if d := tlsverify.DaysLeft(c.Expired.Leaf, time.Now()); d != -31 {
		t.Errorf("expired leaf has %d days left, want -31 (30 days and an hour ago)", d)
	}
	if !c.CAPool.Equal(roots) {
		t.Error("CAPool is not the CA file's pool")
	}
	now := time.Now()
	own := c.Leaf(t, "a.example", []string{"a.example", "b.example"}, nil, now.Add(-smtptest.Day), now.Add(smtptest.Day), false)
	if err := verify(own, "b.example"); err != nil || own.Leaf.Subject.CommonName != "a.example" {
		t.Errorf("Leaf: %v, subject %v", err, own.Leaf.Subject)
	}
	if cfg := smtptest.ServerTLS(c.Valid); len(cfg.Certificates) != 1 {
		t.Errorf("ServerTLS serves %d certificates", len(cfg.Certificates))
	}
}

// TestNewChain: each member of the chain has the dates asked for; the leaf
// is served with its intermediate and verifies against the root file.
func TestNewChain(t *testing.T) {
	t.Parallel()
	d := smtptest.ChainDates{RootFrom: -10 * smtptest.Day, RootTo: 100*smtptest.Day + time.Hour,
		InterFrom: -5 * smtptest.Day, InterTo: 50*smtptest.Day + time.Hour, LeafFrom: -smtptest.Day, LeafTo: 20*smtptest.Day + time.Hour}
	ch := smtptest.NewChain(t, d)
	if len(ch.Cert.Certificate) != 2 {
		t.Fatalf("served %d certificates, want the leaf and the intermediate", len(ch.Cert.Certificate))
	}
	inter, err := x509.ParseCertificate(ch.Cert.Certificate[1])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(inter)
	chains, err := ch.Cert.Leaf.Verify(x509.VerifyOptions{Roots: poolFrom(t, ch.CAFile), Intermediates: pool, DNSName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i, want := range []int{20, 50, 100} { // leaf, intermediate, root: whole days left (each an hour over)
		if got := tlsverify.DaysLeft(chains[0][i], now); got != want {
			t.Errorf("chain member %d (%s) has %d days left, want %d", i, chains[0][i].Subject, got, want)
		}
	}
}

func TestNewRoot(t *testing.T) {
	t.Parallel()
	root := smtptest.NewRoot(t, pkix.Name{CommonName: "Filler Root 007", Organization: []string{"check-smtp test"}})
	c := root.Leaf
	if !c.IsCA || c.Subject.CommonName != "Filler Root 007" || c.Subject.Organization[0] != "check-smtp test" || c.CheckSignatureFrom(c) != nil {
		t.Errorf("not a self-signed CA for the subject: %v, CA %v", c.Subject, c.IsCA)
	}
	if d := tlsverify.DaysLeft(c, time.Now()); d != 364 {
		t.Errorf("%d days left, want 364", d)
	}
}
