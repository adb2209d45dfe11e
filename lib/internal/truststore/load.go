package truststore

import (
	"bytes"
	"crypto/x509"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
)

// source is where a Store's certificates come from, read once.
type source struct {
	files []string // bundle files: the first readable one is read
	dirs  []string // directories: every file of each is read
	once  sync.Once
	idx   *index
}

func (s *source) load() *index {
	s.once.Do(func() { s.idx = readStore(s.files, s.dirs) })
	return s.idx
}

// index lists the certificate blocks of a store in the order crypto/x509
// adds them to its pool, each with its subject.
type index struct {
	entries []entry
	err     error        // the error x509.SystemCertPool would return
	parsed  atomic.Int32 // certificates parsed so far, for tests
}

// entry is one certificate block. Its DER is decoded, and then parsed, only
// when a chain needs it.
type entry struct {
	subject []byte
	body    []byte // base64, until der is decoded
	derOnce sync.Once
	raw     []byte // nil if the body is not valid base64
	once    sync.Once
	c       *x509.Certificate // nil if the DER does not parse
}

func (e *entry) der() []byte {
	e.derOnce.Do(func() {
		if e.raw == nil {
			e.raw = decodeBody(e.body)
		}
		e.body = nil
	})
	return e.raw
}

func (e *entry) cert(parsed *atomic.Int32) *x509.Certificate {
	e.once.Do(func() {
		if e.c != nil {
			return
		}
		if der := e.der(); der != nil {
			parsed.Add(1)
			e.c, _ = x509.ParseCertificate(der) // rejected, as by AppendCertsFromPEM
		}
	})
	return e.c
}

// readStore reads the store as crypto/x509's loadSystemRoots does on Linux:
// the first bundle file that can be read, then every file of every
// directory except symbolic links to a file of the same directory; read
// errors are skipped, and only reported (the first one that is not "does
// not exist") if no certificate parses.
func readStore(files, dirs []string) *index {
	var (
		sc       scanner
		firstErr error
		bundle   []byte
	)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err == nil {
			sc.scan(data)
			bundle = data
			break
		}
		if firstErr == nil && !os.IsNotExist(err) {
			firstErr = err
		}
	}
	for _, dir := range dirs {
		names, err := uniqueDirEntries(dir)
		if err != nil {
			if firstErr == nil && !os.IsNotExist(err) {
				firstErr = err
			}
			continue
		}
		for _, name := range names {
			data, err := os.ReadFile(dir + "/" + name)
			// The Debian directory holds the bundle itself: a byte-identical
			// copy adds no certificate the pool does not already have.
			if err != nil || (bundle != nil && bytes.Equal(data, bundle)) {
				continue
			}
			sc.scan(data)
		}
	}
	idx := sc.index()
	if firstErr != nil && !idx.anyParses() {
		idx.err = firstErr
	}
	return idx
}

// uniqueDirEntries is crypto/x509's readUniqueDirectoryEntries: the names in
// dir, sorted, without symbolic links whose target has no slash (links to
// a file of dir itself, like OpenSSL's hash links).
func uniqueDirEntries(dir string) ([]string, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(des))
	for _, de := range des {
		if de.Type()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(filepath.Join(dir, de.Name()))
			if err == nil && !strings.Contains(target, "/") {
				continue
			}
		}
		names = append(names, de.Name())
	}
	return names, nil
}

func (idx *index) anyParses() bool {
	for i := range idx.entries {
		if idx.entries[i].cert(&idx.parsed) != nil {
			return true
		}
	}
	return false
}

// scanner collects the certificate blocks of the files of a store.
type scanner struct {
	found   []found
	scratch []byte
	parsed  int32
}

// found is what the scan learnt of a block: its subject, and its body or,
// when the subject could only be had by decoding or parsing it all, its
// DER and certificate.
type found struct {
	subject, body, raw []byte
	c                  *x509.Certificate
}

// scan adds the blocks that x509.CertPool.AppendCertsFromPEM would try to
// parse: type CERTIFICATE, no headers.
func (sc *scanner) scan(data []byte) {
	for len(data) > 0 {
		b, rest, ok := nextBlock(data)
		if !ok {
			return
		}
		data = rest
		if string(b.typ) != "CERTIFICATE" || b.headers || len(b.body) == 0 {
			continue
		}
		if f, ok := sc.subject(b.body); ok {
			sc.found = append(sc.found, f)
		}
	}
}

// subject finds the subject of the certificate in body from the start of
// its DER; failing that (an odd layout or a subject past prefixChars), from
// the whole DER; failing that, by parsing it. ok is false if the block would
// not make a certificate.
func (sc *scanner) subject(body []byte) (found, bool) {
	if der, ok := decodePrefix(body, sc.scratch); ok {
		sc.scratch = der[:0]
		if subj, ok := subjectOf(der); ok {
			return found{subject: bytes.Clone(subj), body: body}, true
		}
	}
	der := decodeBody(body)
	if der == nil {
		return found{}, false // not base64: pem.Decode skips it
	}
	if subj, ok := subjectOf(der); ok {
		return found{subject: subj, raw: der}, true
	}
	sc.parsed++
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return found{}, false
	}
	return found{subject: c.RawSubject, raw: der, c: c}, true
}

func (sc *scanner) index() *index {
	idx := &index{entries: make([]entry, len(sc.found))}
	for i, f := range sc.found {
		e := &idx.entries[i]
		e.subject, e.body, e.raw, e.c = f.subject, f.body, f.raw, f.c
	}
	idx.parsed.Store(sc.parsed)
	return idx
}
