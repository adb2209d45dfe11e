//go:build !unix

package truststore

import (
	"bytes"
	"os"
)

// fileReader reads the files of certificate directories; see
// readfile_unix.go.
type fileReader struct{}

func (r *fileReader) readlink(path string) ([]byte, error) {
	t, err := os.Readlink(path)
	return []byte(t), err
}

func (r *fileReader) read(path string, bundle []byte) []byte {
	data, err := os.ReadFile(path)
	if err != nil || (bundle != nil && bytes.Equal(data, bundle)) {
		return nil
	}
	return data
}
