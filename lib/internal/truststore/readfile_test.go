package truststore

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
)

// TestFileReader: files read into shared chunks stay intact; a copy of the
// bundle, however long, reads as nil; files that only start like the
// bundle, or are longer than a chunk, read whole.
func TestFileReader(t *testing.T) {
	dir := t.TempDir()
	bundle := make([]byte, 300<<10) // several chunks
	rand.Read(bundle)
	other := make([]byte, 200<<10)
	rand.Read(other)
	cases := []struct {
		name    string
		content []byte
		nilWant bool
	}{
		{"copy", bundle, true},
		{"prefix-then-other", append(append([]byte{}, bundle[:150<<10]...), other...), false},
		{"bundle-and-more", append(append([]byte{}, bundle...), "more"...), false},
		{"truncated-copy", bundle[:100<<10], false},
		{"chunk-sized-prefix", bundle[:128<<10], false},
		{"large-other", other, false},
		{"empty", nil, false},
		{"one-byte-off", append(append([]byte{}, bundle[:len(bundle)-1]...), bundle[len(bundle)-1]^1), false},
	}
	for i := range 100 {
		small := make([]byte, 1000+i*37)
		rand.Read(small)
		cases = append(cases, struct {
			name    string
			content []byte
			nilWant bool
		}{filepath.Join("small", string(rune('a'+i%26))+string(rune('a'+i/26))), small, false})
	}
	for _, c := range cases {
		writeFile(t, filepath.Join(dir, c.name), c.content)
	}
	var r fileReader
	got := make([][]byte, len(cases))
	for i, c := range cases {
		got[i] = r.read(filepath.Join(dir, c.name), bundle)
	}
	for i, c := range cases { // after all reads: nothing overwritten
		switch {
		case c.nilWant && got[i] != nil:
			t.Errorf("%s: read %d bytes, want nil (a copy of the bundle)", c.name, len(got[i]))
		case !c.nilWant && (got[i] == nil || !bytes.Equal(got[i], c.content)):
			t.Errorf("%s: read %d bytes, want the file's %d", c.name, len(got[i]), len(c.content))
		}
	}
	if r.read(dir, bundle) != nil {
		t.Error("a directory read as a file")
	}
	if r.read(filepath.Join(dir, "missing"), bundle) != nil {
		t.Error("a missing file read")
	}
	if got := r.read(filepath.Join(dir, "copy"), nil); !bytes.Equal(got, bundle) {
		t.Error("with no bundle, its copy must read whole")
	}

	link := filepath.Join(dir, "link")
	long := "/" + string(bytes.Repeat([]byte("x/"), 400)) + "target" // longer than the link buffer
	if err := os.Symlink(long, link); err != nil {
		t.Fatal(err)
	}
	if target, err := r.readlink(link); err != nil || string(target) != long {
		t.Errorf("long link: %q, %v", target, err)
	}
}
