package truststore

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"unsafe"
)

// On Linux a certificate directory is listed with getdents64 and its
// entries are reached relative to a descriptor of it (readlinkat, openat),
// and the files links name are opened relative to a descriptor of their
// own directory: each lookup then walks one component instead of the
// whole path, which on a directory of hundreds of links is most of the
// cost. What is read, and in which order, is what os.ReadDir, os.Readlink
// and os.ReadFile of the full paths give crypto/x509; any step that does
// not go as expected falls back to those paths.

const (
	atFDCWD   = -100     // AT_FDCWD
	oPath     = 0x200000 // O_PATH: a descriptor for lookups only
	dtUnknown = 0        // DT_UNKNOWN
	dtLink    = 10       // DT_LNK
)

// certDir is a certificate directory being read.
type certDir struct {
	path   string
	fd     int  // -1: reach entries by path
	byPath bool // readlink by filepath.Join's path: the directory path holds ".."
	key    statKey
	keyed  bool // key is the listed directory's
}

// dirFile is an entry of a certificate directory.
type dirFile struct {
	dir     *certDir
	name    []byte // NUL-terminated
	symlink bool
	key     uint64 // the name's first bytes, big-endian: most comparisons end there
	target  []byte // NUL-terminated: a link's target, known from the index cache
}

func (f *dirFile) baseName() string { return string(f.name[:len(f.name)-1]) }

func (d *certDir) close() {
	if d.fd >= 0 {
		syscall.Close(d.fd)
		d.fd = -1
	}
}

