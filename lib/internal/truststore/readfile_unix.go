//go:build unix

package truststore

import (
	"bytes"
	"os"
	"syscall"
)

// fileReader reads the files of certificate directories with the few
// system calls that takes (open, read to the end, close; not os.ReadFile's
// six, which also register the file with the poller and stat it: on a
// directory of hundreds of links they are most of the cost), into shared
// chunks of memory rather than one allocation per file. Errors are not
// reported: crypto/x509 skips files it cannot read. One per goroutine.
type fileReader struct {
	chunk []byte     // files read so far; the free space follows
	link  [4097]byte // readlink's buffer: PATH_MAX and a NUL
	at    atDirs     // descriptors of the directories links point into
}

// readlink returns the target of the symbolic link at path, valid until
// the next call.
func (r *fileReader) readlink(path string) ([]byte, error) {
	for {
		n, err := syscall.Readlink(path, r.link[:])
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return nil, err
		case n == len(r.link):
			t, err := os.Readlink(path) // longer than any sane link
			return []byte(t), err
		}
		return r.link[:n], nil
	}
}

// read returns the contents of the file at path, or nil if it cannot be
// read or is byte for byte the bundle (the Debian directory holds the
// bundle itself, which adds no certificate the pool does not already
// have; it is compared as it is read, not held).
func (r *fileReader) read(path string, bundle []byte) []byte {
	fd, err := open(path)
	if err != nil {
		return nil
	}
	data, _ := r.readFD(fd, bundle)
	return data
}

// readFD is read for a file already open, which it closes; ok is false if
// reading failed (and true for a copy of the bundle).
func (r *fileReader) readFD(fd int, bundle []byte) (_ []byte, ok bool) {
	defer syscall.Close(fd)
	if cap(r.chunk)-len(r.chunk) < 8<<10 {
		r.chunk = make([]byte, 0, 64<<10)
	}
	start := len(r.chunk)
	buf := r.chunk // the file is buf[start:], after its first matched bytes
	matched := 0   // leading bytes equal to the bundle's, dropped from buf
	own := false   // buf has left the chunk for a larger allocation
	for {
		if len(buf) == cap(buf) {
			if content := buf[start:]; bytes.HasPrefix(bundle[matched:], content) {
				matched += len(content) // the bundle holds them: drop
				buf = buf[:start]
			} else {
				grown := make([]byte, len(content), 2*len(content))
				copy(grown, content)
				buf, start, own = grown, 0, true
			}
		}
		n, err := syscall.Read(fd, buf[len(buf):cap(buf)])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, false
		}
		if n == 0 {
			break
		}
		buf = buf[:len(buf)+n]
	}
	content := buf[start:]
	switch {
	case bundle != nil && bytes.Equal(content, bundle[matched:]):
		return nil, true
	case matched > 0 && bytes.HasPrefix(bundle[matched:], content):
		// A prefix of the bundle (which is never written), like the
		// system bundle when SSL_CERT_FILE is a copy with roots appended.
		n := matched + len(content)
		return bundle[:n:n], true
	case matched > 0:
		return append(bundle[:matched:matched], content...), true
	}
	if !own {
		r.chunk = buf
	}
	return content, true
}

func open(path string) (int, error) {
	for {
		fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != syscall.EINTR {
			return fd, err
		}
	}
}
