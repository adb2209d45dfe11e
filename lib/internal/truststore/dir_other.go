//go:build !linux

package truststore

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// certDir is a certificate directory being read (by path here; see
// dir_linux.go).
type certDir struct{ path string }

func (d *certDir) close() {}

// dirFile is an entry of a certificate directory.
type dirFile struct {
	dir     *certDir
	name    string
	symlink bool
}

// atDirs is the Linux reader's cache of directory descriptors.
type atDirs struct{}

func (r *fileReader) release() {}

// listDir lists dir as crypto/x509 does, with os.ReadDir.
func listDir(dir string) (*certDir, []dirFile, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	d := &certDir{path: dir}
	files := make([]dirFile, len(des))
	for i, de := range des {
		files[i] = dirFile{d, de.Name(), de.Type()&fs.ModeSymlink != 0}
	}
	return d, files, nil
}

// read reads the file as crypto/x509 does, or returns nil: for a symbolic
// link to a file of the same directory (read under its own name), a file
// that cannot be read, or a copy of the bundle.
func (f *dirFile) read(r *fileReader, bundle []byte, _ *fileRecord) []byte {
	path := f.dir.path + "/" + f.name
	if f.symlink {
		target, err := r.readlink(filepath.Join(f.dir.path, f.name))
		if err == nil && bytes.IndexByte(target, '/') < 0 {
			return nil
		}
		if err == nil && target[0] == '/' {
			// The file the link names, without resolving the link again:
			// the open costs a third less.
			path = string(target)
		}
	}
	return r.read(path, bundle)
}

// The index cache needs the stat calls of Linux.
const cacheSupported = false

func loadWarm(*source) *index { return nil }

// cachedFile and bundleRef are the Linux index cache's; never made here.
type cachedFile struct{}

type bundleRef struct{}

func (*bundleRef) body(int, int) ([]byte, error) { return nil, errors.ErrUnsupported }

func (*cachedFile) materialize(*index) bool { return false }

func writeIndex(*loading) {}

func readBundleKeyed([]string) ([]byte, string, statKey, bool) { return nil, "", statKey{}, false }

func prepareCacheDir(string) error { return errors.ErrUnsupported }