// listDir lists dir as os.ReadDir does (sorted by name, without "." and
// "..", entries whose inode is 0 skipped), with os.ReadDir's error when it
// cannot; it keeps the directory open for its entries to be read.
func listDir(dir string) (*certDir, []dirFile, error) {
	if files, d, ok := listFast(dir); ok {
		return d, files, nil
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	d := &certDir{path: dir, fd: -1}
	files := make([]dirFile, len(des))
	for i, de := range des {
		files[i] = dirFile{dir: d, name: append([]byte(de.Name()), 0), symlink: de.Type()&os.ModeSymlink != 0}
	}
	return d, files, nil
}

// listFast is listDir with system calls; ok is false when anything is out
// of the ordinary (an error, an entry of unknown type), for os.ReadDir to
// say what.
func listFast(dir string) (files []dirFile, d *certDir, ok bool) {
	p, err := syscall.BytePtrFromString(dir)
	if err != nil {
		return nil, nil, false
	}
	fd, err := openAt(atFDCWD, p, syscall.O_RDONLY|syscall.O_DIRECTORY)
	if err != nil {
		return nil, nil, false
	}
	d = &certDir{path: dir, fd: fd, byPath: strings.Contains(dir, "..")}
	defer func() {
		if !ok {
			d.close()
		}
	}()
	var st syscall.Stat_t
	if syscall.Fstat(fd, &st) == nil {
		d.key, d.keyed = keyOf(&st), true
	}
	buf := make([]byte, 32<<10) // names point into it: never reused
	used := 0
	for {
		if len(buf)-used < 1<<10 {
			buf, used = make([]byte, 32<<10), 0
		}
		n, err := syscall.ReadDirent(fd, buf[used:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, nil, false
		}
		if n <= 0 {
			break
		}
		recs := buf[used : used+n]
		used += n
		for len(recs) > 0 {
			// struct linux_dirent64: ino u64, off s64, reclen u16, type u8, name.
			if len(recs) < 19 {
				return nil, nil, false
			}
			reclen := int(binary.NativeEndian.Uint16(recs[16:]))
			if reclen < 20 || reclen > len(recs) {
				return nil, nil, false
			}
			ino, typ := binary.NativeEndian.Uint64(recs), recs[18]
			name := recs[19:reclen]
			recs = recs[reclen:]
			nul := bytes.IndexByte(name, 0)
			if nul < 0 {
				return nil, nil, false
			}
			name = name[:nul+1]
			if ino == 0 || string(name) == ".\x00" || string(name) == "..\x00" {
				continue
			}
			if typ == dtUnknown {
				return nil, nil, false // os.ReadDir lstats it
			}
			var k [8]byte
			copy(k[:], name[:nul])
			files = append(files, dirFile{dir: d, name: name, symlink: typ == dtLink, key: binary.BigEndian.Uint64(k[:])})
		}
	}
	slices.SortFunc(files, func(a, b dirFile) int {
		if a.key != b.key {
			return cmp.Compare(a.key, b.key)
		}
		return bytes.Compare(a.name, b.name)
	})
	return files, d, true
}

// read reads the file as crypto/x509 does, or returns nil: for a symbolic
// link to a file of the same directory (read under its own name), a file
// that cannot be read, or a copy of the bundle.
func (f *dirFile) read(r *fileReader, bundle []byte, rec *fileRecord) []byte {
	d := f.dir
	if d.fd < 0 {
		return f.readByPath(r, bundle)
	}
	if f.target != nil {
		// From the index cache: the link's target, known.
		if bytes.IndexByte(f.target, '/') < 0 {
			return nil
		}
		dirfd, name := r.targetAt(d.fd, f.target[:len(f.target)-1])
		return readAt(r, dirfd, name, bundle, rec)
	}
	dirfd, name := d.fd, &f.name[0]
	if f.symlink {
		var target []byte
		var err error
		if d.byPath {
			target, err = r.readlink(filepath.Join(d.path, f.baseName()))
		} else {
			target, err = r.readlinkAt(d.fd, &f.name[0])
		}
		if rec != nil {
			if err != nil {
				rec.linkErr = true
			} else {
				rec.target = append(bytes.Clone(target), 0)
			}
		}
		if err == nil && bytes.IndexByte(target, '/') < 0 {
			return nil
		}
		if err == nil {
			// The file the link names, without resolving the link again;
			// a relative target resolves from the link's directory, as the
			// kernel would resolve it.
			dirfd, name = r.targetAt(d.fd, target)
		}
	}
	return readAt(r, dirfd, name, bundle, rec)
}

// readAt opens name in dirfd and reads it; with rec, it records the file's
// stat and content for the index.
func readAt(r *fileReader, dirfd int, name *byte, bundle []byte, rec *fileRecord) []byte {
	fd, err := openAt(dirfd, name, syscall.O_RDONLY)
	if err != nil {
		return nil
	}
	if rec == nil {
		data, _ := r.readFD(fd, bundle)
		return data
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		syscall.Close(fd)
		return nil
	}
	data, ok := r.readFD(fd, bundle)
	rec.ok, rec.key, rec.content = ok, keyOf(&st), data
	rec.isDir = st.Mode&syscall.S_IFMT == syscall.S_IFDIR
	if ok && data == nil {
		rec.content = bundle
	}
	return data
}

// keyOf is the stat key of st.
func keyOf(st *syscall.Stat_t) statKey {
	return statKey{dev: uint64(st.Dev), ino: uint64(st.Ino), size: int64(st.Size),
		mtime: int64(st.Mtim.Sec)*1e9 + int64(st.Mtim.Nsec), ctime: int64(st.Ctim.Sec)*1e9 + int64(st.Ctim.Nsec)}
}

// readByPath is read with full paths, for a directory listed by os.ReadDir.
func (f *dirFile) readByPath(r *fileReader, bundle []byte) []byte {
	path := f.dir.path + "/" + f.baseName()
	if f.symlink {
		target, err := r.readlink(filepath.Join(f.dir.path, f.baseName()))
		if err == nil && bytes.IndexByte(target, '/') < 0 {
			return nil
		}
		if err == nil && target[0] == '/' {
			path = string(target)
		}
	}
	return r.read(path, bundle)
}

// readlinkAt is readlink of the entry name (NUL-terminated) of the
// directory dirfd; the target, NUL-terminated in r.link, is valid until the
// next call.
func (r *fileReader) readlinkAt(dirfd int, name *byte) ([]byte, error) {
	for {
		n, _, e := syscall.Syscall6(syscall.SYS_READLINKAT, uintptr(dirfd), uintptr(unsafe.Pointer(name)),
			uintptr(unsafe.Pointer(&r.link[0])), uintptr(len(r.link)-1), 0, 0)
		switch {
		case e == syscall.EINTR:
			continue
		case e != 0:
			return nil, e
		case int(n) >= len(r.link)-1:
			return nil, syscall.ENAMETOOLONG // PATH_MAX holds every target
		}
		r.link[n] = 0
		return r.link[:n], nil
	}
}

// targetAt returns where to open target, a link's target read into r.link
// and NUL-terminated there, from the link's directory linkDir: an absolute
// target relative to a descriptor of its directory, kept for the next
// links into it.
func (r *fileReader) targetAt(linkDir int, target []byte) (int, *byte) {
	if target[0] != '/' {
		return linkDir, &target[0]
	}
	i := bytes.LastIndexByte(target, '/')
	base := target[i+1:]
	if len(base) == 0 || string(base) == "." || string(base) == ".." {
		return atFDCWD, &target[0]
	}
	dir := target[:i]
	if i == 0 {
		dir = target[:1]
	}
	fd, ok := r.at.dirs[string(dir)]
	if !ok {
		if r.at.dirs == nil {
			r.at.dirs = map[string]int{}
		}
		fd = -1
		if p, err := syscall.BytePtrFromString(string(dir)); err == nil {
			// O_PATH checks no permission on the directory itself; the
			// lookup in it checks search permission, as the full path's.
			if fd, err = openAt(atFDCWD, p, oPath|syscall.O_DIRECTORY); err != nil {
				fd = -1
			}
		}
		r.at.dirs[string(dir)] = fd
	}
	if fd < 0 {
		return atFDCWD, &target[0]
	}
	return fd, &base[0]
}

// atDirs holds a worker's descriptors of the directories links point into.
type atDirs struct {
	dirs map[string]int // -1: could not be opened
}

// release closes the descriptors the reader holds.
func (r *fileReader) release() {
	for _, fd := range r.at.dirs {
		if fd >= 0 {
			syscall.Close(fd)
		}
	}
	r.at.dirs = nil
}

// openAt is openat(2) of a NUL-terminated name, close-on-exec.
func openAt(dirfd int, name *byte, flags int) (int, error) {
	for {
		fd, _, e := syscall.Syscall6(syscall.SYS_OPENAT, uintptr(dirfd), uintptr(unsafe.Pointer(name)),
			uintptr(flags|syscall.O_CLOEXEC), 0, 0, 0)
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			return -1, e
		}
		return int(fd), nil
	}
}
