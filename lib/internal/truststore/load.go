package truststore

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"os"
	"sync"
	"sync/atomic"
)

// source is where a Store's certificates come from, read once. The reading
// is split into jobs (scan the bundle; read and scan a directory entry)
// that every goroutine needing the index takes part in: a Preload running
// in the background uses one core, and a Roots that needs the index now
// brings two. With an index cache, a reading the cache vouches for takes
// the subjects of the directories' certificates from it (see IndexCache).
type source struct {
	files []string // bundle files: the first readable one is read
	dirs  []string // directories: every file of each is read
	cache IndexCache
	plan  sync.Once
	warm  *index // the index made with the cache, if it served
	l     *loading
	merge sync.Once
	idx   *index
	redo  sync.Once
	full  atomic.Pointer[index] // read again when the cache proved wrong
}

// load returns the index, reading the store if no one has; with hurry, it
// starts a second worker, if there is work left.
func (s *source) load(hurry bool) *index {
	if idx := s.full.Load(); idx != nil {
		return idx
	}
	s.plan.Do(func() {
		if s.cache.Dir != "" && cacheSupported {
			s.warm = loadWarm(s)
		}
		if s.warm == nil {
			s.l = planLoad(s.files, s.dirs, s.cache)
		}
	})
	if s.warm != nil {
		return s.warm
	}
	l := s.l
	if hurry && l.next.Load() < int64(l.jobs) {
		go l.work()
	}
	l.work()
	<-l.done // the other workers' last jobs
	s.merge.Do(func() { s.idx = l.finish() })
	return s.idx
}

// reload reads the store again without the cache's word, once, for every
// later use: the cache was wrong about a file.
func (s *source) reload() *index {
	s.redo.Do(func() {
		l := planLoad(s.files, s.dirs, s.cache)
		l.work()
		<-l.done
		s.full.Store(l.finish())
	})
	return s.full.Load()
}

// finish makes the index of a finished loading, and writes the index
// cache if it was asked for.
func (l *loading) finish() *index {
	idx := newIndex(l.results)
	if l.firstErr != nil && !idx.anyParses() {
		idx.err = l.firstErr
	}
	if l.build != nil {
		writeIndex(l)
	}
	l.results, l.paths, l.records = nil, nil, nil
	return idx
}

// loading is a reading of the store in progress.
type loading struct {
	firstErr error
	bundle   []byte
	dirs     []*certDir // open until the last job is done
	paths    []dirFile
	results  []scanned // job 0: the bundle; job i: paths[i-1]
	jobs     int       // len(results), which the merge drops
	next     atomic.Int64
	left     atomic.Int64 // jobs not finished
	done     chan struct{}

	build   *indexBuild  // nil: no index cache to write
	records []fileRecord // with build: what each job learnt of paths[i-1]
}

// indexBuild is what an index cache needs of a loading beyond the jobs'
// records.
type indexBuild struct {
	cache IndexCache
	files []string // the bundle files
	built int64    // Unix nanoseconds before anything was read
	slots []dirSlot

	bundlePath string  // the bundle file read ("": none)
	bundleKey  statKey // its stat
	bundleOK   bool    // read with its stat, without an error
}

// dirSlot is one directory of the store in a loading: missing, or its
// entries paths[from:to].
type dirSlot struct {
	path     string
	d        *certDir // nil: it does not exist
	from, to int
}

// fileRecord is what reading a directory entry learnt, for the index.
type fileRecord struct {
	target  []byte  // a link's target
	linkErr bool    // the link could not be read
	ok      bool    // the file was read
	isDir   bool    // it is a directory (never readable)
	key     statKey // its stat when opened
	content []byte  // what it holds (the bundle's bytes for a copy)
}

