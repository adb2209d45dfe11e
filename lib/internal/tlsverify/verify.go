// Package tlsverify judges the certificate chain a server presented: PKIX
// path and name verification against the trust store, and how a failure
// reads for an operator. It does not judge expiry against thresholds (the
// evaluation does) and does no network I/O. The system trust store is read
// through truststore, which parses only the roots a chain could use.
package tlsverify

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/check-smtp/check-smtp/lib/internal/stackreserve"
	"github.com/check-smtp/check-smtp/lib/internal/truststore"
)

// Roots says which certificates anchor a chain: the --cafile roots, if any,
// and the system trust store. Set the fields before the first use; a Roots
// is then safe for concurrent use and must not be copied. The system store
// is read once per Roots, at the first [Roots.Preload] or verification that
// needs it, and shared by every chain verified with it.
type Roots struct {
	Extra     *x509.CertPool // --cafile; nil: system roots only
	ExtraPEM  []byte         // the same roots as PEM, added to the system pools
	ExtraFile string         // the --cafile path, named when it does not anchor a chain
	CertFile  string         // SSL_CERT_FILE as read at start-up; "" = the distribution bundles
	CertDir   string         // SSL_CERT_DIR as read at start-up; "" = the distribution directories
	// Cache is where the system store's index is kept between runs (see
	// truststore.IndexCache); the zero value keeps none.
	Cache truststore.IndexCache

	once  sync.Once
	store *truststore.Store // the system store with ExtraPEM after it
}

// system returns the system store, with the --cafile roots after its own
// as x509.SystemCertPool plus AppendCertsFromPEM would hold them.
func (r *Roots) system() *truststore.Store {
	r.once.Do(func() {
		r.store = truststore.SystemCached(truststore.Env{CertFile: r.CertFile, CertDir: r.CertDir}, r.Cache)
		if len(r.ExtraPEM) > 0 {
			r.store = r.store.WithExtra(r.ExtraPEM)
		}
	})
	return r.store
}

// Preload starts reading the system store in the background, so that a
// verification coming after the connection and handshake finds it read.
// With --cafile roots it does nothing: they anchor the chain in the common
// case, and the store is then never read. Calling it again costs nothing.
func (r *Roots) Preload() {
	if r == nil || r.Extra != nil {
		return
	}
	go func() {
		stackreserve.Grow() // the scan runs deep: one early growth, not several late ones
		r.system().Preload()
	}()
}

// Reason classifies a verification failure.
type Reason int

