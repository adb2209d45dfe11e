package truststore

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// maxIndexFile bounds what is read of an index file.
const maxIndexFile = 16 << 20

// cachedFile is a directory file whose blocks the index cache described:
// its entries hold subjects and hashes, and their DER only once the file is
// read and found to hold exactly those blocks.
type cachedFile struct {
	dir   string
	e     *indexEntry
	first int // index of its first block in the index's entries
	once  sync.Once
	ok    bool
}

// path is where crypto/x509 would read the file.
func (cf *cachedFile) path() string {
	if cf.e.link && cf.e.target[0] == '/' {
		return string(cf.e.target[:len(cf.e.target)-1])
	}
	return cf.dir + "/" + string(cf.e.name[:len(cf.e.name)-1])
}

// materialize reads the file and gives its entries their DER, if it holds
// the blocks the index says, in order; false if it does not.
func (cf *cachedFile) materialize(idx *index) bool {
	cf.once.Do(func() {
		var r fileReader
		blocks, ders := fileBlocks(r.read(cf.path(), nil))
		if len(blocks) != len(cf.e.blocks) {
			return
		}
		for j := range blocks {
			if blocks[j].hash != cf.e.blocks[j].hash || !bytes.Equal(blocks[j].subject, cf.e.blocks[j].subject) {
				return
			}
		}
		for j, der := range ders {
			idx.entries[cf.first+j].raw = der
		}
		cf.ok = true
	})
	return cf.ok
}

// loadWarm makes the index with the index cache's word on the directories,
// or returns nil when the cache cannot vouch for all of them: no usable
// index file, a directory or file whose stat differs, an entry changed
// within racyWindow of the index's build, an unreadable file that now
// reads, or any read error (the full reading reports those).
func loadWarm(s *source) *index {
	data, err := readIndexFile(s.cache.Dir, indexFileName(s.files, s.dirs))
	if err != nil {
		return nil
	}
	f, err := parseIndex(data)
	if err != nil || len(f.dirs) != len(s.dirs) {
		return nil
	}
	racy := f.built - racyWindow.Nanoseconds()
	trusted := func(k statKey) bool { return k.ctime < racy }

	bundleBuilt := s.cache.now().UnixNano()
	bf, ok := openBundle(s.files)
	if !ok {
		return nil // an error: the full reading reports it
	}
	defer bf.close()
	path, key := bf.path, bf.key
	// The entries are made in place, in one allocation: in a process that
	// lives for one check, fresh memory costs its page faults.
	nDir := 0
	for i := range f.dirs {
		for j := range f.dirs[i].entries {
			nDir += len(f.dirs[i].entries[j].blocks)
		}
	}
	nb := len(f.bundle.blocks)
	entries := make([]entry, nb+nDir)
	var (
		bsc    scanned
		bundle []byte
	)
	stale := !f.bundle.fillFrom(bf, entries[:nb])
	if stale {
		if bf.fd >= 0 {
			if bundle, err = readAll(bf.fd, int(bf.size)+512, 0); err != nil {
				return nil
			}
		}
		bsc, _ = scan(bundle, nil)
		nb = len(bsc.found)
		entries = make([]entry, nb+nDir)
		for i, fo := range bsc.found {
			e := &entries[i]
			e.subject, e.body, e.raw, e.c = fo.subject, fo.body, fo.raw, fo.c
		}
	}
	at := nb
	var r fileReader
	defer r.release()
	for i := range f.dirs {
		d := &f.dirs[i]
		if d.path != s.dirs[i] {
			return nil
		}
		if d.key == (statKey{}) { // missing when the index was built
			var st syscall.Stat_t
			if err := syscall.Stat(d.path, &st); err != syscall.ENOENT {
				return nil
			}
			continue
		}
		cd, ok := openCachedDir(d)
		if !ok || !trusted(d.key) {
			if cd != nil {
				cd.close()
			}
			return nil
		}
		n, ok := cd.vouch(&r, d, bundle, trusted, entries, at)
		cd.close()
		if !ok {
			return nil
		}
		at += n
	}
	if stale && key.ctime < bundleBuilt-racyWindow.Nanoseconds() {
		// The directories stand; the bundle's record is renewed (unless
		// the next process could not take it either).
		f.bundle = bundleRecord(bundleBuilt, path, key, bundle, bsc)
		_ = writeIndexFile(s.cache.Dir, indexFileName(s.files, s.dirs), encodeIndex(f))
	}
	idx := &index{entries: entries[:at], cached: true}
	idx.parsed.Store(bsc.parsed)
	return idx
}

// bundleFile is the bundle file, open, as the warm load finds it.
type bundleFile struct {
	fd   int // -1: none of the files exists
	path string
	key  statKey
	size int64
}

