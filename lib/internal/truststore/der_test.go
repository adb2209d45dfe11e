package truststore

import (
	"bytes"
	"testing"
)

// TestSubjectOfLengths: lengths of one to four bytes are read (four is
// crypto/x509's limit too), five are refused, and a prefix that ends inside
// the subject is not enough.
func TestSubjectOfLengths(t *testing.T) {
	subject := []byte{0x30, 0x03, 0x31, 0x01, 0x00}
	tbs := append([]byte{0x02, 0x01, 0x01, 0x30, 0x00, 0x30, 0x00, 0x30, 0x00}, subject...)
	wrap := func(lenBytes []byte, content []byte) []byte {
		return append(append([]byte{0x30}, lenBytes...), content...)
	}
	short := func(n int) []byte { return []byte{byte(n)} }
	for _, tc := range []struct {
		name   string
		length func(n int) []byte
		ok     bool
	}{
		{"short form", short, true},
		{"one byte", func(n int) []byte { return []byte{0x81, byte(n)} }, true},
		{"four bytes", func(n int) []byte { return []byte{0x84, 0, 0, 0, byte(n)} }, true},
		{"five bytes", func(n int) []byte { return []byte{0x85, 0, 0, 0, 0, byte(n)} }, false},
		{"indefinite", func(int) []byte { return []byte{0x80} }, false},
	} {
		inner := wrap(tc.length(len(tbs)), tbs)
		der := wrap(tc.length(len(inner)), inner)
		got, ok := subjectOf(der)
		if ok != tc.ok || (ok && !bytes.Equal(got, subject)) {
			t.Errorf("%s: %x %v", tc.name, got, ok)
		}
		if _, ok := subjectOf(der[:len(der)-1]); ok {
			t.Errorf("%s: a prefix ending inside the subject was enough", tc.name)
		}
	}
	// The optional [0] version is skipped.
	withVersion := append([]byte{0xa0, 0x03, 0x02, 0x01, 0x02}, tbs...)
	der := wrap(short(len(withVersion)+2), wrap(short(len(withVersion)), withVersion))
	if got, ok := subjectOf(der); !ok || !bytes.Equal(got, subject) {
		t.Errorf("with version: %x %v", got, ok)
	}
}
