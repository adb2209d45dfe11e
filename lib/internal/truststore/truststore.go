// Package truststore owns the lookup of trust anchors in the system trust
// store: it finds, for one presented chain, the few root certificates that
// could anchor it, without parsing the hundred-odd others.
//
// The store is read exactly as crypto/x509 reads it on Linux (the bundle
// file, SSL_CERT_FILE, the certificate directories, SSL_CERT_DIR), and the
// pool [Store.Roots] returns gives x509.Certificate.Verify the same answers
// to every question it asks of its Roots pool as the full system pool would
// (see [Store.Roots]), so the verdict is the same; only the cost differs.
//
// Most of the cost is the certificate directories: hundreds of links to
// read and files to open, read and scan. [SystemCached] keeps what was
// learnt of them in an [IndexCache] between processes, so that a process
// finding them unchanged stats each file once instead.
package truststore

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"slices"
	"strings"
)

// Env holds the trust-store settings of the environment, read once by the
// caller: the values of SSL_CERT_FILE and SSL_CERT_DIR ("" when unset).
type Env struct {
	CertFile string // SSL_CERT_FILE: replaces the list of bundle files
	CertDir  string // SSL_CERT_DIR: colon-separated, replaces the directories
}

// Store is a trust store read lazily: nothing is read until the first
// [Store.Roots] or [Store.Preload], and then everything once. A Store is safe
// for concurrent use, and cheap to use for many chains.
type Store struct {
	src   *source
	extra []*x509.Certificate
}

// System returns the system trust store as crypto/x509 finds it on Linux
// with env as its environment. It reads nothing.
func System(env Env) *Store {
	files := []string{
		"/etc/ssl/certs/ca-certificates.crt",                // Debian/Ubuntu/Gentoo etc.
		"/etc/pki/tls/certs/ca-bundle.crt",                  // Fedora/RHEL 6
		"/etc/ssl/ca-bundle.pem",                            // OpenSUSE
		"/etc/pki/tls/cacert.pem",                           // OpenELEC
		"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // CentOS/RHEL 7
		"/etc/ssl/cert.pem",                                 // Alpine Linux
	}
	dirs := []string{
		"/etc/ssl/certs",     // SLES10/SLES11
		"/etc/pki/tls/certs", // Fedora/RHEL
	}
	if env.CertFile != "" {
		files = []string{env.CertFile}
	}
	if env.CertDir != "" {
		dirs = strings.Split(env.CertDir, ":")
	}
	return newStore(files, dirs)
}

// SystemCached is System with an index cache: the directories' subjects
// are kept in cache between processes, and a process that finds them
// unchanged reads of the directories only the certificates a chain needs
// (see [IndexCache]). The verdicts are System's.
func SystemCached(env Env, cache IndexCache) *Store {
	s := System(env)
	s.src.cache = cache
	return s
}

// newStore is System with the lists of bundle files (the first readable one
// is used) and of directories (all are read) given.
func newStore(files, dirs []string) *Store {
	return &Store{src: &source{files: files, dirs: dirs}}
}

// WithExtra returns a Store holding s's certificates and, after them, the
// certificates of pemBytes (the --cafile roots), read as
// x509.CertPool.AppendCertsFromPEM reads them: blocks that are not
// certificates, or do not parse, are skipped. The two Stores share what s
// reads, so deriving one costs only the parsing of pemBytes.
func (s *Store) WithExtra(pemBytes []byte) *Store {
	extra := append([]*x509.Certificate(nil), s.extra...)
	for len(pemBytes) > 0 {
		var b *pem.Block
		b, pemBytes = pem.Decode(pemBytes)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" || len(b.Headers) != 0 {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			continue
		}
		extra = append(extra, c)
	}
	return &Store{src: s.src, extra: extra}
}

// Preload reads and indexes the store now rather than at the first
// [Store.Roots]. Run it in a goroutine while the connection is set up and
// the reading costs no wall time; a Roots that comes before it is done
// shares the rest of the work. Calling it again costs nothing.
func (s *Store) Preload() { s.src.load(false) }

// Roots returns a pool of the certificates of the store (system ones first,
// then the extra ones) that x509.Certificate.Verify could use to anchor
// chain, for a verification whose leaf is chain[0] and whose
// Intermediates pool holds chain[1:] (or fewer; never other certificates).
//
// Verify asks its Roots pool two things only: whether it holds the leaf, and
// which roots have the subject named as issuer by the leaf or by an
// intermediate it climbs through (it never climbs above a root). The pool
// holds every store certificate with such a subject, in the store's order,
// and the leaf if the store holds it, so Verify finds the same candidates in
// the same order as in the full pool: same chains, same error. Only those
// certificates are parsed, each once per Store.
//
// The error is the one x509.SystemCertPool would return: the store could
// not be read and holds no certificate. The pool then holds the extra
// certificates only; it is never nil.
func (s *Store) Roots(chain []*x509.Certificate) (*x509.CertPool, error) {
	idx := s.src.load(true)
	pool, ok := idx.roots(chain, s.extra)
	if !ok {
		// A file the index cache described holds something else now.
		idx = s.src.reload()
		pool, _ = idx.roots(chain, s.extra)
	}
	return pool, idx.err
}

// roots is Roots with idx; ok is false if an entry from the index cache
// turned out not to be what its file holds.
func (idx *index) roots(chain, extra []*x509.Certificate) (_ *x509.CertPool, ok bool) {
	pool := x509.NewCertPool()
	var (
		added     [][]byte            // DER already in the pool: the directories repeat the bundle
		addedHash [][sha256.Size]byte // their hashes, with entries from the cache
		leafHash  *[sha256.Size]byte
	)
	for i := range idx.entries {
		if len(chain) == 0 {
			break
		}
		e := &idx.entries[i]
		issuer := namesIssuer(chain, e.subject)
		if !issuer && !bytes.Equal(e.subject, chain[0].RawSubject) {
			continue
		}
		if e.file != nil {
			// Known by its hash: read its file only if the DER is new.
			if slices.Contains(addedHash, e.hash) {
				continue
			}
			if !issuer {
				if leafHash == nil {
					h := sha256.Sum256(chain[0].Raw)
					leafHash = &h
				}
				if e.hash != *leafHash {
					continue
				}
			}
			if !e.file.materialize(idx) {
				return nil, false
			}
		}
		der := e.der()
		if e.bad {
			return nil, false
		}
		if der == nil || containsBytes(added, der) || (!issuer && !bytes.Equal(der, chain[0].Raw)) {
			continue
		}
		if c := e.cert(&idx.parsed); c != nil {
			pool.AddCert(c)
			added = append(added, der)
			if idx.cached {
				addedHash = append(addedHash, sha256.Sum256(der))
			}
		}
	}
	for _, c := range extra {
		pool.AddCert(c)
	}
	return pool, true
}

// namesIssuer reports whether some certificate of chain names subject as
// its issuer.
func namesIssuer(chain []*x509.Certificate, subject []byte) bool {
	for _, c := range chain {
		if bytes.Equal(c.RawIssuer, subject) {
			return true
		}
	}
	return false
}

func containsBytes(list [][]byte, b []byte) bool {
	for _, x := range list {
		if bytes.Equal(x, b) {
			return true
		}
	}
	return false
}