func (bf *bundleFile) close() {
	if bf.fd >= 0 {
		syscall.Close(bf.fd)
		bf.fd = -1
	}
}

// openBundle opens the first bundle file that exists; ok is false on any
// other error.
func openBundle(files []string) (bf bundleFile, ok bool) {
	bf.fd = -1
	for _, f := range files {
		p, err := syscall.BytePtrFromString(f)
		if err != nil {
			return bf, false
		}
		fd, err := openAt(atFDCWD, p, syscall.O_RDONLY)
		if err == syscall.ENOENT {
			continue
		}
		if err != nil {
			return bf, false
		}
		var st syscall.Stat_t
		if err := syscall.Fstat(fd, &st); err != nil {
			syscall.Close(fd)
			return bf, false
		}
		return bundleFile{fd: fd, path: f, key: keyOf(&st), size: int64(st.Size)}, true
	}
	return bf, true
}

// fillFrom makes the bundle's entries (out, one per block of the record)
// from the record, if it is of the open bundle (path and stat, changed
// before the racily-clean window). Nothing of the file is read: a claimed
// block's body, and the lines around it, are read when a chain needs it,
// and must frame a block scan would find there (see bundleRef.body).
// Only the subjects of the others are the record's word.
func (bu *indexBundle) fillFrom(bf bundleFile, out []entry) bool {
	if bf.path != bu.path || bf.key != bu.key {
		return false
	}
	if bf.path == "" {
		return true
	}
	if bf.key.ctime >= bu.built-racyWindow.Nanoseconds() {
		return false
	}
	ref := &bundleRef{path: bf.path, key: bf.key}
	for i, bl := range bu.blocks {
		e := &out[i]
		e.subject, e.claimed = bl.subject, true
		e.bundle, e.off, e.n = ref, int32(bl.off), int32(bl.n)
	}
	return true
}

// bundleRef is where the bodies of a bundle's claimed blocks are read
// from: the file, which must still have the stat it had when checked.
type bundleRef struct {
	path string
	key  statKey
}

// frameSlack is how much is read around a block's body to see its BEGIN
// and END lines (blanks at their ends included).
const frameSlack = 256

// body reads the n bytes at off of the file, which must be the body of a
// block scan would find there (framedBody).
func (ref *bundleRef) body(off, n int) ([]byte, error) {
	p, err := syscall.BytePtrFromString(ref.path)
	if err != nil {
		return nil, err
	}
	fd, err := openAt(atFDCWD, p, syscall.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, err
	}
	if keyOf(&st) != ref.key {
		return nil, errors.New("the bundle changed")
	}
	from := max(off-frameSlack, 0)
	w := make([]byte, off+n+frameSlack-from)
	got := 0
	for got < len(w) {
		m, err := syscall.Pread(fd, w[got:], int64(from+got))
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if m == 0 {
			break
		}
		got += m
	}
	w = w[:got]
	if !framedBody(w, off-from, n, from == 0, int64(from+got) >= int64(st.Size)) {
		return nil, errors.New("the index does not point at a block of the bundle")
	}
	return w[off-from : off-from+n : off-from+n], nil
}

// bundleRecord is the index's record of the bundle read and scanned.
func bundleRecord(built int64, path string, key statKey, data []byte, sc scanned) indexBundle {
	bu := indexBundle{built: built, path: path, key: key}
	for _, f := range sc.found {
		bu.blocks = append(bu.blocks, bundleBlock{off: cap(data) - cap(f.body), n: len(f.body), subject: f.subject})
	}
	return bu
}

// readBundleKeyed is readBundle with the stat of the file read; ok is
// false on any error but "does not exist".
func readBundleKeyed(files []string) (data []byte, path string, key statKey, ok bool) {
	for _, f := range files {
		p, err := syscall.BytePtrFromString(f)
		if err != nil {
			return nil, "", statKey{}, false
		}
		fd, err := openAt(atFDCWD, p, syscall.O_RDONLY)
		if err == syscall.ENOENT {
			continue
		}
		if err != nil {
			return nil, "", statKey{}, false
		}
		var st syscall.Stat_t
		if err := syscall.Fstat(fd, &st); err != nil {
			syscall.Close(fd)
			return nil, "", statKey{}, false
		}
		data, err := readAll(fd, int(st.Size)+512, 0)
		syscall.Close(fd)
		if err != nil {
			return nil, "", statKey{}, false
		}
		return data, f, keyOf(&st), true
	}
	return nil, "", statKey{}, true
}

// errTooLong is readAll's error for a file longer than its limit.
var errTooLong = errors.New("too long")

