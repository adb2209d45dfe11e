package truststore

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// IndexCache is where a Store keeps, between processes, what it learnt of
// the store: for the bundle and each directory file it read, the file's
// stat, and for each certificate block its subject and its place in the
// bundle or its DER's hash; for each directory, its stat and the entries
// read, with link targets; never a certificate. A later process that finds
// every file and directory with the same stat (device, inode, size,
// modification and change times) takes the subjects from the index
// instead of listing the directories, reading the links and reading and
// scanning every file. What a chain needs is read from the real files and
// checked against the index (the subject; the hash, or that the bytes are
// framed as a block crypto/x509 reads), and any difference makes the Store
// read everything.
//
// A directory's entries cannot change without its modification and change
// times changing, nor a link's target in place; a file's content changes
// its times, but within the clock's granularity a change can keep them, so
// an entry changed less than two seconds before the index was built is
// never taken from it (git's "racily clean" rule).
//
// A damaged or stale index costs time only. An index forged by someone
// who can write the user's cache file could also hide a root (never add
// one), which is why it is read only if it and its directory are the
// user's and writable by no one else.
//
// The cache is used on Linux (amd64, arm64) only; elsewhere it is ignored.
type IndexCache struct {
	// Dir is the cache directory, created (mode 0700) if missing, and used
	// only if it and the index file are owned by the effective user and
	// writable by no one else. "" disables the cache.
	Dir string
	// Now is the clock the index's build time is read from; nil is
	// time.Now.
	Now func() time.Time
}

