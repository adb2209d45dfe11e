package tlsverify

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// epoch is the time the generated certificates are built around.
var epoch = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

// pki is a generated certificate and its key.
type pki struct {
	cert *x509.Certificate
	key  crypto.Signer
}

type spec struct {
	cn                  string
	key                 crypto.Signer // nil: a fresh P-256 key
	parent              *pki          // nil: self-signed
	leaf                bool
	clientOnly          bool      // a leaf for TLS clients only (extended key usage)
	notBefore, notAfter time.Time // zero: a year either side of epoch
}

func issue(t testing.TB, s spec) *pki {
	t.Helper()
	key := s.key
	if key == nil {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		key = k
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: s.cn, Organization: []string{"tlsverify test"}},
		NotBefore:             s.notBefore,
		NotAfter:              s.notAfter,
		BasicConstraintsValid: true,
		IsCA:                  !s.leaf,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = epoch.AddDate(-1, 0, 0)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = epoch.AddDate(1, 0, 0)
	}
	if s.leaf {
		tmpl.DNSNames = []string{s.cn}
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		if s.clientOnly {
			tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		}
	}
	parent, signer := tmpl, key
	if s.parent != nil {
		parent, signer = s.parent.cert, s.parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &pki{cert: c, key: key}
}

func pemOf(cs ...*pki) []byte {
	var b []byte
	for _, c := range cs {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.cert.Raw})...)
	}
	return b
}

