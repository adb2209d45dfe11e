//go:build unix

package truststore

import "syscall"

// readFile reads a file of a certificate directory with the three or four
// system calls it takes (open, read to the end, close), not os.ReadFile's
// six or so (it also registers the file with the poller and stats it):
// on a directory of hundreds of links they are most of the cost.
// Its errors are not reported, as crypto/x509 skips such files.
func readFile(path string, scratch []byte) (data, _ []byte, ok bool) {
	fd, err := open(path)
	if err != nil {
		return nil, scratch, false
	}
	defer syscall.Close(fd)
	if cap(scratch) < 4096 {
		scratch = make([]byte, 0, 16<<10)
	}
	buf := scratch[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := syscall.Read(fd, buf[len(buf):cap(buf)])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, buf[:0], false
		}
		if n == 0 {
			return buf, buf[:0], true
		}
		buf = buf[:len(buf)+n]
	}
}

func open(path string) (int, error) {
	for {
		fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != syscall.EINTR {
			return fd, err
		}
	}
}
