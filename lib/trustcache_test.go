package checksmtp

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mackerelio/checkers"

	"github.com/check-smtp/check-smtp/lib/internal/smtptest"
)

// TestMain keeps the trust store's index out of the user's cache
// directory: every run of this package's tests keeps it in a temporary one.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "check-smtp-trust-cache-")
	if err != nil {
		panic(err)
	}
	os.Setenv("CHECK_SMTP_TRUST_CACHE", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// The system store's index is kept where CHECK_SMTP_TRUST_CACHE says, and
// a check that takes the store from it says what one that reads the whole
// store says. The machine's own store is used (its files are old enough
// for an index to be written: a file changed within two seconds is never
// taken from one), with a chain it does not anchor, and then with --cafile.
// Not parallel: t.Setenv.
func TestTrustCacheEndToEnd(t *testing.T) {
	if _, err := os.Stat("/etc/ssl/certs"); err != nil {
		t.Skip("no /etc/ssl/certs on this machine:", err)
	}
	t.Setenv("SSL_CERT_FILE", "")
	t.Setenv("SSL_CERT_DIR", "")
	certs := smtptest.NewCerts(t)
	untrusted := smtptest.Case{
		Script: smtptest.Script(smtptest.STARTTLS()), TLS: smtptest.ServerTLS(certs.Valid),
		Args:   []string{"-S"},
		Status: checkers.CRITICAL, Output: `^SMTP CRITICAL: certificate signed by unknown authority \(issuer "CN=check-smtp test CA"\): not anchored by the system roots`,
	}
	index := func(dir string) []string {
		names, _ := filepath.Glob(filepath.Join(dir, "truststore-*"))
		return names
	}

	t.Run("off keeps no index", func(t *testing.T) {
		t.Setenv("CHECK_SMTP_TRUST_CACHE", "off")
		t.Setenv("XDG_CACHE_HOME", t.TempDir())
		expect(t, untrusted)
		if got := index(filepath.Join(os.Getenv("XDG_CACHE_HOME"), "check-smtp")); len(got) != 0 {
			t.Errorf("CHECK_SMTP_TRUST_CACHE=off wrote %v", got)
		}
	})

	dir := filepath.Join(t.TempDir(), "cache")
	t.Setenv("CHECK_SMTP_TRUST_CACHE", dir)
	expect(t, untrusted) // cold: reads everything, writes the index
	files := index(dir)
	if len(files) != 1 {
		t.Fatalf("index files in %s after a verified check: %v", dir, files)
	}
	st, err := os.Stat(dir)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("cache directory: %v, mode %v; want 0700", err, st.Mode().Perm())
	}
	before, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	expect(t, untrusted)     // warm: the same verdict from the index
	expect(t, smtptest.Case{ // and --cafile still anchors it
		Script: smtptest.Script(smtptest.STARTTLS(), smtptest.EHLOAgain(), smtptest.Tail()), TLS: smtptest.ServerTLS(certs.Valid),
		Args:   []string{"-S", "--cafile", certs.CAFile},
		Status: checkers.OK, Output: `^SMTP OK: `,
	})
	after, err := os.ReadFile(files[0])
	if err != nil || string(after) != string(before) {
		t.Errorf("a warm run rewrote the index (%v)", err)
	}

	// A damaged index costs a full read, never a different verdict.
	if err := os.WriteFile(files[0], []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	expect(t, untrusted)
}

func TestTrustCacheSetting(t *testing.T) {
	for _, tc := range []struct {
		value, xdg, home, want string
		bad                    bool
	}{
		{value: "/var/cache/x/", want: "/var/cache/x"},
		{value: "off"},
		{xdg: "/x", home: "/h", want: "/x/check-smtp"},
		{home: "/h", want: "/h/.cache/check-smtp"},
		{xdg: "relative", home: "/h", want: "/h/.cache/check-smtp"},
		{}, // no home: no cache
		{value: "relative/dir", bad: true},
		{value: "no", bad: true},
	} {
		env := environ{getenv: func(k string) string {
			return map[string]string{"CHECK_SMTP_TRUST_CACHE": tc.value, "XDG_CACHE_HOME": tc.xdg, "HOME": tc.home}[k]
		}}
		got, err := trustCacheDir(env)
		switch {
		case tc.bad && (err == nil || !strings.Contains(err.Error(), "CHECK_SMTP_TRUST_CACHE")):
			t.Errorf("%+v: got %q, %v; want an error naming the variable", tc, got, err)
		case !tc.bad && (err != nil || got != tc.want):
			t.Errorf("%+v: got %q, %v; want %q", tc, got, err, tc.want)
		}
	}
	// Through the whole check: an operator's mistake is UNKNOWN.
	t.Setenv("CHECK_SMTP_TRUST_CACHE", "cache")
	expect(t, smtptest.Case{Args: []string{"-H", "127.0.0.1", "-p", smtptest.ClosedPort(t)},
		Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: CHECK_SMTP_TRUST_CACHE="cache": want an absolute directory, or off`})
}