// readAll reads fd to its end, into a buffer of size bytes at first; with
// limit > 0, a file longer than limit bytes is errTooLong.
func readAll(fd, size, limit int) ([]byte, error) {
	buf := make([]byte, 0, max(size, 512))
	for {
		if len(buf) == cap(buf) {
			if limit > 0 && len(buf) >= limit {
				return nil, errTooLong
			}
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := syscall.Read(fd, buf[len(buf):cap(buf)])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return buf[:len(buf):len(buf)], nil // offsets are cap(data)-cap(body)
		}
		buf = buf[:len(buf)+n]
	}
}

// openCachedDir opens the directory of d if it is the one d describes.
func openCachedDir(d *indexDir) (*certDir, bool) {
	p, err := syscall.BytePtrFromString(d.path)
	if err != nil {
		return nil, false
	}
	fd, err := openAt(atFDCWD, p, syscall.O_RDONLY|syscall.O_DIRECTORY)
	if err != nil {
		return nil, false
	}
	cd := &certDir{path: d.path, fd: fd}
	var st syscall.Stat_t
	if syscall.Fstat(fd, &st) != nil || keyOf(&st) != d.key {
		return cd, false
	}
	return cd, true
}

// vouch checks the files of d against their stat and makes their entries
// from the index, in entries from at on; it returns how many. ok is false
// if any file has changed, or is racy, or an unreadable one now reads.
func (cd *certDir) vouch(r *fileReader, d *indexDir, bundle []byte, trusted func(statKey) bool, entries []entry, at int) (n int, ok bool) {
	files := 0
	for j := range d.entries {
		if d.entries[j].kind == kindFile {
			files++
		}
	}
	all := make([]cachedFile, files)
	start := at
	for j := range d.entries {
		e := &d.entries[j]
		switch e.kind {
		case kindUnreadable:
			// It may read now: a link's target may have appeared.
			f := dirFile{dir: cd, name: e.name, symlink: e.link, target: e.target}
			var rec fileRecord
			if f.read(r, bundle, &rec); rec.ok {
				return 0, false
			}
		case kindFile:
			dirfd, name := cd.fd, &e.name[0]
			if e.link {
				dirfd, name = r.targetAt(cd.fd, e.target[:len(e.target)-1])
			}
			var st syscall.Stat_t
			if fstatAt(dirfd, name, &st) != nil || keyOf(&st) != e.key || !trusted(e.key) {
				return 0, false
			}
			cf := &all[0]
			all = all[1:]
			cf.dir, cf.e, cf.first = d.path, e, at
			for _, b := range e.blocks {
				en := &entries[at]
				en.subject, en.hash, en.file = b.subject, b.hash, cf
				at++
			}
		}
	}
	return at - start, true
}

// writeIndex writes the index cache of a full reading, unless something
// in it was out of the ordinary (a read error, a link that could not be
// read, a directory listed by os.ReadDir or named through ".."). Failing to
// write costs the next process the full reading, nothing else.
func writeIndex(l *loading) {
	b := l.build
	if l.firstErr != nil {
		return
	}
	// An index the next process could not take (an entry changed within
	// racyWindow) is not worth its blocks' hashing.
	racy := b.built - racyWindow.Nanoseconds()
	for _, sl := range b.slots {
		if sl.d == nil {
			continue
		}
		if sl.d.key.ctime >= racy {
			return
		}
		for i := sl.from; i < sl.to; i++ {
			if rec := &l.records[i]; rec.ok && rec.key.ctime >= racy {
				return
			}
		}
	}
	f := &indexFile{built: b.built}
	dirs := make([]string, 0, len(b.slots))
	for _, sl := range b.slots {
		dirs = append(dirs, sl.path)
		if sl.d == nil {
			f.dirs = append(f.dirs, indexDir{path: sl.path})
			continue
		}
		if !sl.d.keyed || sl.d.byPath || sl.d.key == (statKey{}) {
			return
		}
		d := indexDir{path: sl.path, key: sl.d.key, entries: make([]indexEntry, 0, sl.to-sl.from)}
		for i := sl.from; i < sl.to; i++ {
			p, rec := &l.paths[i], &l.records[i]
			e := indexEntry{name: p.name, link: p.symlink}
			if p.symlink {
				if rec.linkErr || rec.target == nil {
					return
				}
				e.target = rec.target
				if bytes.IndexByte(rec.target, '/') < 0 {
					// Never read, and the directory's stat vouches that it
					// stays such a link: the index need not list it.
					continue
				}
			}
			switch {
			case rec.ok:
				e.kind, e.key = kindFile, rec.key
				e.blocks, _ = fileBlocks(rec.content)
			case rec.isDir && !p.symlink:
				// A subdirectory (Debian's java): the directory's stat
				// vouches it stays this one, which stays a directory.
				continue
			default:
				e.kind = kindUnreadable
			}
			d.entries = append(d.entries, e)
		}
		f.dirs = append(f.dirs, d)
	}
	if b.bundleOK {
		f.bundle = bundleRecord(b.built, b.bundlePath, b.bundleKey, l.bundle, l.results[0])
	}
	_ = writeIndexFile(b.cache.Dir, indexFileName(b.files, dirs), encodeIndex(f))
}

