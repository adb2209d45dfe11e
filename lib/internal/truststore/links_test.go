package truststore

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// checkAgainstReference checks that, for each of certs (each with a subject
// of its own), Roots of a certificate issued under its subject is the
// reference loader's certificates with that subject: the store holds
// exactly what crypto/x509 would, in its order.
func checkAgainstReference(t *testing.T, store *Store, files, dirs []string, certs []*x509.Certificate) {
	t.Helper()
	ref, err := referenceCerts(files, dirs)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range certs {
		var want []*x509.Certificate
		for _, r := range ref {
			if bytes.Equal(r.RawSubject, c.RawSubject) {
				want = append(want, r)
			}
		}
		pool, err := store.Roots([]*x509.Certificate{fakeIssued(c.RawSubject)})
		if err != nil {
			t.Fatal(err)
		}
		if !samePool(pool, poolOf(want)) {
			t.Errorf("%s: the pool is not the reference's %d certificates", c.Subject.CommonName, len(want))
		}
	}
}

// linkLayout is a certificate directory whose links take every route the
// reader has: absolute targets grouped by directory, through ".." and
// through a linked directory, to directories, to nothing, relative ones
// with a slash, links to links; and a second directory named through a
// linked directory and "..", where the lexical path filepath.Join makes for
// readlink and the path the kernel resolves for the listing and the reads
// are different directories, as they are to crypto/x509.
type linkLayout struct {
	dirs  []string
	certs []*x509.Certificate
	want  map[string]bool // common names the reference must hold (checked, so the layout proves something)
}

func newLinkLayout(t *testing.T) *linkLayout {
	dir := t.TempDir()
	ll := &linkLayout{want: map[string]bool{}}
	cert := func(cn, path string, in bool) {
		c := makeCert(t, certSpec{subject: name(cn)})
		writeFile(t, path, pemOf(c.cert))
		ll.certs = append(ll.certs, c.cert)
		ll.want[cn] = in
	}
	link := func(target, at string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(at), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, at); err != nil {
			t.Fatal(err)
		}
	}
	share, certs := filepath.Join(dir, "share"), filepath.Join(dir, "certs")
	for i := range 3 {
		cn := fmt.Sprintf("grouped %d", i)
		cert(cn, filepath.Join(share, cn+".crt"), true)
		link(filepath.Join(share, cn+".crt"), filepath.Join(certs, cn+".pem"))
		link(cn+".pem", filepath.Join(certs, fmt.Sprintf("%08x.0", i))) // skipped
	}
	cert("dotdot", filepath.Join(share, "sub", "dotdot.crt"), true)
	link(share+"/sub/../sub/dotdot.crt", filepath.Join(certs, "dotdot.pem"))
	cert("via", filepath.Join(dir, "other", "via.crt"), true)
	link(filepath.Join(dir, "other"), filepath.Join(dir, "via"))
	link(filepath.Join(dir, "via", "via.crt"), filepath.Join(certs, "via.pem"))
	cert("relative", filepath.Join(share, "relative.crt"), true)
	link("../share/relative.crt", filepath.Join(certs, "relative.pem"))
	cert("plain", filepath.Join(certs, "plain.pem"), true)
	link("plain.pem", filepath.Join(certs, "plain.0"))                       // skipped, but plain.pem is read
	link(filepath.Join(certs, "grouped 0.pem"), filepath.Join(certs, "abs")) // a link to a link, read again
	link(share+"/", filepath.Join(certs, "slash.pem"))                       // a directory
	link(share+"/.", filepath.Join(certs, "dot.pem"))
	link(share+"/..", filepath.Join(certs, "up.pem"))
	link("/", filepath.Join(certs, "root.pem"))
	link(filepath.Join(dir, "nowhere", "x.crt"), filepath.Join(certs, "gone.pem"))
	link(filepath.Join(share, "missing.crt"), filepath.Join(certs, "missing.pem"))
	cert("only linked", filepath.Join(certs, "sub", "only.pem"), true)
	link("sub/only.pem", filepath.Join(certs, "only.pem")) // a slash: read
	if err := os.Mkdir(filepath.Join(certs, "subdir"), 0o755); err != nil {
		t.Fatal(err)
	}

	// dir/lnk -> dir/deep/inner: "dir/lnk/../certs2" is dir/deep/certs2
	// to the kernel, dir/certs2 to filepath.Join.
	link(filepath.Join(dir, "deep", "inner"), filepath.Join(dir, "lnk"))
	if err := os.MkdirAll(filepath.Join(dir, "deep", "inner"), 0o755); err != nil {
		t.Fatal(err)
	}
	real, lexical := filepath.Join(dir, "deep", "certs2"), filepath.Join(dir, "certs2")
	cert("hidden by lexical", filepath.Join(share, "hidden.crt"), false)
	link(filepath.Join(share, "hidden.crt"), filepath.Join(real, "x.pem"))
	link("same-dir.pem", filepath.Join(lexical, "x.pem")) // what readlink sees: skip x.pem
	cert("not lexical", filepath.Join(share, "shown.crt"), true)
	link(filepath.Join(share, "shown.crt"), filepath.Join(real, "y.pem")) // no y.pem lexically: read
	cert("lexical only", filepath.Join(lexical, "z.pem"), false)
	cert("real plain", filepath.Join(real, "w.pem"), true)

	ll.dirs = []string{certs, filepath.Join(dir, "lnk") + "/../certs2", dir + "/lnk/../../share/sub"}
	return ll
}

// TestLinkRoutes: however the links of a directory go, the store reads
// what crypto/x509 reads.
func TestLinkRoutes(t *testing.T) {
	ll := newLinkLayout(t)
	ref, err := referenceCerts(nil, ll.dirs)
	if err != nil {
		t.Fatal(err)
	}
	held := map[string]bool{}
	for _, c := range ref {
		held[c.Subject.CommonName] = true
	}
	for cn, in := range ll.want {
		if held[cn] != in {
			t.Fatalf("the reference loader holds %q: %v, the layout expects %v; it tests nothing", cn, held[cn], in)
		}
	}
	checkAgainstReference(t, newStore(nil, ll.dirs), nil, ll.dirs, ll.certs)
}
