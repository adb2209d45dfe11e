package truststore

import (
	"bytes"
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

// poolOf is the pool of certs, in order.
func poolOf(certs []*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

// samePool reports whether two pools hold the same certificates with the
// same subjects in the same order (the order Verify tries them in).
func samePool(a, b *x509.CertPool) bool {
	//lint:ignore SA1019 Subjects is the only view of a pool's order.
	return a.Equal(b) && slices.EqualFunc(a.Subjects(), b.Subjects(), bytes.Equal)
}

// fakeIssued stands for a certificate issued under subject: Roots reads
// only the raw names and bytes of the chain.
func fakeIssued(subject []byte) *x509.Certificate {
	return &x509.Certificate{Raw: []byte("not a certificate"), RawIssuer: subject, RawSubject: []byte("not a subject")}
}

// TestRealStore checks the machine's own trust store: the test's copy of
// crypto/x509's loader builds exactly x509.SystemCertPool, and for every
// root R, a certificate issued under R's subject gets a pool of R and every
// other certificate with that subject, in order, and nothing else.
func TestRealStore(t *testing.T) {
	const bundle = "/etc/ssl/certs/ca-certificates.crt"
	if _, err := os.Stat(bundle); err != nil {
		t.Skipf("no system bundle at %s (%v): this test needs a Debian-style trust store to compare against", bundle, err)
	}
	store := System(Env{CertFile: os.Getenv("SSL_CERT_FILE"), CertDir: os.Getenv("SSL_CERT_DIR")})
	ref, err := referenceCerts(store.src.files, store.src.dirs)
	if err != nil {
		t.Fatal(err)
	}
	sys, err := x509.SystemCertPool()
	if err != nil {
		t.Fatal(err)
	}
	if !samePool(poolOf(ref), sys) {
		t.Fatal("the reference loader does not build x509.SystemCertPool; the comparison below would prove nothing")
	}
	if len(ref) < 100 {
		t.Logf("only %d certificates in the system store", len(ref))
	}
	idx := store.src.load(true)
	if idx.err != nil {
		t.Fatal(idx.err)
	}
	if n := idx.parsed.Load(); n != 0 {
		t.Errorf("indexing parsed %d certificates; every subject should come from the prefix walk", n)
	}
	for _, r := range ref {
		pool, err := store.Roots([]*x509.Certificate{fakeIssued(r.RawSubject)})
		if err != nil {
			t.Fatal(err)
		}
		var want []*x509.Certificate
		for _, c := range ref {
			if bytes.Equal(c.RawSubject, r.RawSubject) {
				want = append(want, c)
			}
		}
		if !samePool(pool, poolOf(want)) {
			t.Errorf("root %s: the pool is not the %d certificates with its subject", r.Subject, len(want))
		}
	}
	t.Logf("%d certificates in the system store, %d blocks indexed, %d parsed", len(ref), len(idx.entries), idx.parsed.Load())
}

// TestParsesOnlyCandidates checks the point of the package: a chain costs
// the parsing of the certificates with the subjects it names, not of the
// store.
func TestParsesOnlyCandidates(t *testing.T) {
	w := newWorld(t)
	store := newStore(w.files, w.dirs)
	leaf := makeCert(t, certSpec{subject: name("p.test"), leaf: true, parent: w.cas["I"]})
	if _, err := store.Roots([]*x509.Certificate{leaf.cert, w.cas["I"].cert}); err != nil {
		t.Fatal(err)
	}
	// Root A: A2, A, and the block that decodes but does not parse (the
	// corrupt one does not decode, the headers and TRUSTED ones are not
	// certificates to crypto/x509, A's copy in the directory is the same
	// DER); Inter I: I (twice in the directory, the same DER).
	const want = 4
	if got := store.src.idx.parsed.Load(); got != want {
		t.Errorf("parsed %d certificates of the %d in the store, want %d", got, w.storeCount, want)
	}
	// A second chain under the same names parses nothing more.
	if _, err := store.Roots([]*x509.Certificate{w.leaves[0].cert}); err != nil {
		t.Fatal(err)
	}
	if got := store.src.idx.parsed.Load(); got != want {
		t.Errorf("a second chain under the same roots parsed %d more", got-want)
	}
}

// TestLazyAndReadOnce: constructing a Store reads nothing; the first use
// reads everything; later changes to the files are not seen by that Store.
func TestLazyAndReadOnce(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "bundle.pem")
	a := makeCert(t, certSpec{subject: name("Root A")})
	b := makeCert(t, certSpec{subject: name("Root B")})
	store := System(Env{CertFile: file, CertDir: filepath.Join(dir, "none")})
	writeFile(t, file, pemOf(a.cert)) // after System: it must not have looked yet

	pool, err := store.Roots([]*x509.Certificate{fakeIssued(a.cert.RawSubject)})
	if err != nil {
		t.Fatal(err)
	}
	if !samePool(pool, poolOf([]*x509.Certificate{a.cert})) {
		t.Fatal("Roots did not find the root written after System")
	}
	writeFile(t, file, pemOf(b.cert))
	pool, _ = store.Roots([]*x509.Certificate{fakeIssued(b.cert.RawSubject)})
	if !samePool(pool, x509.NewCertPool()) {
		t.Error("the Store read the bundle again")
	}
	pool, _ = System(Env{CertFile: file, CertDir: filepath.Join(dir, "none")}).Roots([]*x509.Certificate{fakeIssued(b.cert.RawSubject)})
	if !samePool(pool, poolOf([]*x509.Certificate{b.cert})) {
		t.Error("a new Store did not read the new bundle")
	}
}

func TestEnv(t *testing.T) {
	s := System(Env{CertFile: "/x/bundle.pem", CertDir: "/a:/b::/c"})
	if !slices.Equal(s.src.files, []string{"/x/bundle.pem"}) {
		t.Errorf("SSL_CERT_FILE: files %q", s.src.files)
	}
	if !slices.Equal(s.src.dirs, []string{"/a", "/b", "", "/c"}) {
		t.Errorf("SSL_CERT_DIR: dirs %q", s.src.dirs)
	}
	d := System(Env{})
	if len(d.src.files) != 6 || d.src.files[0] != "/etc/ssl/certs/ca-certificates.crt" ||
		!slices.Equal(d.src.dirs, []string{"/etc/ssl/certs", "/etc/pki/tls/certs"}) {
		t.Errorf("defaults: files %q dirs %q", d.src.files, d.src.dirs)
	}
}

// TestFirstReadableBundle: of the bundle files only the first that can be
// read counts, and a missing SSL_CERT_FILE means no bundle, not the
// default ones.
func TestFirstReadableBundle(t *testing.T) {
	dir := t.TempDir()
	a := makeCert(t, certSpec{subject: name("Root A")})
	b := makeCert(t, certSpec{subject: name("Root A")})
	writeFile(t, filepath.Join(dir, "b1.pem"), pemOf(a.cert))
	writeFile(t, filepath.Join(dir, "b2.pem"), pemOf(b.cert))
	files := []string{filepath.Join(dir, "b0.pem"), filepath.Join(dir, "b1.pem"), filepath.Join(dir, "b2.pem")}
	pool, err := newStore(files, nil).Roots([]*x509.Certificate{fakeIssued(a.cert.RawSubject)})
	if err != nil || !samePool(pool, poolOf([]*x509.Certificate{a.cert})) {
		t.Errorf("want only the first readable bundle's root (err %v)", err)
	}
	pool, err = System(Env{CertFile: filepath.Join(dir, "b0.pem"), CertDir: dir}).Roots([]*x509.Certificate{fakeIssued(a.cert.RawSubject)})
	// The directory holds both files: b1 then b2.
	if err != nil || !samePool(pool, poolOf([]*x509.Certificate{a.cert, b.cert})) {
		t.Errorf("missing SSL_CERT_FILE: want the directory's two roots only (err %v)", err)
	}
}

// TestReadError: a store that cannot be read and holds no certificate
// fails as x509.SystemCertPool does, with the first error that is not
// "does not exist"; the pool then holds the extra roots. A read error
// beside readable certificates is no error.
func TestReadError(t *testing.T) {
	dir := t.TempDir()
	notAFile := filepath.Join(dir, "a-directory")
	if err := os.Mkdir(notAFile, 0o755); err != nil {
		t.Fatal(err)
	}
	x := makeCert(t, certSpec{subject: name("Root X")})
	files := []string{filepath.Join(dir, "missing"), notAFile}
	dirs := []string{filepath.Join(dir, "missing-dir")}

	_, wantErr := referenceCerts(files, dirs)
	if wantErr == nil {
		t.Fatal("the reference loader read a directory as a bundle")
	}
	pool, err := newStore(files, dirs).WithExtra(pemOf(x.cert)).Roots([]*x509.Certificate{fakeIssued(x.cert.RawSubject)})
	if err == nil || err.Error() != wantErr.Error() {
		t.Errorf("error %v, want %v", err, wantErr)
	}
	if !samePool(pool, poolOf([]*x509.Certificate{x.cert})) {
		t.Error("the pool does not hold the extra root")
	}

	writeFile(t, filepath.Join(dir, "certs", "x.pem"), pemOf(x.cert))
	if _, err := newStore(files, []string{filepath.Join(dir, "certs")}).Roots([]*x509.Certificate{x.cert}); err != nil {
		t.Errorf("certificates and a read error: %v, want none", err)
	}
	// Nothing at all, and nothing unreadable: an empty pool, no error.
	pool, err = newStore([]string{filepath.Join(dir, "missing")}, dirs).Roots([]*x509.Certificate{x.cert})
	if err != nil || !samePool(pool, x509.NewCertPool()) {
		t.Errorf("empty store: err %v", err)
	}
}

// TestExtra: the --cafile roots are read as AppendCertsFromPEM reads
// them, come after the system ones, and stores derived from one share
// its reading.
func TestExtra(t *testing.T) {
	w := newWorld(t)
	base := newStore(w.files, w.dirs)
	with := base.WithExtra(w.extraPEM)
	if with.src != base.src {
		t.Error("WithExtra does not share the reading")
	}
	leaf := w.extraLeaf.cert
	pool, err := with.Roots([]*x509.Certificate{leaf})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify([]*x509.Certificate{leaf}, pool, epoch); err != nil {
		t.Errorf("leaf of the extra root: %v", err)
	}
	if pool, _ := base.Roots([]*x509.Certificate{leaf}); verdict(verify([]*x509.Certificate{leaf}, pool, epoch)) == "" {
		t.Error("the base store has the extra root too")
	}
	if got := with.WithExtra(nil); len(got.extra) != 2 {
		t.Errorf("%d extra roots, want 2 (the junk skipped)", len(got.extra))
	}
}

// TestConcurrentFirstUse: many goroutines using a fresh Store at once
// (run with -race).
func TestConcurrentFirstUse(t *testing.T) {
	w := newWorld(t)
	store := newStore(w.files, w.dirs)
	full := referencePool(t, w.files, w.dirs, nil)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if i%3 == 0 {
				store.Preload()
			}
			chain := []*x509.Certificate{w.leaves[i].cert}
			pool, err := store.Roots(chain)
			if err != nil {
				t.Error(err)
				return
			}
			if got, want := verdict(verify(chain, pool, epoch)), verdict(verify(chain, full, epoch)); got != want {
				t.Errorf("%s: got %s want %s", describeChain(chain), got, want)
			}
		})
	}
	wg.Wait()
}

// TestSubjectPastPrefix: a subject ending past the decoded prefix is found
// by decoding the block whole (the big.test chain of the equivalence test
// depends on it).
func TestSubjectPastPrefix(t *testing.T) {
	w := newWorld(t)
	if limit := prefixChars / 4 * 3; w.bigOffset <= limit {
		t.Fatalf("the big certificate's subject ends at %d, within the %d-byte prefix: the test proves nothing", w.bigOffset, limit)
	}
	big2 := w.cas["Big2"].cert
	sc, _ := scan(pemOf(big2), nil)
	if len(sc.found) != 1 || !bytes.Equal(sc.found[0].subject, big2.RawSubject) {
		t.Fatal("subject not found")
	}
	if sc.parsed != 0 {
		t.Error("found by parsing, not by the walk")
	}
}

func TestEmptyChain(t *testing.T) {
	w := newWorld(t)
	pool, err := newStore(w.files, w.dirs).WithExtra(w.extraPEM).Roots(nil)
	if err != nil || !samePool(pool, referencePool(t, nil, nil, w.extraPEM)) {
		t.Errorf("no chain: want the extra roots only (err %v)", err)
	}
}
