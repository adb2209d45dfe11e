// Package tlsverify judges the certificate chain a server presented: PKIX
// path and name verification against the trust store, and how a failure
// reads for an operator. It does not judge expiry against thresholds (the
// evaluation does) and does no network I/O.
package tlsverify

import (
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"time"
)

// Roots says which certificates anchor a chain: the --cafile roots, if any,
// and the system trust store.
type Roots struct {
	Extra    *x509.CertPool // --cafile; nil: system roots only
	ExtraPEM []byte         // the same roots as PEM, added to the system pools
	CertFile string         // SSL_CERT_FILE as read at start-up; "" = the distribution bundles
}

// Reason classifies a verification failure.
type Reason int

const (
	Other Reason = iota
	UnknownAuthority
	NameMismatch
	Expired // not valid at the time of the check
	NoCertificate
)

// Error is a failed verification, worded for an operator.
type Error struct {
	Reason Reason
	Text   string
	Err    error // the x509 error, if any
}

func (e *Error) Error() string { return e.Text }
func (e *Error) Unwrap() error { return e.Err }

// DaysLeft is the number of whole days until cert expires; negative once it
// has expired.
func DaysLeft(cert *x509.Certificate, now time.Time) int {
	return int(math.Floor(cert.NotAfter.Sub(now).Hours() / 24))
}

// Verify checks chain (leaf first, as presented) against roots and the leaf
// against serverName. Expiry is judged elsewhere, so a leaf that has only
// expired is verified as of just before its NotAfter: the operator gets
// "expired N days ago" rather than a generic x509 error.
func Verify(chain []*x509.Certificate, serverName string, roots *Roots, now time.Time) error {
	if len(chain) == 0 {
		return &Error{Reason: NoCertificate, Text: "server sent no certificate"}
	}
	leaf := chain[0]
	at := now
	if now.After(leaf.NotAfter) {
		at = leaf.NotAfter.Add(-time.Second)
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	var err error = x509.UnknownAuthorityError{Cert: leaf} // if no pool loads
	for _, pool := range roots.pools() {
		p, perr := pool()
		if perr != nil || p == nil {
			continue
		}
		_, err = leaf.Verify(x509.VerifyOptions{Roots: p, Intermediates: inter, CurrentTime: at})
		var ua x509.UnknownAuthorityError
		if err == nil || !errors.As(err, &ua) {
			break // verified, or failed for a reason more roots cannot change
		}
	}
	if err != nil {
		return describe(err, leaf)
	}
	if err := leaf.VerifyHostname(serverName); err != nil {
		return describe(err, leaf)
	}
	return nil
}

// systemBundles are the single-file root bundles of the common Linux
// distributions (as in Go's crypto/x509 root loader).
var systemBundles = [...]string{
	"/etc/ssl/certs/ca-certificates.crt",
	"/etc/pki/tls/certs/ca-bundle.crt",
	"/etc/ssl/ca-bundle.pem",
	"/etc/pki/tls/cacert.pem",
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
	"/etc/ssl/cert.pem",
}

// pools lists the root pools to try, cheapest first, each a superset of the
// ones before in the common case: the --cafile roots; the system bundle
// file; the whole system pool (bundle plus every file of /etc/ssl/certs,
// which costs some 20 ms to parse). The --cafile roots are in all of them.
// Stopping at the first pool that anchors the chain gives the same verdict
// as the full pool at a fraction of the cost.
func (r *Roots) pools() []func() (*x509.CertPool, error) {
	var pools []func() (*x509.CertPool, error)
	if r.Extra != nil {
		pools = append(pools, func() (*x509.CertPool, error) { return r.Extra, nil })
	}
	pools = append(pools,
		func() (*x509.CertPool, error) {
			files := systemBundles[:]
			if r.CertFile != "" {
				files = []string{r.CertFile}
			}
			for _, f := range files {
				if pem, err := os.ReadFile(f); err == nil {
					pool := x509.NewCertPool()
					if pool.AppendCertsFromPEM(pem) {
						pool.AppendCertsFromPEM(r.ExtraPEM)
						return pool, nil
					}
				}
			}
			return nil, errors.New("no system bundle")
		},
		func() (*x509.CertPool, error) {
			pool, err := x509.SystemCertPool()
			if err == nil {
				pool.AppendCertsFromPEM(r.ExtraPEM)
			}
			return pool, err
		})
	return pools
}

func describe(err error, leaf *x509.Certificate) error {
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	switch {
	case errors.As(err, &ua):
		return &Error{UnknownAuthority, fmt.Sprintf("certificate signed by unknown authority (issuer %q; use --cafile or -k)", leaf.Issuer.String()), err}
	case errors.As(err, &he):
		// x509's own wording lists only the IP SANs when the host is an IP
		// literal ("doesn't contain any IP SANs"): name every name instead.
		names := Names(leaf)
		if names == "" {
			return &Error{NameMismatch, fmt.Sprintf("certificate has no subject alternative names (subject %q; its Common Name is not a name to verify), so not valid for %s (use -k)",
				leaf.Subject.String(), he.Host), err}
		}
		return &Error{NameMismatch, fmt.Sprintf("certificate is valid for %s, not %s (use --sni=NAME or -k)", names, he.Host), err}
	case errors.As(err, &ci) && ci.Reason == x509.Expired:
		return &Error{Expired, fmt.Sprintf("certificate not valid at this time (NotBefore %s, NotAfter %s)",
			leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339)), err}
	}
	return &Error{Other, "certificate not trusted: " + TrimPrefix(err), err}
}

// Names lists the DNS and IP subject alternative names, the first few only:
// a shared-hosting certificate can carry hundreds.
func Names(leaf *x509.Certificate) string {
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

// TrimPrefix drops the "tls: " or "x509: " prefix of a crypto error.
func TrimPrefix(err error) string {
	s := err.Error()
	for _, p := range []string{"tls: ", "x509: "} {
		s = strings.TrimPrefix(s, p)
	}
	return s
}
