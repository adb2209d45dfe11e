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
		firstErr error
		bundle   []byte
	)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err == nil {
			bundle = data
			break
		}
		if firstErr == nil && !os.IsNotExist(err) {
			firstErr = err
		}
	}
	var paths []dirFile
	for _, dir := range dirs {
		des, err := os.ReadDir(dir)
		if err != nil {
			if firstErr == nil && !os.IsNotExist(err) {
				firstErr = err
			}
			continue
		}
		for _, de := range des {
			paths = append(paths, dirFile{dir, de.Name(), de.Type()&fs.ModeSymlink != 0})
		}
	}

	// Job 0 scans the bundle, job i > 0 reads and scans paths[i-1]. The
	// directory costs a system call or two per entry, the bundle its
	// scan: two workers share them, and the results are merged in order.
	results := make([]scanned, 1+len(paths))
	var next atomic.Int64
	work := func() {
		var decoded, read []byte
		for {
			i := int(next.Add(1) - 1)
			if i >= len(results) {
				return
			}
			data := bundle
			if i > 0 {
				data, read = paths[i-1].read(bundle, read)
			}
			results[i], decoded = scan(data, decoded)
		}
	}
	var wg sync.WaitGroup
	wg.Go(work)
	work()
	wg.Wait()

	idx := newIndex(results)
	if firstErr != nil && !idx.anyParses() {
		idx.err = firstErr
	}
	return idx
}

// dirFile is an entry of a certificate directory.
type dirFile struct {
	dir, name string
	symlink   bool
}

// read reads the file as crypto/x509 does, or returns nil: for a symbolic
// link to a file of the same directory (read under its own name), a file
// that cannot be read, or a byte-identical copy of the bundle (the Debian
// directory holds the bundle itself), which adds no certificate the pool
// does not already have.
// The file is read into scratch, returned for the next read, and copied out
// unless skipped.
func (f dirFile) read(bundle, scratch []byte) (data, _ []byte) {
	if f.symlink {
		target, err := os.Readlink(filepath.Join(f.dir, f.name))
		if err == nil && !strings.Contains(target, "/") {
			return nil, scratch
		}
	}
	data, scratch, ok := readFile(f.dir+"/"+f.name, scratch)
	if !ok || (bundle != nil && bytes.Equal(data, bundle)) {
		return nil, scratch
	}
	return bytes.Clone(data), scratch
}

func (idx *index) anyParses() bool {
	for i := range idx.entries {
		if idx.entries[i].cert(&idx.parsed) != nil {
			return true
		}
	}
	return false
}

// scanned is what the scan of one file found: its certificate blocks, and
// how many of them had to be parsed to find their subjects.
type scanned struct {
	found  []found
	parsed int32
}

// found is what the scan learnt of a block: its subject, and its body or,
// when the subject could only be had by decoding or parsing it all, its
// DER and certificate.
type found struct {
	subject, body, raw []byte
	c                  *x509.Certificate
}

// scan lists the blocks of data that x509.CertPool.AppendCertsFromPEM
// would try to parse (type CERTIFICATE, no headers), decoding them in
// scratch, which it returns for the next scan.
func scan(data, scratch []byte) (scanned, []byte) {
	var sc scanned
	for len(data) > 0 {
		b, rest, ok := nextBlock(data)
		if !ok {
			break
		}
		data = rest
		if string(b.typ) != "CERTIFICATE" || b.headers || len(b.body) == 0 {
			continue
		}
		var f found
		if f, scratch, ok = sc.subject(b.body, scratch); ok {
			sc.found = append(sc.found, f)
		}
	}
	return sc, scratch
}

// subject finds the subject of the certificate in body from the start of
// its DER; failing that (an odd layout or a subject past prefixChars), from
// the whole DER; failing that, by parsing it. ok is false if the block would
// not make a certificate.
func (sc *scanned) subject(body, scratch []byte) (f found, _ []byte, ok bool) {
	if der, ok := decodePrefix(body, scratch); ok {
		scratch = der[:0]
		if subj, ok := subjectOf(der); ok {
			return found{subject: bytes.Clone(subj), body: body}, scratch, true
		}
	}
	der := decodeBody(body)
	if der == nil {
		return found{}, scratch, false // not base64: pem.Decode skips it
	}
	if subj, ok := subjectOf(der); ok {
		return found{subject: subj, raw: der}, scratch, true
	}
	sc.parsed++
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return found{}, scratch, false
	}
	return found{subject: c.RawSubject, raw: der, c: c}, scratch, true
}

// newIndex makes the index of the scans of a store's files, in order.
func newIndex(files []scanned) *index {
	n, parsed := 0, int32(0)
	for _, f := range files {
		n += len(f.found)
		parsed += f.parsed
	}
	idx := &index{entries: make([]entry, 0, n)}
	idx.entries = idx.entries[:n]
	i := 0
	for _, sc := range files {
		for _, f := range sc.found {
			e := &idx.entries[i]
			e.subject, e.body, e.raw, e.c = f.subject, f.body, f.raw, f.c
			i++
		}
	}
	idx.parsed.Store(parsed)
	return idx
}
