package smtptest

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
)

// Day is 24 hours, the unit of certificate lifetimes here.
const Day = 24 * time.Hour

// Certs is a private CA and server certificates made at test time, so
// nothing in testdata can expire. Every leaf but WrongName is valid for
// localhost, 127.0.0.1 and ::1.
type Certs struct {
	CAFile string         // the CA certificate as PEM in t.TempDir(), for --cafile
	CAPool *x509.CertPool // the CA alone
	CA     *x509.Certificate

	Valid       tls.Certificate // signed by the CA, valid for a year
	WrongName   tls.Certificate // signed by the CA, valid only for wrong.example
	Expired     tls.Certificate // signed by the CA, NotAfter 30 days (and an hour) ago
	SelfSigned  tls.Certificate // its own issuer: unknown to any root pool
	Chained     tls.Certificate // signed by an intermediate CA, served with it
	NotYetValid tls.Certificate // signed by the CA, NotBefore tomorrow

	caKey *ecdsa.PrivateKey
}

// loopbackDNS and loopbackIPs are the names and addresses a loopback leaf
// covers.
func loopbackDNS() []string { return []string{"localhost"} }
func loopbackIPs() []net.IP { return []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback} }
func writePEM(t testing.TB, name string, der []byte) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// NewCerts makes a CA (its PEM file in t.TempDir()) and the leaves of Certs.
func NewCerts(t testing.TB) *Certs {
	t.Helper()
	now := time.Now()
	c := &Certs{caKey: newKey(t)}
	caTmpl := caTemplate(t, "check-smtp test CA", now.Add(-365*Day), now.Add(3650*Day))
	caTmpl.KeyUsage |= x509.KeyUsageCRLSign
	der, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &c.caKey.PublicKey, c.caKey)
	if err != nil {
		t.Fatal(err)
	}
	if c.CA, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	c.CAPool = x509.NewCertPool()
	c.CAPool.AddCert(c.CA)
	c.CAFile = writePEM(t, "ca.pem", der)

	c.Valid = c.Leaf(t, "localhost", loopbackDNS(), loopbackIPs(), now.Add(-Day), now.Add(365*Day), false)
	c.WrongName = c.Leaf(t, "wrong.example", []string{"wrong.example"}, nil, now.Add(-Day), now.Add(365*Day), false)
	// An hour past the 30 days, so "30 days ago" holds however long the test runs.
	c.Expired = c.Leaf(t, "localhost", loopbackDNS(), loopbackIPs(), now.Add(-90*Day), now.Add(-30*Day-time.Hour), false)
	c.SelfSigned = c.Leaf(t, "localhost", loopbackDNS(), loopbackIPs(), now.Add(-Day), now.Add(365*Day), true)
	c.NotYetValid = c.Leaf(t, "localhost", loopbackDNS(), loopbackIPs(), now.Add(Day), now.Add(365*Day), false)

	// The intermediate is signed by the CA; the leaf by the intermediate.
	inter := sign(t, caTemplate(t, "check-smtp test intermediate", now.Add(-Day), now.Add(3650*Day)), c.CA, c.caKey)
	c.Chained = sign(t, leafTemplate(t, "localhost", loopbackDNS(), loopbackIPs(), now.Add(-Day), now.Add(365*Day)),
		inter.Leaf, inter.PrivateKey.(*ecdsa.PrivateKey))
	c.Chained.Certificate = append(c.Chained.Certificate, inter.Certificate[0])
	return c
}

// ExpiringIn is a CA-signed loopback leaf that expires in days whole days
// plus one hour: whole-day arithmetic gives exactly days for the next hour.
func (c *Certs) ExpiringIn(t testing.TB, days int) tls.Certificate {
	t.Helper()
	now := time.Now()
	return c.Leaf(t, "localhost", loopbackDNS(), loopbackIPs(), now.Add(-Day), now.Add(time.Duration(days)*Day+time.Hour), false)
}

// Leaf makes a server certificate for the names and addresses given (the
// subject's Common Name is cn), signed by the CA or by itself.
func (c *Certs) Leaf(t testing.TB, cn string, dns []string, ips []net.IP, notBefore, notAfter time.Time, selfSigned bool) tls.Certificate {
	t.Helper()
	tmpl := leafTemplate(t, cn, dns, ips, notBefore, notAfter)
	if selfSigned {
		return sign(t, tmpl, nil, nil)
	}
	return sign(t, tmpl, c.CA, c.caKey)
}

// ServerTLS is the server-side configuration serving cert: for ServeTLS and
// for go-smtp (smtp.Server.TLSConfig).
func ServerTLS(cert tls.Certificate) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{cert}}
}

// NewRoot is a self-signed CA certificate for subject with a fresh key,
// valid from a day ago for a year: a root of a test trust store.
func NewRoot(t testing.TB, subject pkix.Name) tls.Certificate {
	t.Helper()
	now := time.Now()
	tmpl := caTemplate(t, "", now.Add(-Day), now.Add(365*Day))
	tmpl.Subject = subject
	tmpl.KeyUsage |= x509.KeyUsageCRLSign
	return sign(t, tmpl, nil, nil)
}

// ChainDates are the validity periods of a root, an intermediate and a
// loopback leaf, as offsets from now.
type ChainDates struct {
	RootFrom, RootTo   time.Duration
	InterFrom, InterTo time.Duration
	LeafFrom, LeafTo   time.Duration
}

// Chain is a leaf served with its intermediate, and its root as a CA file.
type Chain struct {
	Cert   tls.Certificate // the leaf and the intermediate, for ServerTLS
	CAFile string          // the root as PEM, for --cafile
}

// NewChain makes a root, an intermediate and a leaf for localhost,
// 127.0.0.1 and ::1, each valid when d says: chains whose members expire at
// different times.
func NewChain(t testing.TB, d ChainDates) Chain {
	t.Helper()
	now := time.Now()
	root := sign(t, caTemplate(t, "check-smtp chain root", now.Add(d.RootFrom), now.Add(d.RootTo)), nil, nil)
	inter := sign(t, caTemplate(t, "check-smtp chain intermediate", now.Add(d.InterFrom), now.Add(d.InterTo)),
		root.Leaf, root.PrivateKey.(*ecdsa.PrivateKey))
	leaf := sign(t, leafTemplate(t, "localhost", loopbackDNS(), loopbackIPs(), now.Add(d.LeafFrom), now.Add(d.LeafTo)),
		inter.Leaf, inter.PrivateKey.(*ecdsa.PrivateKey))
	leaf.Certificate = append(leaf.Certificate, inter.Certificate[0])
	return Chain{Cert: leaf, CAFile: writePEM(t, "root.pem", root.Certificate[0])}
}

func leafTemplate(t testing.TB, cn string, dns []string, ips []net.IP, notBefore, notAfter time.Time) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber: newSerial(t),
		Subject:      pkix.Name{CommonName: cn},
		DNSNames:     dns,
		IPAddresses:  ips,
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
}

func caTemplate(t testing.TB, cn string, notBefore, notAfter time.Time) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber:          newSerial(t),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
}

// sign makes a certificate from tmpl with a fresh key, signed by parent
// (nil parent: self-signed).
func sign(t testing.TB, tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) tls.Certificate {
	t.Helper()
	key := newKey(t)
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

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newSerial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	return n
}
