package dane

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"
)

// clock is the instant every test judges at; certificates are valid around
// it unless a test says otherwise.
func clock() time.Time { return time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC) }

const mxHost = "mx.example.org"

// node is one generated certificate and its key.
type node struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// spec describes a certificate to generate; zero fields take defaults.
type spec struct {
	cn        string
	dnsNames  []string // leaf only; nil means {mxHost}
	noSAN     bool     // leaf without subjectAltName (CN only)
	notBefore time.Time
	notAfter  time.Time
	key       *ecdsa.PrivateKey // reuse a key (renewal with the same key)
	notCA     bool              // an issuer that lacks the CA flag
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// issue makes a certificate from s, signed by parent (self-signed when parent
// is nil); ca says whether it is an issuing certificate.
func issue(t testing.TB, s spec, parent *node, ca bool) *node {
	t.Helper()
	key := s.key
	if key == nil {
		key = newKey(t)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	nb, na := s.notBefore, s.notAfter
	if nb.IsZero() {
		nb = clock().Add(-30 * 24 * time.Hour)
	}
	if na.IsZero() {
		na = clock().Add(60 * 24 * time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: s.cn, Organization: []string{"DANE test"}},
		NotBefore:             nb,
		NotAfter:              na,
		BasicConstraintsValid: true,
	}
	if ca && !s.notCA {
		tmpl.IsCA = true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	if !ca && !s.noSAN {
		tmpl.DNSNames = s.dnsNames
		if tmpl.DNSNames == nil {
			tmpl.DNSNames = []string{mxHost}
		}
	}
	signer, parentCert := key, tmpl
	if parent != nil {
		signer, parentCert = parent.key, parent.cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &node{cert: cert, key: key}
}

// pki is a root, an intermediate it signed and a leaf for mxHost.
type pki struct {
	root, inter, leaf *node
}

func newPKI(t testing.TB) *pki {
	t.Helper()
	root := issue(t, spec{cn: "Test Root"}, nil, true)
	inter := issue(t, spec{cn: "Test Intermediate"}, root, true)
	leaf := issue(t, spec{cn: mxHost}, inter, false)
	return &pki{root: root, inter: inter, leaf: leaf}
}

// chain is what a server presents: leaf, intermediate and, with withRoot,
// the root.
func (p *pki) chain(withRoot bool) []*x509.Certificate {
	c := []*x509.Certificate{p.leaf.cert, p.inter.cert}
	if withRoot {
		c = append(c, p.root.cert)
	}
	return c
}
