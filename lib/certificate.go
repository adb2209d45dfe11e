package checksmtp

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	"github.com/mackerelio/checkers"
)

// tlsInfo is what the handshake showed: protocol, cipher and the leaf.
type tlsInfo struct {
	version string
	cipher  string
	leaf    *x509.Certificate
}

func newTLSInfo(st tls.ConnectionState) *tlsInfo {
	ti := &tlsInfo{version: tls.VersionName(st.Version), cipher: tls.CipherSuiteName(st.CipherSuite)}
	if len(st.PeerCertificates) > 0 {
		ti.leaf = st.PeerCertificates[0]
	}
	return ti
}

// daysLeft is the number of whole days until the leaf expires; negative once
// it has expired.
func daysLeft(leaf *x509.Certificate, now time.Time) int {
	return int(math.Floor(leaf.NotAfter.Sub(now).Hours() / 24))
}

// verifyPeer checks the chain against the roots and the name against the
// server name, unless -k. Expiry is judged separately (certFinding),
// so a certificate that has only expired verifies here as of just before its
// NotAfter: the operator gets "expired N days ago" rather than a generic
// x509 error, and --ignore-certificate-expiration can work.
func verifyPeer(st tls.ConnectionState, cfg *config, now time.Time) error {
	if len(st.PeerCertificates) == 0 {
		return errors.New("server sent no certificate")
	}
	if cfg.insecure {
		return nil
	}
	leaf := st.PeerCertificates[0]
	at := now
	if now.After(leaf.NotAfter) {
		at = leaf.NotAfter.Add(-time.Second)
	}
	inter := x509.NewCertPool()
	for _, c := range st.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	var err error = x509.UnknownAuthorityError{Cert: leaf} // if no pool loads
	for _, roots := range rootPools(cfg) {
		pool, perr := roots()
		if perr != nil || pool == nil {
			continue
		}
		_, err = leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, CurrentTime: at})
		var ua x509.UnknownAuthorityError
		if err == nil || !errors.As(err, &ua) {
			break // verified, or failed for a reason more roots cannot change
		}
	}
	if err != nil {
		return describeVerifyError(err, leaf)
	}
	if err := leaf.VerifyHostname(cfg.serverName); err != nil {
		return describeVerifyError(err, leaf)
	}
	return nil
}

// systemBundles are the single-file root bundles of the common Linux
// distributions (as in Go's crypto/x509 root loader).
var systemBundles = []string{
	"/etc/ssl/certs/ca-certificates.crt",
	"/etc/pki/tls/certs/ca-bundle.crt",
	"/etc/ssl/ca-bundle.pem",
	"/etc/pki/tls/cacert.pem",
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
	"/etc/ssl/cert.pem",
}

// rootPools lists the root pools to try, cheapest first, each a superset of
// the ones before in the common case: the --cafile roots; the system bundle
// file; the whole system pool (bundle plus every file of /etc/ssl/certs,
// which costs some 20 ms to parse). The --cafile roots are in all of them.
// Stopping at the first pool that anchors the chain gives the same verdict
// as the full pool at a fraction of the cost.
func rootPools(cfg *config) []func() (*x509.CertPool, error) {
	var pools []func() (*x509.CertPool, error)
	if cfg.extraRoots != nil {
		pools = append(pools, func() (*x509.CertPool, error) { return cfg.extraRoots, nil })
	}
	pools = append(pools,
		func() (*x509.CertPool, error) {
			files := systemBundles
			if f := os.Getenv("SSL_CERT_FILE"); f != "" {
				files = []string{f}
			}
			for _, f := range files {
				if pem, err := os.ReadFile(f); err == nil {
					pool := x509.NewCertPool()
					if pool.AppendCertsFromPEM(pem) {
						pool.AppendCertsFromPEM(cfg.extraRootsPEM)
						return pool, nil
					}
				}
			}
			return nil, errors.New("no system bundle")
		},
		func() (*x509.CertPool, error) {
			pool, err := x509.SystemCertPool()
			if err == nil {
				pool.AppendCertsFromPEM(cfg.extraRootsPEM)
			}
			return pool, err
		})
	return pools
}

func describeVerifyError(err error, leaf *x509.Certificate) error {
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	switch {
	case errors.As(err, &ua):
		return fmt.Errorf("certificate signed by unknown authority (issuer %q; use --cafile or -k)", leaf.Issuer.String())
	case errors.As(err, &he):
		// x509's own wording lists only the IP SANs when the host is an IP
		// literal ("doesn't contain any IP SANs"): name every name instead.
		names := certNames(leaf)
		if names == "" {
			return fmt.Errorf("certificate has no subject alternative names (subject %q; its Common Name is not a name to verify), so not valid for %s (use -k)",
				leaf.Subject.String(), he.Host)
		}
		return fmt.Errorf("certificate is valid for %s, not %s (use --sni=NAME or -k)", names, he.Host)
	case errors.As(err, &ci) && ci.Reason == x509.Expired:
		return fmt.Errorf("certificate not valid at this time (NotBefore %s, NotAfter %s)",
			leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return fmt.Errorf("certificate not trusted: %s", trimTLSPrefix(err))
}

// certNames lists the DNS and IP subject alternative names, the first few
// only: a shared-hosting certificate can carry hundreds.
func certNames(leaf *x509.Certificate) string {
	const shown = 5
	names := append([]string(nil), leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) > shown {
		return fmt.Sprintf("%s and %d more", strings.Join(names[:shown], ", "), len(names)-shown)
	}
	return strings.Join(names, ", ")
}

// certFinding judges the leaf's expiry against -D and
// --ignore-certificate-expiration; ok means nothing to report.
func certFinding(cfg *config, leaf *x509.Certificate, now time.Time) (finding, bool) {
	days := daysLeft(leaf, now)
	notAfter := leaf.NotAfter.UTC().Format(time.RFC3339)
	if now.After(leaf.NotAfter) {
		if cfg.ignoreExpiry {
			return finding{}, false
		}
		ago := int(math.Floor(now.Sub(leaf.NotAfter).Hours() / 24))
		return finding{checkers.CRITICAL, fmt.Sprintf("certificate expired %d days ago (NotAfter %s)", ago, notAfter)}, true
	}
	if !cfg.certDays {
		return finding{}, false
	}
	switch {
	case days < cfg.certCritDays:
		return finding{checkers.CRITICAL, fmt.Sprintf("certificate expires in %d days (NotAfter %s), fewer than %d", days, notAfter, cfg.certCritDays)}, true
	case days < cfg.certWarnDays:
		return finding{checkers.WARNING, fmt.Sprintf("certificate expires in %d days (NotAfter %s), fewer than %d", days, notAfter, cfg.certWarnDays)}, true
	}
	return finding{}, false
}

func trimTLSPrefix(err error) string {
	s := err.Error()
	for _, p := range []string{"tls: ", "x509: "} {
		s = strings.TrimPrefix(s, p)
	}
	return s
}

func (ti *tlsInfo) subject() string {
	if ti.leaf == nil {
		return ""
	}
	return ti.leaf.Subject.String()
}

func (ti *tlsInfo) issuer() string {
	if ti.leaf == nil {
		return ""
	}
	return ti.leaf.Issuer.String()
}

func (ti *tlsInfo) notAfter() string {
	if ti.leaf == nil {
		return ""
	}
	return ti.leaf.NotAfter.UTC().Format(time.RFC3339)
}
