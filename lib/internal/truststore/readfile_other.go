//go:build !unix

package truststore

import "os"

// readFile reads a file of a certificate directory; see readfile_unix.go.
func readFile(path string, scratch []byte) (data, _ []byte, ok bool) {
	data, err := os.ReadFile(path)
	return data, scratch, err == nil
}