func write(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// store is a generated system trust store (a bundle file and a hashed
// directory), --cafile roots, and the chains to verify against them.
type store struct {
	certFile, certDir string
	extraAnchor       []byte // --cafile: root X, which anchors some chains
	extraOther        []byte // --cafile: a root that anchors none
	chains            map[string][]*x509.Certificate
	marker            []*x509.Certificate // anchored only by the directory
}

func newStore(t testing.TB) *store {
	t.Helper()
	dir := t.TempDir()
	s := &store{
		certFile: filepath.Join(dir, "bundle.pem"),
		certDir:  filepath.Join(dir, "certs"),
		chains:   map[string][]*x509.Certificate{},
	}
	// Two roots named Root A, the second the issuer; Root B expires a
	// month after epoch and is cross-signed by A; Root E has expired.
	aOld := issue(t, spec{cn: "Root A"})
	a := issue(t, spec{cn: "Root A"})
	b := issue(t, spec{cn: "Root B", notAfter: epoch.AddDate(0, 1, 0)})
	bxa := issue(t, spec{cn: "Root B", key: b.key, parent: a})
	e := issue(t, spec{cn: "Root E", notAfter: epoch.AddDate(0, -1, 0)})
	d := issue(t, spec{cn: "Root D"})            // in the directory only
	x := issue(t, spec{cn: "Root X"})            // --cafile only
	other := issue(t, spec{cn: "Root Other"})    // --cafile, anchors nothing
	unknown := issue(t, spec{cn: "Root Nobody"}) // nowhere
	// Inter S is an intermediate that is also in the store.
	ia := issue(t, spec{cn: "Inter A", parent: a})
	ib := issue(t, spec{cn: "Inter B", parent: b})
	ie := issue(t, spec{cn: "Inter E", parent: e})
	is := issue(t, spec{cn: "Inter S", parent: a})
	// Inter AX: one key, issued by A and by X.
	iax := issue(t, spec{cn: "Inter AX", parent: a})
	iaxByX := issue(t, spec{cn: "Inter AX", key: iax.key, parent: x})

	var bundle bytes.Buffer
	for i := range 60 {
		bundle.Write(pemOf(issue(t, spec{cn: fmt.Sprintf("Filler %03d", i)})))
	}
	bundle.Write(pemOf(aOld, a, b, e, is))
	for i := 60; i < 120; i++ {
		bundle.Write(pemOf(issue(t, spec{cn: fmt.Sprintf("Filler %03d", i)})))
	}
	write(t, s.certFile, bundle.Bytes())
	write(t, filepath.Join(s.certDir, "ca-certificates.crt"), bundle.Bytes())
	write(t, filepath.Join(s.certDir, "root-d.pem"), pemOf(d))
	if err := os.Symlink("root-d.pem", filepath.Join(s.certDir, "0123abcd.0")); err != nil {
		t.Fatal(err)
	}
	s.extraAnchor = pemOf(x)
	s.extraOther = pemOf(other)

	leaf := func(cn string, parent *pki, notAfter time.Time) *x509.Certificate {
		return issue(t, spec{cn: cn, parent: parent, leaf: true, notAfter: notAfter}).cert
	}
	add := func(name string, certs ...*x509.Certificate) { s.chains[name] = certs }
	la := leaf("a.test", ia, time.Time{})
	add("A via Inter A", la, ia.cert)
	add("A without its intermediate", la)
	add("A, expired leaf", leaf("a.test", ia, epoch.AddDate(0, 0, -3)), ia.cert)
	lb := leaf("b.test", ib, time.Time{})
	add("B via Inter B and the cross-sign", lb, ib.cert, bxa.cert)
	add("B via Inter B", lb, ib.cert)
	add("E via Inter E (expired root)", leaf("e.test", ie, time.Time{}), ie.cert)
	s.marker = []*x509.Certificate{leaf("d.test", d, time.Time{})}
	add("D from the directory", s.marker...)
	add("X from --cafile", leaf("x.test", x, time.Time{}))
	lax := leaf("ax.test", iax, time.Time{})
	add("AX, both issuers", lax, iax.cert, iaxByX.cert)
	add("AX, issued by X", lax, iaxByX.cert)
	add("S, an intermediate in the store", leaf("s.test", is, time.Time{}))
	add("unknown root", leaf("n.test", issue(t, spec{cn: "Inter N", parent: unknown}), time.Time{}))
	add("A, a client certificate", issue(t, spec{cn: "client.test", parent: ia, leaf: true, clientOnly: true}).cert, ia.cert)
	add("self-signed leaf", issue(t, spec{cn: "self.test", leaf: true}).cert)
	return s
}

// reference is VerifyChain against a full pool, as the plugin verified
// before truststore: every chain Verify found, the one chosen, the error.
func reference(chain []*x509.Certificate, name string, full *x509.CertPool, roots *Roots, now time.Time) (all [][]*x509.Certificate, out []*x509.Certificate, err error) {
	leaf := chain[0]
	target := leaf
	if now.After(leaf.NotAfter) {
		c := *leaf
		c.NotAfter = now.Add(time.Hour)
		target = &c
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	all, err = target.Verify(x509.VerifyOptions{Roots: full, Intermediates: inter, CurrentTime: now})
	if err != nil {
		return nil, nil, describe(err, chain, roots, now)
	}
	if err := leaf.VerifyHostname(name); err != nil {
		return all, nil, describe(err, chain, roots, now)
	}
	best := longestLived(all)
	return all, append([]*x509.Certificate{leaf}, best[1:]...), nil
}

func sameChain(a, b []*x509.Certificate) bool {
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

func errText(err error) string {
	if err == nil {
		return "ok"
	}
	var e *Error
	if errors.As(err, &e) {
		return fmt.Sprintf("reason %d: %s", e.Reason, e.Text)
	}
	return "not an *Error: " + err.Error()
}

func names(chain []*x509.Certificate) string {
	var s []string
	for _, c := range chain {
		s = append(s, c.Subject.CommonName)
	}
	return strings.Join(s, " <- ")
}

// TestSameVerdictAsSystemCertPool verifies every generated chain, for its
// own name and a wrong one, at three times, with no --cafile, with a
// --cafile root that anchors some chains and with one that anchors none,
// through truststore (VerifyChain) and against the pool
// x509.SystemCertPool builds from the same SSL_CERT_FILE and SSL_CERT_DIR
// plus the --cafile roots, and wants the same verdict: the same error, or
// success with the chain the full pool picks (with --cafile roots that
// anchor the chain, one of the chains the full pool finds).
//
// x509.SystemCertPool reads the environment once per process; no other
// test of this package calls it. Not parallel: t.Setenv.
func TestSameVerdictAsSystemCertPool(t *testing.T) {
	s := newStore(t)
	t.Setenv("SSL_CERT_FILE", s.certFile)
	t.Setenv("SSL_CERT_DIR", s.certDir)
	system, err := x509.SystemCertPool()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.marker[0].Verify(x509.VerifyOptions{Roots: system, CurrentTime: epoch}); err != nil {
		t.Fatalf("x509.SystemCertPool was read before this test set SSL_CERT_FILE and SSL_CERT_DIR: %v", err)
	}
	times := map[string]time.Time{
		"at epoch":              epoch,
		"two months on":         epoch.AddDate(0, 2, 0),
		"before anything began": epoch.AddDate(-2, 0, 0),
	}
	type config struct {
		name  string
		extra []byte
	}
	configs := []config{{"no --cafile", nil}, {"--cafile X", s.extraAnchor}, {"--cafile Other", s.extraOther}}
	outcomes := map[string]int{}
	for _, cfg := range configs {
		full := system.Clone()
		roots := &Roots{CertFile: s.certFile, CertDir: s.certDir}
		if cfg.extra != nil {
			full.AppendCertsFromPEM(cfg.extra)
			roots.Extra = x509.NewCertPool()
			roots.Extra.AppendCertsFromPEM(cfg.extra)
			roots.ExtraPEM, roots.ExtraFile = cfg.extra, "/etc/extra.pem"
		}
		for chainName, chain := range s.chains {
			for _, host := range []string{chain[0].DNSNames[0], "wrong.test"} {
				for when, now := range times {
					all, want, wantErr := reference(chain, host, full, roots, now)
					got, gotErr := VerifyChain(chain, host, roots, now)
					what := fmt.Sprintf("%s, chain %q for %s %s", cfg.name, chainName, host, when)
					if errText(gotErr) != errText(wantErr) {
						t.Errorf("%s:\n got: %s\nwant: %s", what, errText(gotErr), errText(wantErr))
						continue
					}
					outcomes[firstWords(errText(wantErr))]++
					if gotErr != nil {
						continue
					}
					if cfg.extra == nil && !sameChain(got, want) {
						t.Errorf("%s: chain %s, want %s", what, names(got), names(want))
					}
					found := false
					for _, c := range all {
						found = found || sameChain(got[1:], c[1:])
					}
					if !found {
						t.Errorf("%s: chain %s is not one the full pool finds", what, names(got))
					}
				}
			}
		}
	}
	// The chains must reach every kind of verdict, or the equality proves
	// little.
	for _, want := range []string{"ok", "reason 1:", "reason 2:", "reason 3:", "reason 0:"} {
		if outcomes[want] == 0 {
			t.Errorf("no verdict %q among %v", want, outcomes)
		}
	}
	t.Logf("verdicts: %v", outcomes)
}

func firstWords(s string) string {
	if i := strings.Index(s, ":"); i >= 0 {
		return s[:i+1]
	}
	return s
}

// TestCAFileAnchorsWithoutReadingTheStore: a chain the --cafile roots
// anchor is verified without reading the system store, and Preload does
// not read it either; a chain they do not anchor reads it.
func TestCAFileAnchorsWithoutReadingTheStore(t *testing.T) {
	s := newStore(t)
	roots := &Roots{CertFile: s.certFile, CertDir: s.certDir}
	roots.Extra = x509.NewCertPool()
	roots.Extra.AppendCertsFromPEM(s.extraAnchor)
	roots.ExtraPEM = s.extraAnchor
	roots.Preload()
	if _, err := VerifyChain(s.chains["X from --cafile"], "x.test", roots, epoch); err != nil {
		t.Fatalf("X from --cafile: %v", err)
	}
	if roots.store != nil {
		t.Fatal("the system store was read for a chain the --cafile roots anchor")
	}
	if _, err := VerifyChain(s.chains["A via Inter A"], "a.test", roots, epoch); err != nil {
		t.Fatalf("A via Inter A with --cafile X: %v", err)
	}
	if roots.store == nil {
		t.Fatal("the system store was not read for a chain the --cafile roots do not anchor")
	}
}

// TestOneStoreForManyChains is domain mode: one Roots, preloaded, shared by
// concurrent verifications of different chains (run with -race).
func TestOneStoreForManyChains(t *testing.T) {
	s := newStore(t)
	roots := &Roots{CertFile: s.certFile, CertDir: s.certDir}
	roots.Preload()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for name, host := range map[string]string{"A via Inter A": "a.test", "D from the directory": "d.test", "S, an intermediate in the store": "s.test"} {
				if _, err := VerifyChain(s.chains[name], host, roots, epoch); err != nil {
					t.Errorf("%s: %v", name, err)
				}
			}
			if _, err := VerifyChain(s.chains["X from --cafile"], "x.test", roots, epoch); err == nil {
				t.Error("X verified without --cafile")
			}
		})
	}
	wg.Wait()
}

