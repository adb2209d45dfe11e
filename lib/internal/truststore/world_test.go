package truststore

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// world is a generated trust store laid out like a Linux one: a bundle
// file among other candidate files, a hashed directory and a second
// directory, with the chains to check against it.
type world struct {
	files, dirs []string
	cas         map[string]*ca
	leaves      []*ca    // leaf certificates to verify
	inters      []*ca    // intermediates a server may present
	mInters     []*ca    // the same, for the leaves issued under Root M
	extraPEM    []byte   // --cafile roots
	extraLeaf   *ca      // issued by the --cafile root
	bigOffset   int      // where the subject of the big certificate ends in its DER
	storeCount  int      // certificate blocks in the store, duplicates included
	hashedNames []string // same-directory links (skipped by crypto/x509)
}

// worldBuilder carries the testing.TB while the world is made.
type worldBuilder struct {
	*world
	t testing.TB
}

func newWorld(t testing.TB) *world {
	t.Helper()
	dir := t.TempDir()
	wb := &worldBuilder{world: &world{cas: map[string]*ca{}}, t: t}
	return wb.build(dir)
}

func (w *worldBuilder) ca(name string, s certSpec) *ca {
	c := makeCert(w.t, s)
	w.cas[name] = c
	return c
}

func (w *worldBuilder) build(dir string) *world {
	t := w.t
	var bundle bytes.Buffer
	put := func(c *ca) { bundle.Write(pemOf(c.cert)); w.storeCount++ }

	// Two roots with one subject, the later one the real issuer of most.
	a2 := w.ca("A2", certSpec{subject: name("Root A")})
	a := w.ca("A", certSpec{subject: name("Root A")})
	// B expires early; its cross-sign by A does not.
	b := w.ca("B", certSpec{subject: name("Root B"), notAfter: epoch.AddDate(0, 1, 0)})
	bxa := w.ca("BxA", certSpec{subject: name("Root B"), key: b.key, parent: a})
	// E has expired; its cross-sign by A is valid.
	e := w.ca("E", certSpec{subject: name("Root E"), notAfter: epoch.AddDate(0, -1, 0)})
	exa := w.ca("ExA", certSpec{subject: name("Root E"), key: e.key, parent: a})
	// D in the bundle, another D only in the directory.
	d2 := w.ca("D2", certSpec{subject: name("Root D")})
	d := w.ca("D", certSpec{subject: name("Root D")})
	// C: an RSA root in the bundle, another C in a CRLF file.
	c1 := w.ca("C1", certSpec{subject: name("Root C"), key: rsaKey(t, 2048)})
	c2 := w.ca("C2", certSpec{subject: name("Root C")})
	// Z is in a bundle file that is not read (an earlier one exists).
	z := w.ca("Z", certSpec{subject: name("Root Z")})
	// A subject too long for the decoded prefix, and a certificate
	// whose issuer and subject both are.
	long := pkix.Name{CommonName: "Root Big", Organization: []string{"truststore test"}}
	for i := range 12 {
		long.OrganizationalUnit = append(long.OrganizationalUnit, fmt.Sprintf("unit %02d %s", i, strings.Repeat("x", 30)))
	}
	big := w.ca("Big", certSpec{subject: long})
	long2 := long
	long2.CommonName = "Inter Big"
	big2 := w.ca("Big2", certSpec{subject: long2, parent: big})
	w.bigOffset = bytes.Index(big2.cert.Raw, big2.cert.RawSubject) + len(big2.cert.RawSubject)

	// Forty roots named M, and the one with the key that issues in the
	// directory, last: a certificate with a wrong authority key id makes
	// Verify try them all in order. X1 and X2 re-issue that key under the
	// same name (as cross-signs do), so each step tries the forty again;
	// Y1 and Y2 do the same for a key no root of the store has, until
	// Verify gives up at its limit of signature checks.
	var ms []*ca
	for i := range 40 {
		ms = append(ms, w.ca(fmt.Sprintf("M%d", i), certSpec{subject: name("Root M")}))
	}
	mGood := w.ca("Mgood", certSpec{subject: name("Root M")})
	x1 := w.ca("X1", certSpec{subject: name("Root M"), key: mGood.key, parent: mGood, aki: akiWrong})
	x2 := w.ca("X2", certSpec{subject: name("Root M"), key: mGood.key, parent: mGood, aki: akiWrong})
	mAbsent := w.ca("Mabsent", certSpec{subject: name("Root M")})
	y1 := w.ca("Y1", certSpec{subject: name("Root M"), key: mAbsent.key, parent: mAbsent, aki: akiWrong})
	y2 := w.ca("Y2", certSpec{subject: name("Root M"), key: mAbsent.key, parent: mAbsent, aki: akiWrong})

	inter := w.ca("I", certSpec{subject: name("Inter I"), parent: a})
	ib := w.ca("IB", certSpec{subject: name("Inter B"), parent: b})
	ie := w.ca("IE", certSpec{subject: name("Inter E"), parent: e})
	iz := w.ca("IZ", certSpec{subject: name("Inter Z"), parent: z})
	inc := w.ca("INC", certSpec{subject: name("Inter NC"), parent: a, permitted: []string{"allowed.test"}})
	w.inters = []*ca{inter, ib, bxa, ie, exa, iz, inc, big2}
	w.mInters = []*ca{x1, x2, y1, y2}

	// Certificate-looking blocks crypto/x509 skips, all named Root A.
	corrupt := makeCert(t, certSpec{subject: name("Root A")})
	headers := makeCert(t, certSpec{subject: name("Root A")})
	trusted := makeCert(t, certSpec{subject: name("Root A")})
	broken := makeCert(t, certSpec{subject: name("Root A")})
	w.cas["corrupt"], w.cas["headers"], w.cas["trusted"], w.cas["broken"] = corrupt, headers, trusted, broken

	// The bundle: fillers around the named roots.
	for i := range 30 {
		put(makeCert(t, certSpec{subject: name(fmt.Sprintf("Filler %03d", i))}))
	}
	put(a2)
	for _, m := range ms {
		put(m)
	}
	bundle.WriteString("# a comment line between blocks\n\n")
	put(a)
	put(b)
	put(bxa)
	put(e)
	put(d2)
	put(c1)
	put(big)
	for i := 30; i < 95; i++ {
		put(makeCert(t, certSpec{subject: name(fmt.Sprintf("Filler %03d", i))}))
	}
	// A corrupt block: valid base64 at the start, a bad character near
	// the end.
	cp := pemOf(corrupt.cert)
	cp[len(cp)-40] = '!'
	bundle.Write(cp)
	// A block that decodes but does not parse (cut after the subject).
	bundle.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: broken.cert.Raw[:len(broken.cert.Raw)-20]}))
	w.storeCount += 2

	// Candidate bundle files: the first does not exist, the second is
	// read, the third never is.
	w.files = []string{
		filepath.Join(dir, "no-such-bundle.pem"),
		filepath.Join(dir, "etc/ca-bundle.crt"),
		filepath.Join(dir, "etc/other-bundle.crt"),
	}
	writeFile(t, w.files[1], bundle.Bytes())
	writeFile(t, w.files[2], pemOf(z.cert))

	// The hashed directory.
	certs := filepath.Join(dir, "certs")
	share := filepath.Join(dir, "share")
	writeFile(t, filepath.Join(certs, "ca-certificates.crt"), bundle.Bytes()) // the bundle again
	for i, c := range []*ca{a, bxa, c1, ms[3]} {
		// name.pem -> /abs/share/name.crt (read), hash.0 -> name.pem (skipped)
		base := fmt.Sprintf("root%d", i)
		writeFile(t, filepath.Join(share, base+".crt"), pemOf(c.cert))
		if err := os.Symlink(filepath.Join(share, base+".crt"), filepath.Join(certs, base+".pem")); err != nil {
			t.Fatal(err)
		}
		hash := fmt.Sprintf("%08x.0", i)
		if err := os.Symlink(base+".pem", filepath.Join(certs, hash)); err != nil {
			t.Fatal(err)
		}
		w.hashedNames = append(w.hashedNames, hash)
	}
	// A same-directory link to a file only it names: skipped, so its
	// root is not in the store... but the file itself is read.
	writeFile(t, filepath.Join(certs, "d-root.pem"), append(pemOf(d.cert), pemOf(inter.cert)...))
	if err := os.Symlink("d-root.pem", filepath.Join(certs, "00aaaaaa.0")); err != nil {
		t.Fatal(err)
	}
	// D re-issued with its key, in a file between that link and its
	// target: were the link read, D would come before it, and Verify
	// would list the two chains of d.test the other way round.
	d4 := w.ca("D4", certSpec{subject: name("Root D"), key: d.key})
	writeFile(t, filepath.Join(certs, "c-root-d.pem"), pemOf(d4.cert))
	// A link with a slash to a file of the same directory: read again.
	if err := os.Symlink("./d-root.pem", filepath.Join(certs, "dot.pem")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/nonexistent/gone.pem", filepath.Join(certs, "gone.pem")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(certs, "java"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(certs, "README"), []byte("not a certificate\n-----END nothing-----\n"))
	writeFile(t, filepath.Join(certs, "crlf.pem"), bytes.ReplaceAll(pemOf(c2.cert), []byte("\n"), []byte("\r\n")))
	writeFile(t, filepath.Join(certs, "zz-late.pem"), pemOf(mGood.cert))
	writeFile(t, filepath.Join(certs, "blanks.pem"), blankLines(pemOf(e.cert)))
	writeFile(t, filepath.Join(certs, "wide.pem"), wideLines(exa.cert.Raw, 76))
	// Lines that split base64 quanta, holding a third Root D.
	d3 := w.ca("D3", certSpec{subject: name("Root D")})
	writeFile(t, filepath.Join(certs, "odd.pem"), wideLines(d3.cert.Raw, 66))
	writeFile(t, filepath.Join(certs, "headers.pem"), pem.EncodeToMemory(&pem.Block{
		Type: "CERTIFICATE", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: headers.cert.Raw}))
	writeFile(t, filepath.Join(certs, "trusted.pem"), pem.EncodeToMemory(&pem.Block{Type: "TRUSTED CERTIFICATE", Bytes: trusted.cert.Raw}))
	w.storeCount += 12

	// A second directory, after a missing one.
	more := filepath.Join(dir, "more")
	writeFile(t, filepath.Join(more, "inter-b.pem"), pemOf(ib.cert))
	w.storeCount++
	w.dirs = []string{certs, filepath.Join(dir, "missing-dir"), more}

	// --cafile: a root of its own, a duplicate of A, and junk.
	x := w.ca("Xtra", certSpec{subject: name("Root Xtra")})
	w.extraPEM = append(append(pemOf(x.cert), pemOf(a.cert)...), "junk\n"...)
	w.extraLeaf = makeCert(t, certSpec{subject: name("xtra.test"), leaf: true, parent: x})

	leaf := func(cn string, s certSpec) {
		s.subject, s.leaf = name(cn), true
		w.leaves = append(w.leaves, makeCert(t, s))
	}
	leaf("a.test", certSpec{parent: a})
	leaf("a-noaki.test", certSpec{parent: a, aki: akiNone})
	leaf("a-wrongaki.test", certSpec{parent: a, aki: akiWrong})
	leaf("a2.test", certSpec{parent: a2})
	leaf("i.test", certSpec{parent: inter})
	leaf("ib.test", certSpec{parent: ib})
	leaf("ie.test", certSpec{parent: ie})
	leaf("iz.test", certSpec{parent: iz})
	leaf("d.test", certSpec{parent: d})
	leaf("d2.test", certSpec{parent: d2})
	leaf("d3.test", certSpec{parent: d3})
	leaf("c1.test", certSpec{parent: c1})
	leaf("c2.test", certSpec{parent: c2})
	leaf("big.test", certSpec{parent: big2})
	leaf("m.test", certSpec{parent: mGood, aki: akiWrong})
	leaf("m-absent.test", certSpec{parent: mAbsent, aki: akiWrong})
	leaf("expired.test", certSpec{parent: a, notAfter: epoch.AddDate(0, 0, -1)})
	leaf("client.test", certSpec{parent: a, extKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	leaf("denied.test", certSpec{parent: inc})
	leaf("allowed.test", certSpec{parent: inc})
	leaf("corrupt.test", certSpec{parent: corrupt})
	leaf("headers.test", certSpec{parent: headers})
	leaf("broken.test", certSpec{parent: broken})
	leaf("self.test", certSpec{})
	w.leaves = append(w.leaves, w.extraLeaf)
	// A self-signed leaf that the store holds.
	inStore := makeCert(t, certSpec{subject: name("stored.test"), leaf: true})
	writeFile(t, filepath.Join(more, "stored-leaf.pem"), pemOf(inStore.cert))
	w.storeCount++
	w.leaves = append(w.leaves, inStore)
	// A leaf the store holds, issued by a root it does not: Verify takes
	// the leaf itself as the root.
	pinned := makeCert(t, certSpec{subject: name("pinned.test"), leaf: true, parent: z})
	writeFile(t, filepath.Join(more, "pinned-leaf.pem"), pemOf(pinned.cert))
	w.storeCount++
	w.leaves = append(w.leaves, pinned)
	return w.world
}

// blankLines puts spaces and tabs into the base64 lines of a PEM block.
func blankLines(p []byte) []byte {
	lines := bytes.Split(p, []byte("\n"))
	for i := 1; i < len(lines)-2; i++ {
		if i%2 == 0 {
			lines[i] = append([]byte(" \t"), lines[i]...)
		}
	}
	return bytes.Join(lines, []byte("\n"))
}

// wideLines encodes der in lines of width characters.
func wideLines(der []byte, width int) []byte {
	s := base64.StdEncoding.EncodeToString(der)
	var b bytes.Buffer
	b.WriteString("-----BEGIN CERTIFICATE-----\n")
	for len(s) > width {
		b.WriteString(s[:width] + "\n")
		s = s[width:]
	}
	b.WriteString(s + "\n-----END CERTIFICATE-----\n")
	return b.Bytes()
}