// trustedCacheStat checks that a cache directory or index file is of the
// type wanted, owned by the effective user and writable by no one else.
func trustedCacheStat(st *syscall.Stat_t, typ uint32, what string) error {
	switch {
	case st.Mode&syscall.S_IFMT != typ:
		return fmt.Errorf("%s: not a %s", what, map[uint32]string{syscall.S_IFDIR: "directory", syscall.S_IFREG: "regular file"}[typ])
	case int(st.Uid) != os.Geteuid():
		return fmt.Errorf("%s: owned by uid %d, not %d", what, st.Uid, os.Geteuid())
	case st.Mode&0o022 != 0:
		return fmt.Errorf("%s: writable by group or others (mode %o)", what, st.Mode&0o777)
	}
	return nil
}

// openCacheDir opens the cache directory, without following a link, if it
// is trusted.
func openCacheDir(dir string) (int, error) {
	p, err := syscall.BytePtrFromString(dir)
	if err != nil {
		return -1, err
	}
	fd, err := openAt(atFDCWD, p, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW)
	if err != nil {
		return -1, fmt.Errorf("index cache %s: %w", dir, err)
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		syscall.Close(fd)
		return -1, err
	}
	if err := trustedCacheStat(&st, syscall.S_IFDIR, "index cache "+dir); err != nil {
		syscall.Close(fd)
		return -1, err
	}
	return fd, nil
}

// readIndexFile reads the index file name of the cache directory dir, if
// both are trusted; relative to the directory's descriptor, so neither can
// be swapped between the checks and the reading.
func readIndexFile(dir, name string) ([]byte, error) {
	dfd, err := openCacheDir(dir)
	if err != nil {
		return nil, err
	}
	defer syscall.Close(dfd)
	p, err := syscall.BytePtrFromString(name)
	if err != nil {
		return nil, err
	}
	fd, err := openAt(dfd, p, syscall.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("index file %s/%s: %w", dir, name, err)
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, err
	}
	if err := trustedCacheStat(&st, syscall.S_IFREG, "index file "+dir+"/"+name); err != nil {
		return nil, err
	}
	if st.Size > maxIndexFile {
		return nil, fmt.Errorf("index file %s/%s: %d bytes, more than %d", dir, name, st.Size, maxIndexFile)
	}
	buf, err := readAll(fd, int(st.Size)+1, maxIndexFile) // +1: EOF in the same buffer
	if errors.Is(err, errTooLong) {
		return nil, fmt.Errorf("index file %s/%s: more than %d bytes", dir, name, maxIndexFile)
	}
	return buf, err
}

// mkdirCache makes the cache directory (0700) and, if missing, its parent
// (~/.cache), never more: a home directory that does not exist (HOME is
// /nonexistent for many system users) is not made.
func mkdirCache(dir string) error {
	err := os.Mkdir(dir, 0o700)
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.Mkdir(filepath.Dir(dir), 0o700); err == nil || errors.Is(err, fs.ErrExist) {
			err = os.Mkdir(dir, 0o700)
		}
	}
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	return err
}

// prepareCacheDir makes the cache directory if it is missing, and checks
// an index file could be written there.
func prepareCacheDir(dir string) error {
	if err := mkdirCache(dir); err != nil {
		return err
	}
	dfd, err := openCacheDir(dir)
	if err != nil {
		return err
	}
	syscall.Close(dfd)
	return syscall.Access(dir, 2) // W_OK
}

// writeIndexFile replaces the index file name of the cache directory dir
// (created 0700 if missing) with data: written to a new file (0600) and
// renamed over it, so readers see the old file or the new one.
func writeIndexFile(dir, name string, data []byte) error {
	if err := prepareCacheDir(dir); err != nil {
		return err
	}
	var rnd [8]byte
	rand.Read(rnd[:])
	tmp := dir + "/" + name + ".tmp-" + hex.EncodeToString(rnd[:])
	fh, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	_, err = fh.Write(data)
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dir+"/"+name)
	}
	if err != nil {
		os.Remove(tmp)
		return errors.Join(errors.New("index cache not written"), err)
	}
	return nil
}
