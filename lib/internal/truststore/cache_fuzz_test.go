package truststore

import (
	"encoding/binary"
	"reflect"
	"testing"
)

// FuzzParseIndex: the index file parser never panics, and what it accepts
// it writes back as a file it reads the same. Each input is also tried
// with a valid checksum appended, so the fuzzer reaches past it.
func FuzzParseIndex(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		sealed := binary.LittleEndian.AppendUint64(append([]byte(nil), data...), checksum(data))
		for _, in := range [][]byte{data, sealed} {
			idx, err := parseIndex(in)
			if err != nil {
				continue
			}
			again, err := parseIndex(encodeIndex(idx))
			if err != nil {
				t.Fatalf("the re-encoded index does not parse: %v", err)
			}
			if !reflect.DeepEqual(idx, again) {
				t.Fatalf("the re-encoded index reads differently:\n%+v\n%+v", idx, again)
			}
		}
	})
}