// TestUnreadableStore: a store that cannot be read anchors nothing, and the
// --cafile roots still do.
func TestUnreadableStore(t *testing.T) {
	s := newStore(t)
	missing := filepath.Join(t.TempDir(), "missing")
	roots := &Roots{CertFile: missing, CertDir: missing}
	_, err := VerifyChain(s.chains["A via Inter A"], "a.test", roots, epoch)
	if got := errText(err); !strings.HasPrefix(got, "reason 1: certificate signed by unknown authority") {
		t.Errorf("A with no readable store: %s", got)
	}
	roots = &Roots{CertFile: missing, CertDir: missing, ExtraPEM: s.extraAnchor, ExtraFile: "x.pem"}
	roots.Extra = x509.NewCertPool()
	roots.Extra.AppendCertsFromPEM(s.extraAnchor)
	if _, err := VerifyChain(s.chains["AX, issued by X"], "ax.test", roots, epoch); err != nil {
		t.Errorf("AX via --cafile with no readable store: %v", err)
	}
	_, err = VerifyChain(s.chains["A via Inter A"], "a.test", roots, epoch)
	if got := errText(err); !strings.Contains(got, "not anchored by --cafile x.pem or the system roots") {
		t.Errorf("A with --cafile X and no readable store: %s", got)
	}
}