const (
	Other Reason = iota
	UnknownAuthority
	NameMismatch
	Expired // a certificate of the chain is not valid at the time of the check
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

// Verify is VerifyChain for a caller that needs only the verdict.
func Verify(chain []*x509.Certificate, serverName string, roots *Roots, now time.Time) error {
	_, err := VerifyChain(chain, serverName, roots, now)
	return err
}

// VerifyChain checks chain (leaf first, as presented) against roots and the
// leaf against serverName, at now, and returns the chain it built: leaf
// first, the anchor last. Of several chains it returns the one that stays
// valid longest, the one a client able to choose would use.
//
// The leaf's own expiry is judged elsewhere (the operator gets "expired N
// days ago", or --ignore-certificate-expiration forgives it), so an
// expired leaf is verified as if its NotAfter were still ahead. Everything
// else, the issuers' dates included, is verified at now: an issuer
// certificate reissued after the leaf expired still verifies, an expired
// intermediate does not.
func VerifyChain(chain []*x509.Certificate, serverName string, roots *Roots, now time.Time) ([]*x509.Certificate, error) {
	if len(chain) == 0 {
		return nil, &Error{Reason: NoCertificate, Text: "server sent no certificate"}
	}
	leaf := chain[0]
	target := leaf
	if now.After(leaf.NotAfter) {
		// A copy with a later NotAfter: signatures are checked over the raw
		// TBSCertificate, which the copy keeps unchanged.
		c := *leaf
		c.NotAfter = now.Add(time.Hour)
		target = &c
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	opts := x509.VerifyOptions{Intermediates: inter, CurrentTime: now}
	var chains [][]*x509.Certificate
	var err error
	if roots.Extra != nil {
		// The --cafile roots alone: if they anchor the chain, so does the
		// full pool, which holds them (and the store is never read).
		opts.Roots = roots.Extra
		chains, err = target.Verify(opts)
	}
	if roots.Extra == nil || err != nil {
		// The candidates truststore finds among the system roots and the
		// --cafile ones: the same verdict as the full pool. A store that
		// cannot be read holds no root (the pool has the --cafile ones).
		opts.Roots, _ = roots.system().Roots(chain)
		chains, err = target.Verify(opts)
	}
	if err != nil {
		return nil, describe(err, chain, roots, now)
	}
	if err := leaf.VerifyHostname(serverName); err != nil {
		return nil, describe(err, chain, roots, now)
	}
	best := longestLived(chains)
	out := append([]*x509.Certificate{leaf}, best[1:]...)
	return out, nil
}

// longestLived picks the chain whose issuers expire last.
func longestLived(chains [][]*x509.Certificate) []*x509.Certificate {
	best, bestEnd := chains[0], time.Time{}
	for _, ch := range chains {
		end := time.Time{}
		for i, c := range ch[1:] {
			if i == 0 || c.NotAfter.Before(end) {
				end = c.NotAfter
			}
		}
		if end.After(bestEnd) {
			best, bestEnd = ch, end
		}
	}
	return best
}

// Role names a certificate by its place in a chain, for messages:
// "certificate" for the leaf (index 0), "root certificate" for a
// self-signed one, "intermediate certificate" otherwise.
func Role(c *x509.Certificate, index int) string {
	switch {
	case index == 0:
		return "certificate"
	case bytes.Equal(c.RawSubject, c.RawIssuer):
		return "root certificate"
	}
	return "intermediate certificate"
}

// MinDaysLeft is the fewest days left of any certificate in chain, and the
// index of that certificate (the first of equals); -1 for an empty chain.
func MinDaysLeft(chain []*x509.Certificate, now time.Time) (days, index int) {
	index = -1
	for i, c := range chain {
		if d := DaysLeft(c, now); index < 0 || d < days {
			days, index = d, i
		}
	}
	return days, index
}

func describe(err error, chain []*x509.Certificate, roots *Roots, now time.Time) error {
	leaf := chain[0]
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	switch {
	case errors.As(err, &ua):
		// x509 reports an issuer out of its dates as an unknown authority
		// (the reason is only a hint in its text): name that issuer.
		if e := issuerOutOfDate(chain, roots, now, err); e != nil {
			return e
		}
		text := fmt.Sprintf("certificate signed by unknown authority (issuer %q): ", leaf.Issuer.String())
		if roots.ExtraFile != "" {
			text += fmt.Sprintf("not anchored by --cafile %s or the system roots (use -k to skip verification)", roots.ExtraFile)
		} else {
			text += "not anchored by the system roots (use --cafile or -k)"
		}
		return &Error{UnknownAuthority, text, err}
	case errors.As(err, &he):
		// x509's own wording lists only the IP SANs when the host is an IP
		// literal ("doesn't contain any IP SANs"): name every name instead.
		// "Issued for", not "valid for": this certificate failed.
		names := Names(leaf)
		if names == "" {
			return &Error{NameMismatch, fmt.Sprintf("certificate has no subject alternative names (subject %q, its Common Name is not a name to verify), so not valid for %s (use -k)",
				leaf.Subject.String(), he.Host), err}
		}
		return &Error{NameMismatch, fmt.Sprintf("certificate is issued for %s, not %s (use --sni=NAME or -k)", names, he.Host), err}
	case errors.As(err, &ci) && ci.Reason == x509.Expired:
		c := ci.Cert
		if c == nil || bytes.Equal(c.Raw, leaf.Raw) {
			return &Error{Expired, "certificate " + outOfDate(leaf), err}
		}
		// An issuer: one the server sent, or one from the trust store.
		i := slices.IndexFunc(chain, func(p *x509.Certificate) bool { return bytes.Equal(p.Raw, c.Raw) })
		if i < 0 {
			i = len(chain)
		}
		return &Error{Expired, fmt.Sprintf("%s %q %s", Role(c, i), c.Subject.String(), outOfDate(c)), err}
	}
	return &Error{Other, "certificate not trusted: " + TrimPrefix(err), err}
}

func outOfDate(c *x509.Certificate) string {
	return fmt.Sprintf("not valid at this time (NotBefore %s, NotAfter %s)",
		c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339))
}

// issuerOutOfDate finds an issuer that is out of its dates at now: one the
// server sent, or a --cafile root that issued the last one sent.
func issuerOutOfDate(chain []*x509.Certificate, roots *Roots, now time.Time, err error) error {
	valid := func(c *x509.Certificate) bool { return !now.Before(c.NotBefore) && !now.After(c.NotAfter) }
	for i, c := range chain[1:] {
		if !valid(c) {
			return &Error{Expired, fmt.Sprintf("%s %q %s", Role(c, i+1), c.Subject.String(), outOfDate(c)), err}
		}
	}
	last := chain[len(chain)-1]
	for rest := roots.ExtraPEM; len(rest) > 0; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		c, perr := x509.ParseCertificate(b.Bytes)
		if perr != nil || !bytes.Equal(c.RawSubject, last.RawIssuer) || valid(c) {
			continue
		}
		if last.CheckSignatureFrom(c) == nil {
			return &Error{Expired, fmt.Sprintf("%s %q from --cafile %s", Role(c, len(chain)), c.Subject.String(), outOfDate(c)), err}
		}
	}
	return nil
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