func (c IndexCache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// DefaultIndexCacheDir is the cache directory for check-smtp given the
// environment's XDG_CACHE_HOME and HOME: XDG_CACHE_HOME/check-smtp, or
// HOME/.cache/check-smtp when XDG_CACHE_HOME is unset or relative (the XDG
// base directory rule); "" when neither gives an absolute path, which
// disables the cache.
func DefaultIndexCacheDir(xdgCacheHome, home string) string {
	base := xdgCacheHome
	if base == "" || !filepath.IsAbs(base) {
		if home == "" || !filepath.IsAbs(home) {
			return ""
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "check-smtp")
}

// indexFileName is the name of the index file for lists of bundle files
// and certificate directories: each pair has its own, so that processes
// with different SSL_CERT_FILE or SSL_CERT_DIR do not overwrite each
// other's.
func indexFileName(files, dirs []string) string {
	h := sha256.Sum256([]byte(strings.Join(files, "\x00") + "\x00\x00" + strings.Join(dirs, "\x00")))
	return "truststore-" + hex.EncodeToString(h[:8])
}

// racyWindow is how long before the build of an index an entry must have
// last changed for the index's word on it to be taken.
const racyWindow = 2 * time.Second

// statKey is what stat says of a file or directory that changes when its
// content does.
type statKey struct {
	dev, ino           uint64
	size, mtime, ctime int64 // times in nanoseconds
}

// Kinds of index entries.
const (
	kindSkip       = 0 // a link to a file of the same directory: never read (not written: the index lists only the entries read)
	kindFile       = 1 // a file read, with its stat and blocks
	kindUnreadable = 2 // could not be read when the index was built: read again every time
)

// indexFile is the content of an index file.
type indexFile struct {
	built  int64 // Unix nanoseconds, taken before anything was read
	dirs   []indexDir
	bundle indexBundle
}

// indexBundle is the bundle file that was read (the first readable one),
// with the time before it was read, its stat, and the body and subject of
// each block scan found in it. The file is always read; the index spares
// only the scan, and the blocks are checked against the file's own.
type indexBundle struct {
	built  int64
	path   string // "": none was readable
	key    statKey
	blocks []bundleBlock
}

type bundleBlock struct {
	off, n  int // the body's place in the file
	subject []byte
}

type indexDir struct {
	path    string
	key     statKey
	entries []indexEntry
}

// indexEntry is one directory entry that is read (links to a file of the
// same directory are left out), in the order os.ReadDir lists them.
type indexEntry struct {
	name   []byte // NUL-terminated
	kind   byte
	link   bool
	target []byte // NUL-terminated, for a link
	key    statKey
	blocks []indexBlock
}

// indexBlock is a certificate block of a file, as fileBlocks lists them.
type indexBlock struct {
	subject []byte
	hash    [sha256.Size]byte // of the DER
}

// fileBlocks lists what scan finds in data, with each block's DER and its
// hash, leaving out the blocks that do not decode (Roots skips them).
func fileBlocks(data []byte) (blocks []indexBlock, ders [][]byte) {
	sc, _ := scan(data, nil)
	for _, f := range sc.found {
		der := f.raw
		if der == nil {
			der = decodeBody(f.body)
		}
		if der == nil {
			continue
		}
		blocks = append(blocks, indexBlock{subject: f.subject, hash: sha256.Sum256(der)})
		ders = append(ders, der)
	}
	return blocks, ders
}

const (
	indexMagic = "CSTSIX03" // format version 3
	maxName    = 4096       // PATH_MAX: no name, target or path is longer
	maxSubject = 1 << 16
	// maxIndexedFile bounds the bundle's offsets (far above any bundle).
	maxIndexedFile = 1 << 30
)

// encodeIndex writes an index file: the magic, the build time, the table
// of subjects (each subject once: a store names most three times), the
// fields in order (integers as uvarints, times and stat fields as 64-bit
// little-endian, byte strings with a uvarint length, subjects as their
// place in the table), and a checksum of all that.
func encodeIndex(f *indexFile) []byte {
	var table [][]byte
	at := map[string]int{}
	ref := func(subject []byte) uint64 {
		i, ok := at[string(subject)]
		if !ok {
			i = len(table)
			at[string(subject)] = i
			table = append(table, subject)
		}
		return uint64(i)
	}
	for _, d := range f.dirs {
		for _, e := range d.entries {
			for _, bl := range e.blocks {
				ref(bl.subject)
			}
		}
	}
	for _, bl := range f.bundle.blocks {
		ref(bl.subject)
	}
	b := []byte(indexMagic)
	b = binary.LittleEndian.AppendUint64(b, uint64(f.built))
	b = binary.AppendUvarint(b, uint64(len(table)))
	for _, subject := range table {
		b = appendBytes(b, subject)
	}
	b = binary.AppendUvarint(b, uint64(len(f.dirs)))
	for _, d := range f.dirs {
		b = appendBytes(b, []byte(d.path))
		b = appendKey(b, d.key)
		b = binary.AppendUvarint(b, uint64(len(d.entries)))
		for _, e := range d.entries {
			b = appendBytes(b, e.name)
			flags := e.kind
			if e.link {
				flags |= 0x80
			}
			b = append(b, flags)
			if e.link {
				b = appendBytes(b, e.target)
			}
			if e.kind == kindFile {
				b = appendKey(b, e.key)
				b = binary.AppendUvarint(b, uint64(len(e.blocks)))
				for _, bl := range e.blocks {
					b = binary.AppendUvarint(b, ref(bl.subject))
					b = append(b, bl.hash[:]...)
				}
			}
		}
	}
	bu := &f.bundle
	b = binary.LittleEndian.AppendUint64(b, uint64(bu.built))
	b = appendBytes(b, []byte(bu.path))
	b = appendKey(b, bu.key)
	b = binary.AppendUvarint(b, uint64(len(bu.blocks)))
	for _, bl := range bu.blocks {
		b = binary.AppendUvarint(b, uint64(bl.off))
		b = binary.AppendUvarint(b, uint64(bl.n))
		b = binary.AppendUvarint(b, ref(bl.subject))
	}
	return binary.LittleEndian.AppendUint64(b, checksum(b))
}

// checksum is a 64-bit multiply-xorshift hash of b, to tell a damaged
// index file (a hostile writer can recompute it; nothing relies on it but
// the detection of accidents). Unlike hash/crc32 it builds no tables on
// first use, which a one-check process would pay for.
func checksum(b []byte) uint64 {
	const m = 0xff51afd7ed558ccd
	mix := func(h, v uint64) uint64 {
		h = (h ^ v) * m
		return h ^ h>>29
	}
	// Four lanes, for the multiplications to overlap.
	h := [4]uint64{uint64(len(b)), 1, 2, 3}
	for ; len(b) >= 32; b = b[32:] {
		h[0] = mix(h[0], binary.LittleEndian.Uint64(b))
		h[1] = mix(h[1], binary.LittleEndian.Uint64(b[8:]))
		h[2] = mix(h[2], binary.LittleEndian.Uint64(b[16:]))
		h[3] = mix(h[3], binary.LittleEndian.Uint64(b[24:]))
	}
	for _, c := range b {
		h[0] = mix(h[0], uint64(c))
	}
	return mix(mix(mix(h[0], h[1]), h[2]), h[3])
}

func appendBytes(b, s []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func appendKey(b []byte, k statKey) []byte {
	for _, v := range [...]uint64{k.dev, k.ino, uint64(k.size), uint64(k.mtime), uint64(k.ctime)} {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	return b
}

var errIndexFormat = errors.New("malformed index file")

// parseIndex reads an index file written by encodeIndex. Names, targets
// and subjects point into data. Anything but a well-formed file of this
// version is an error: a truncated, corrupt or foreign file only costs a
// full reading.
func parseIndex(data []byte) (*indexFile, error) {
	if len(data) < len(indexMagic)+8+1+8 || string(data[:len(indexMagic)]) != indexMagic {
		return nil, fmt.Errorf("%w: no header", errIndexFormat)
	}
	body := data[:len(data)-8]
	if checksum(body) != binary.LittleEndian.Uint64(data[len(data)-8:]) {
		return nil, fmt.Errorf("%w: checksum", errIndexFormat)
	}
	p := indexParser{rest: body[len(indexMagic):]}
	f := &indexFile{built: int64(p.u64())}
	ns := p.count()
	p.table = make([][]byte, 0, ns)
	for range ns {
		subject := p.bytes(maxSubject)
		if p.err != nil {
			break
		}
		if len(subject) == 0 {
			p.fail("empty subject")
		}
		p.table = append(p.table, subject)
	}
	// Every dir, entry and block takes at least a byte: counts beyond the
	// bytes left are malformed, and never allocated.
	nd := p.count()
	for range nd {
		if p.err != nil {
			break
		}
		d := indexDir{path: string(p.bytes(maxName))}
		d.key = p.key()
		ne := p.count()
		d.entries = make([]indexEntry, 0, ne)
		for range ne {
			if p.err != nil {
				break
			}
			e := indexEntry{name: p.name()}
			if n := len(d.entries); p.err == nil && n > 0 && bytes.Compare(d.entries[n-1].name, e.name) >= 0 {
				p.fail("entries out of order") // os.ReadDir's order is the pool's
			}
			flags := p.byte()
			e.kind, e.link = flags&0x7f, flags&0x80 != 0
			if e.link {
				e.target = p.cstring(maxName)
			}
			switch e.kind {
			case kindSkip:
				if !e.link || bytes.IndexByte(e.target, '/') >= 0 {
					p.fail("skipped entry that is not a same-directory link")
				}
			case kindFile:
				e.key = p.key()
				nb := p.count()
				e.blocks = make([]indexBlock, 0, nb)
				for range nb {
					if p.err != nil {
						break
					}
					bl := indexBlock{subject: p.subject()}
					copy(bl.hash[:], p.take(sha256.Size))
					e.blocks = append(e.blocks, bl)
				}
			case kindUnreadable:
			default:
				p.fail("unknown entry kind")
			}
			if e.link && e.kind != kindSkip && bytes.IndexByte(e.target, '/') < 0 {
				p.fail("read entry that is a same-directory link")
			}
			d.entries = append(d.entries, e)
		}
		f.dirs = append(f.dirs, d)
	}
	f.bundle.built = int64(p.u64())
	f.bundle.path = string(p.bytes(maxName))
	f.bundle.key = p.key()
	nb := p.count()
	f.bundle.blocks = make([]bundleBlock, 0, nb)
	end := 0
	for range nb {
		if p.err != nil {
			break
		}
		bl := bundleBlock{off: p.offset(), n: p.offset(), subject: p.subject()}
		if p.err == nil && (bl.off < end || bl.n == 0 || bl.off+bl.n > maxIndexedFile) {
			p.fail("bad bundle block")
		}
		end = bl.off + bl.n
		f.bundle.blocks = append(f.bundle.blocks, bl)
	}
	if p.err == nil && len(p.rest) != 0 {
		p.fail("trailing bytes")
	}
	if p.err != nil {
		return nil, p.err
	}
	return f, nil
}

// indexParser reads the fields of an index file; the first error sticks
// and makes every later read return zero values.
type indexParser struct {
	rest  []byte
	err   error
	table [][]byte // the subjects
}

// subject is a reference to the table of subjects.
func (p *indexParser) subject() []byte {
	i := p.uvarint()
	if p.err == nil && i >= uint64(len(p.table)) {
		p.fail("no such subject")
	}
	if p.err != nil {
		return nil
	}
	return p.table[i]
}

func (p *indexParser) fail(what string) {
	if p.err == nil {
		p.err = fmt.Errorf("%w: %s", errIndexFormat, what)
	}
	p.rest = nil
}

func (p *indexParser) take(n int) []byte {
	if p.err != nil || n < 0 || n > len(p.rest) {
		p.fail("truncated")
		return nil
	}
	b := p.rest[:n:n]
	p.rest = p.rest[n:]
	return b
}

func (p *indexParser) byte() byte {
	if b := p.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (p *indexParser) u64() uint64 {
	if b := p.take(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (p *indexParser) uvarint() uint64 {
	if p.err != nil {
		return 0
	}
	v, n := binary.Uvarint(p.rest)
	if n <= 0 {
		p.fail("bad number")
		return 0
	}
	p.rest = p.rest[n:]
	return v
}

// offset is a place or length in a file, at most maxIndexedFile.
func (p *indexParser) offset() int {
	n := p.uvarint()
	if n > maxIndexedFile {
		p.fail("offset too large")
		return 0
	}
	return int(n)
}

func (p *indexParser) count() int {
	n := p.uvarint()
	if n > uint64(len(p.rest)) {
		p.fail("count beyond the file")
		return 0
	}
	return int(n)
}

func (p *indexParser) bytes(limit int) []byte {
	n := p.uvarint()
	if n > uint64(limit) {
		p.fail("string too long")
		return nil
	}
	return p.take(int(n))
}

// cstring is a NUL-terminated string with no other NUL, not just the NUL.
func (p *indexParser) cstring(limit int) []byte {
	s := p.bytes(limit + 1)
	if p.err == nil && (len(s) < 2 || s[len(s)-1] != 0 || bytes.IndexByte(s[:len(s)-1], 0) >= 0) {
		p.fail("bad name")
		return nil
	}
	return s
}

// name is a directory entry's name: a cstring without a slash, not "." or
// "..".
func (p *indexParser) name() []byte {
	s := p.cstring(255)
	if p.err == nil && (bytes.IndexByte(s, '/') >= 0 || string(s) == ".\x00" || string(s) == "..\x00") {
		p.fail("bad entry name")
		return nil
	}
	return s
}

func (p *indexParser) key() statKey {
	return statKey{dev: p.u64(), ino: p.u64(), size: int64(p.u64()), mtime: int64(p.u64()), ctime: int64(p.u64())}
}
