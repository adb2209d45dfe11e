package dane

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// opensslDANE is OpenSSL's own verdict on a chain served over a loopback
// TLS connection: whether s_client verified it with the given TLSA records,
// and its output.
type opensslDANE struct {
	verified bool
	output   string
}

// lookOpenSSL finds the openssl binary or skips the test.
func lookOpenSSL(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is not on PATH: the independent check of the DANE verdicts against OpenSSL needs it")
	}
	return bin
}

func writePEM(t *testing.T, path, typ string, ders ...[]byte) {
	t.Helper()
	var b []byte
	for _, d := range ders {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: d})...)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// runOpenSSL serves chain (leaf first, the leaf's key is leafKey) with
// openssl s_server on 127.0.0.1 and connects with openssl s_client doing
// DANE for host with records, at time at, name checks off for DANE-EE as
// RFC 7672 section 3.1.1 wants (Postfix sets the same flag).
func runOpenSSL(t *testing.T, bin string, chain []*x509.Certificate, leaf *node, records []Record, host string, at time.Time) opensslDANE {
	t.Helper()
	dir := t.TempDir()
	keyDER, err := x509.MarshalPKCS8PrivateKey(leaf.key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, "leaf.key"), "PRIVATE KEY", keyDER)
	writePEM(t, filepath.Join(dir, "leaf.pem"), "CERTIFICATE", chain[0].Raw)
	var rest [][]byte
	for _, c := range chain[1:] {
		rest = append(rest, c.Raw)
	}
	serverArgs := []string{"s_server", "-accept", "127.0.0.1:0", "-naccept", "1",
		"-cert", filepath.Join(dir, "leaf.pem"), "-key", filepath.Join(dir, "leaf.key")}
	if len(rest) > 0 {
		writePEM(t, filepath.Join(dir, "chain.pem"), "CERTIFICATE", rest...)
		serverArgs = append(serverArgs, "-cert_chain", filepath.Join(dir, "chain.pem"))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	server := exec.CommandContext(ctx, bin, serverArgs...)
	out, err := server.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	// s_server reads commands from its stdin and shuts down at its end:
	// keep it open for as long as the server is needed.
	stdin, err := server.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	server.Stderr = os.Stderr
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	// End the server we started, by its PID, whatever happens below.
	defer func() {
		_ = stdin.Close()
		_ = server.Process.Kill()
		_ = server.Wait()
	}()
	port := ""
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		if a, ok := strings.CutPrefix(lines.Text(), "ACCEPT "); ok {
			port = a[strings.LastIndex(a, ":")+1:]
			break
		}
	}
	if _, err := strconv.Atoi(port); err != nil {
		t.Fatalf("openssl s_server did not say where it listens (%v)", lines.Err())
	}
	go func() { // keep the server from blocking on a full pipe
		for lines.Scan() {
		}
	}()

	clientArgs := []string{"s_client", "-connect", "127.0.0.1:" + port, "-servername", host,
		"-dane_tlsa_domain", host, "-dane_ee_no_namechecks",
		"-attime", strconv.FormatInt(at.Unix(), 10)}
	for _, r := range records {
		clientArgs = append(clientArgs, "-dane_tlsa_rrdata", r.String())
	}
	client := exec.CommandContext(ctx, bin, clientArgs...)
	client.Stdin = strings.NewReader("")
	b, err := client.CombinedOutput()
	if err != nil {
		t.Logf("openssl s_client: %v", err)
	}
	o := string(b)
	if !strings.Contains(o, "\nServer certificate\n") {
		t.Fatalf("openssl s_client saw no server certificate, the test harness is broken:\n%s", o)
	}
	return opensslDANE{verified: strings.Contains(o, "\nVerification: OK\n"), output: o}
}

// daneLine is OpenSSL's report of the record that matched, e.g.
// "DANE TLSA 3 1 1 ...c0ffee matched EE certificate at depth 0".
func (o opensslDANE) daneLine() string {
	for l := range strings.SplitSeq(o.output, "\n") {
		if strings.HasPrefix(l, "DANE TLSA ") {
			return l
		}
	}
	return ""
}

