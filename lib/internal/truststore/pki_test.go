package truststore

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// epoch is the "now" of the generated certificates.
var epoch = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

// ca is a generated certificate with its key.
type ca struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// certSpec says how to make a certificate; zero values give a CA valid a
// year around epoch.
type certSpec struct {
	subject     pkix.Name
	key         crypto.Signer // nil: a new P-256 key
	parent      *ca           // nil: self-signed
	leaf        bool          // not a CA; DNS name from the common name
	notBefore   time.Time
	notAfter    time.Time
	aki         akiMode
	extKeyUsage []x509.ExtKeyUsage
	permitted   []string // name constraints (permitted DNS domains)
}

// akiMode says what authority key id a certificate carries.
type akiMode int

const (
	akiParent akiMode = iota // the parent's subject key id
	akiWrong                 // one matching no certificate
	akiNone                  // none
)

func mustKey(t testing.TB) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func makeCert(t testing.TB, s certSpec) *ca {
	t.Helper()
	key := s.key
	if key == nil {
		key = mustKey(t)
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               s.subject,
		NotBefore:             s.notBefore,
		NotAfter:              s.notAfter,
		BasicConstraintsValid: true,
		IsCA:                  !s.leaf,
		ExtKeyUsage:           s.extKeyUsage,
		PermittedDNSDomains:   s.permitted,
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = epoch.AddDate(-1, 0, 0)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = epoch.AddDate(1, 0, 0)
	}
	if s.leaf {
		tmpl.DNSNames = []string{s.subject.CommonName}
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		if tmpl.ExtKeyUsage == nil {
			tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		}
	} else {
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	}
	parent, signer := tmpl, key
	if s.parent != nil {
		parent, signer = s.parent.cert, s.parent.key
		// The authority key id is the parent's subject key id: issue
		// from a copy with another one, or none.
		switch s.aki {
		case akiWrong:
			p := *s.parent.cert
			p.SubjectKeyId = []byte("not the key id of any key")
			parent = &p
		case akiNone:
			p := *s.parent.cert
			p.SubjectKeyId = nil
			parent = &p
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &ca{cert: c, key: key}
}

func name(cn string) pkix.Name {
	return pkix.Name{CommonName: cn, Organization: []string{"truststore test"}}
}

func pemOf(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// referenceCerts reads files and dirs exactly as crypto/x509's
// loadSystemRoots does, with encoding/pem and x509.ParseCertificate, and
// returns the certificates in the order the pool holds them (first
// occurrence of each DER), and loadSystemRoots' error.
func referenceCerts(files, dirs []string) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	seen := map[string]bool{}
	add := func(data []byte) {
		for len(data) > 0 {
			var b *pem.Block
			b, data = pem.Decode(data)
			if b == nil {
				return
			}
			if b.Type != "CERTIFICATE" || len(b.Headers) != 0 {
				continue
			}
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil || seen[string(c.Raw)] {
				continue
			}
			seen[string(c.Raw)] = true
			certs = append(certs, c)
		}
	}
	var firstErr error
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err == nil {
			add(data)
			break
		}
		if firstErr == nil && !os.IsNotExist(err) {
			firstErr = err
		}
	}
	for _, d := range dirs {
		des, err := os.ReadDir(d)
		if err != nil {
			if firstErr == nil && !os.IsNotExist(err) {
				firstErr = err
			}
			continue
		}
		for _, de := range des {
			if de.Type()&os.ModeSymlink != 0 {
				if target, err := os.Readlink(filepath.Join(d, de.Name())); err == nil && !strings.Contains(target, "/") {
					continue
				}
			}
			if data, err := os.ReadFile(d + "/" + de.Name()); err == nil {
				add(data)
			}
		}
	}
	if len(certs) > 0 || firstErr == nil {
		return certs, nil
	}
	return nil, firstErr
}

// referencePool is the pool x509.SystemCertPool would build from files and
// dirs, with the extra PEM appended as the caller of --cafile does.
func referencePool(t testing.TB, files, dirs []string, extra []byte) *x509.CertPool {
	t.Helper()
	certs, err := referenceCerts(files, dirs)
	if err != nil {
		t.Fatalf("reference pool: %v", err)
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	pool.AppendCertsFromPEM(extra)
	return pool
}

// verify runs Verify as the plugin does: leaf first, the rest as
// intermediates, at the given time.
func verify(chain []*x509.Certificate, roots *x509.CertPool, at time.Time) ([][]*x509.Certificate, error) {
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	return chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: at})
}

// verdict is what a verification said, in comparable form: the error's type
// and text, and the chains found.
func verdict(chains [][]*x509.Certificate, err error) string {
	var b strings.Builder
	if err != nil {
		fmt.Fprintf(&b, "%T: %v\n", err, err)
	}
	for _, ch := range chains {
		b.WriteString("chain:")
		for _, c := range ch {
			fmt.Fprintf(&b, " %x", c.Raw[len(c.Raw)-8:])
		}
		b.WriteString("\n")
	}
	return b.String()
}

func sameDER(a, b []*x509.Certificate) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i].Raw, b[i].Raw) {
			return false
		}
	}
	return true
}

func rsaKey(t testing.TB, bits int) crypto.Signer {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