// planLoad starts reading the store as crypto/x509's loadSystemRoots does
// on Linux: the first bundle file that can be read, then every file of
// every directory except symbolic links to a file of the same directory;
// read errors are skipped, and only reported (the first one that is not
// "does not exist") if no certificate parses. It reads the bundle and
// lists the directories; the jobs do the rest.
func planLoad(files, dirs []string, cache IndexCache) *loading {
	l := &loading{done: make(chan struct{})}
	if cache.Dir != "" && cacheSupported && prepareCacheDir(cache.Dir) == nil {
		// Only where the index can be written: building it costs more
		// than the reading.
		l.build = &indexBuild{cache: cache, files: files, built: cache.now().UnixNano()}
	}
	if l.build != nil {
		var ok bool
		l.bundle, l.build.bundlePath, l.build.bundleKey, ok = readBundleKeyed(files)
		l.build.bundleOK = ok
	}
	if l.build == nil || !l.build.bundleOK {
		l.bundle, l.firstErr = readBundle(files)
	}
	for _, dir := range dirs {
		d, files, err := listDir(dir)
		if err != nil {
			if l.firstErr == nil && !os.IsNotExist(err) {
				l.firstErr = err
			}
			if l.build != nil {
				l.build.slots = append(l.build.slots, dirSlot{path: dir})
			}
			continue
		}
		if l.build != nil {
			l.build.slots = append(l.build.slots, dirSlot{path: dir, d: d, from: len(l.paths), to: len(l.paths) + len(files)})
		}
		l.dirs = append(l.dirs, d)
		l.paths = append(l.paths, files...)
	}
	if l.build != nil {
		l.records = make([]fileRecord, len(l.paths))
	}
	l.jobs = 1 + len(l.paths)
	l.results = make([]scanned, l.jobs)
	l.left.Store(int64(l.jobs))
	return l
}

// readBundle reads the first bundle file that can be read; the error is
// the first that is not "does not exist".
func readBundle(files []string) (bundle []byte, firstErr error) {
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err == nil {
			return data, firstErr
		}
		if firstErr == nil && !os.IsNotExist(err) {
			firstErr = err
		}
	}
	return nil, firstErr
}

// work takes jobs until none is left to take.
func (l *loading) work() {
	var (
		decoded []byte
		r       fileReader
	)
	defer r.release()
	for {
		i := int(l.next.Add(1) - 1)
		if i >= l.jobs {
			return
		}
		data := l.bundle
		if i > 0 {
			var rec *fileRecord
			if l.records != nil {
				rec = &l.records[i-1]
			}
			data = l.paths[i-1].read(&r, l.bundle, rec)
		}
		l.results[i], decoded = scan(data, decoded)
		if l.left.Add(-1) == 0 {
			l.closeDirs()
			close(l.done)
		}
	}
}

// index lists the certificate blocks of a store in the order crypto/x509
// adds them to its pool, each with its subject.
type index struct {
	entries []entry
	err     error        // the error x509.SystemCertPool would return
	parsed  atomic.Int32 // certificates parsed so far, for tests
	cached  bool         // some entries come from the index cache
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
	// From the index cache: the DER's hash, and the file that holds it,
	// to be read before der is.
	hash [sha256.Size]byte
	file *cachedFile
	// claimed: a bundle block whose subject is the index cache's word,
	// its body n bytes at off in bundle, read and checked when der decodes
	// it; bad: the check failed.
	claimed, bad bool
	off, n       int32
	bundle       *bundleRef
}

func (e *entry) der() []byte {
	e.derOnce.Do(func() {
		if e.claimed {
			body, err := e.bundle.body(int(e.off), int(e.n))
			if err != nil {
				e.bad = true
				return
			}
			var sc scanned
			f, _, ok := sc.subject(body, nil)
			e.body = body
			e.bad = !ok || !bytes.Equal(f.subject, e.subject)
			e.raw = f.raw
		}
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

// closeDirs releases the directories once no job needs them.
func (l *loading) closeDirs() {
	for _, d := range l.dirs {
		d.close()
	}
	l.dirs = nil
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
		return found{subject: subj, body: body, raw: der}, scratch, true
	}
	sc.parsed++
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return found{}, scratch, false
	}
	return found{subject: c.RawSubject, body: body, raw: der, c: c}, scratch, true
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
