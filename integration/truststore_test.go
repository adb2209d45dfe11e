package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The system trust store as production reads it (a bundle file, here a
// copy of the machine's with or without the test CA as SSL_CERT_FILE, and
// every file of /etc/ssl/certs), with its index kept between runs: the
// run that writes the index and the runs that take the store from it give
// real Postfix the verdict openssl s_client gives with the same bundle.
func TestSystemStoreIndexRealPostfix(t *testing.T) {
	requireServer(t, "POSTFIX")
	system, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err != nil {
		t.Skip("no system bundle:", err)
	}
	ca, err := os.ReadFile(srv["CA"])
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	with, without := filepath.Join(dir, "with-ca.pem"), filepath.Join(dir, "without-ca.pem")
	if err := os.WriteFile(with, append(append(append([]byte(nil), system...), '\n'), ca...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(without, system, 0o644); err != nil {
		t.Fatal(err)
	}
	// An index never vouches for a file changed less than 2 s before it
	// was written: wait that out, so that the second run is a warm one.
	time.Sleep(2100 * time.Millisecond)

	cache := filepath.Join(dir, "cache")
	for _, c := range []struct {
		bundle, status, openssl string
		code                    int
	}{
		{with, "SMTP OK: ", "Verification: OK", 0},
		{without, "SMTP CRITICAL: certificate signed by unknown authority", "Verification error: self-signed certificate in certificate chain", 2},
	} {
		env := []string{"SSL_CERT_FILE=" + c.bundle, "SSL_CERT_DIR=", "CHECK_SMTP_TRUST_CACHE=" + cache}
		before, _ := filepath.Glob(filepath.Join(cache, "truststore-*"))
		for _, run := range []string{"cold", "warm"} {
			r := runCheck(t, env, "-H", "127.0.0.1", "-p", srv["POSTFIX_SMTP"], "-S")
			checkPluginContract(t, r)
			if r.code != c.code || !strings.HasPrefix(r.stdout, c.status) {
				t.Errorf("%s, %s run: want exit %d and %q\n%s", filepath.Base(c.bundle), run, c.code, c.status, r)
			}
			after, _ := filepath.Glob(filepath.Join(cache, "truststore-*"))
			if run == "cold" && len(after) != len(before)+1 {
				t.Errorf("%s: the cold run wrote no index of its own (%v, then %v)", filepath.Base(c.bundle), before, after)
			}
		}
		out, _ := tool(t, "", nil, "openssl", "s_client", "-brief", "-starttls", "smtp",
			"-connect", "127.0.0.1:"+srv["POSTFIX_SMTP"], "-verify_ip", "127.0.0.1", "-CAfile", c.bundle)
		if !strings.Contains(out, c.openssl) {
			t.Errorf("openssl s_client with %s: want %q\n%s", filepath.Base(c.bundle), c.openssl, out)
		}
	}
}