// TestOpenSSLAgrees checks verdicts independently: OpenSSL, the DANE code
// of Postfix and Exim, judges the same chain and records over a real TLS
// connection on loopback, and Verify must say match exactly when OpenSSL
// says "Verification: OK", by the record OpenSSL names.
func TestOpenSSLAgrees(t *testing.T) {
	bin := lookOpenSSL(t)
	p := newPKI(t)
	old := clock().Add(-400 * 24 * time.Hour)
	expired := spec{notBefore: old, notAfter: clock().Add(-24 * time.Hour)}
	named := func(s spec, cn string) spec { s.cn = cn; return s }

	renewed := issue(t, spec{cn: mxHost}, p.inter, false)
	expiredLeaf := issue(t, named(expired, mxHost), p.inter, false)
	wrongName := issue(t, spec{cn: "other", dnsNames: []string{"other.example.org"}}, p.inter, false)
	expiredOther := issue(t, spec{cn: "other", dnsNames: []string{"other.example.org"}, notBefore: old, notAfter: clock().Add(-time.Hour)}, p.inter, false)
	cnOnly := issue(t, spec{cn: mxHost, noSAN: true}, p.inter, false)
	expInter := issue(t, named(expired, "Expired Intermediate"), p.root, true)
	leafExpInter := issue(t, spec{cn: mxHost}, expInter, false)
	expRoot := issue(t, named(expired, "Expired Root"), nil, true)
	interExpRoot := issue(t, spec{cn: "Intermediate"}, expRoot, true)
	leafExpRoot := issue(t, spec{cn: mxHost}, interExpRoot, false)
	notCA := issue(t, spec{cn: "Not a CA", notCA: true}, p.root, true)
	leafNotCA := issue(t, spec{cn: mxHost}, notCA, false)

	chainOf := func(n ...*node) []*x509.Certificate {
		var c []*x509.Certificate
		for _, x := range n {
			c = append(c, x.cert)
		}
		return c
	}
	for _, tc := range []struct {
		name  string
		chain []*x509.Certificate
		leaf  *node
		rec   Record
		want  Result
	}{
		{"DANE-EE 3 1 1 match", p.chain(false), p.leaf, RecordFor(p.leaf.cert, 3, 1, 1), Match},
		{"DANE-EE 3 1 1 after renewal", chainOf(renewed, p.inter), renewed, RecordFor(p.leaf.cert, 3, 1, 1), Mismatch},
		{"DANE-EE 3 0 2 expired, wrong name", chainOf(expiredOther), expiredOther, RecordFor(expiredOther.cert, 3, 0, 2), Match},
		{"DANE-TA 2 1 1 intermediate", p.chain(false), p.leaf, RecordFor(p.inter.cert, 2, 1, 1), Match},
		{"DANE-TA 2 0 1 root, out of order", chainOf(p.leaf, p.root, p.inter), p.leaf, RecordFor(p.root.cert, 2, 0, 1), Match},
		{"DANE-TA 2 1 1 root absent", p.chain(false), p.leaf, RecordFor(p.root.cert, 2, 1, 1), Mismatch},
		{"DANE-TA 2 1 0 root absent", p.chain(false), p.leaf, RecordFor(p.root.cert, 2, 1, 0), Match},
		{"DANE-TA 2 0 0 intermediate absent", chainOf(p.leaf), p.leaf, RecordFor(p.inter.cert, 2, 0, 0), Match},
		{"DANE-TA 2 1 1 on the leaf", p.chain(false), p.leaf, RecordFor(p.leaf.cert, 2, 1, 1), Mismatch},
		{"DANE-TA wrong name", chainOf(wrongName, p.inter), wrongName, RecordFor(p.inter.cert, 2, 1, 1), Mismatch},
		{"DANE-TA CN only", chainOf(cnOnly, p.inter), cnOnly, RecordFor(p.inter.cert, 2, 1, 1), Match},
		{"DANE-TA expired leaf", chainOf(expiredLeaf, p.inter), expiredLeaf, RecordFor(p.inter.cert, 2, 1, 2), Mismatch},
		{"DANE-TA root, expired intermediate", chainOf(leafExpInter, expInter, p.root), leafExpInter, RecordFor(p.root.cert, 2, 1, 1), Mismatch},
		{"DANE-TA expired intermediate anchor", chainOf(leafExpInter, expInter), leafExpInter, RecordFor(expInter.cert, 2, 1, 1), Match},
		{"DANE-TA expired root anchor", chainOf(leafExpRoot, interExpRoot, expRoot), leafExpRoot, RecordFor(expRoot.cert, 2, 1, 1), Mismatch},
		{"DANE-TA 2 1 0 expired root key", chainOf(leafExpRoot, interExpRoot), leafExpRoot, RecordFor(expRoot.cert, 2, 1, 0), Match},
		{"DANE-TA not a CA", chainOf(leafNotCA, notCA), leafNotCA, RecordFor(notCA.cert, 2, 1, 1), Mismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			records := []Record{tc.rec}
			v := Verify(records, tc.chain, mxHost, clock())
			if v.Result != tc.want {
				t.Errorf("Verify: %v, want %v: %s", v.Result, tc.want, v.Describe(25, mxHost))
			}
			o := runOpenSSL(t, bin, tc.chain, tc.leaf, records, mxHost, clock())
			if o.verified != (v.Result == Match) {
				t.Fatalf("OpenSSL verified %v, Verify says %v (%s); OpenSSL said:\n%s", o.verified, v.Result, v.Describe(25, mxHost), o.output)
			}
			if o.verified {
				want := fmt.Sprintf("DANE TLSA %d %d %d ", tc.rec.Usage, tc.rec.Selector, tc.rec.MatchingType)
				if l := o.daneLine(); !strings.HasPrefix(l, want) {
					t.Errorf("OpenSSL matched %q, want a %q line", l, want)
				}
			}
		})
	}
}
