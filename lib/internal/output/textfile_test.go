package output

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestWriteTextfile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "smtp.prom")
	old := syscall.Umask(0o077) // the file must be world-readable whatever the umask
	defer syscall.Umask(old)

	for _, data := range []string{"first\n", "second, longer than the first\n", ""} {
		if err := WriteTextfile(path, []byte(data)); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != data {
			t.Fatalf("read %q, %v; want %q", got, err, data)
		}
		fi, _ := os.Stat(path)
		if fi.Mode().Perm() != 0o644 {
			t.Errorf("mode %v, want 0644", fi.Mode().Perm())
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 {
			t.Errorf("directory holds %d entries, want only smtp.prom: %v", len(entries), entries)
		}
	}
}

// TestWriteTextfileReplacesAtomically: a reader holding the old file keeps
// reading the old content; the path then names the new file (a rename, not
// a rewrite in place).
func TestWriteTextfileReplacesAtomically(t *testing.T) {
	path := filepath.Join(t.TempDir(), "smtp.prom")
	if err := WriteTextfile(path, []byte("old content\n")); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	before, _ := f.Stat()
	if err := WriteTextfile(path, []byte("new\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, _ := f.Read(buf)
	if string(buf[:n]) != "old content\n" {
		t.Errorf("the open file reads %q: rewritten in place", buf[:n])
	}
	after, _ := os.Stat(path)
	if os.SameFile(before, after) {
		t.Errorf("same inode after the write: not replaced by rename")
	}
}

func TestWriteTextfileErrors(t *testing.T) {
	dir := t.TempDir()
	isDir := filepath.Join(dir, "a-directory.prom")
	if err := os.Mkdir(isDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(isDir, "keep"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for name, path := range map[string]string{
		"missing directory":   filepath.Join(dir, "no", "such", "dir", "smtp.prom"),
		"path is a directory": isDir,
		"parent is a file":    filepath.Join(isDir, "keep", "smtp.prom"),
		"no file name":        dir + "/",
	} {
		t.Run(name, func(t *testing.T) {
			err := WriteTextfile(path, []byte("x 1\n"))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name %s", err, path)
			}
		})
	}
	// Nothing left behind by the failed attempts.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "a-directory.prom" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
	inner, _ := os.ReadDir(isDir)
	if len(inner) != 1 {
		t.Errorf("left behind in %s: %v", isDir, inner)
	}
}

// TestWriteTextfileRelative writes into the working directory when the
// path has no directory part.
func TestWriteTextfileRelative(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := WriteTextfile("smtp.prom", []byte("x 1\n")); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile("smtp.prom"); string(got) != "x 1\n" {
		t.Errorf("read %q", got)
	}
}

// TestTextfileTempName: the temporary file does not match node_exporter's
// *.prom glob, so a collector scraping mid-write never reads it.
func TestTextfileTempName(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "smtp.prom")
	// A directory in the way of the rename keeps the temporary file visible
	// for a moment: check its name through the error path instead.
	os.Mkdir(path, 0o755)
	os.WriteFile(filepath.Join(path, "x"), nil, 0o644)
	err := WriteTextfile(path, []byte("x 1\n"))
	if err == nil {
		t.Fatal("no error")
	}
	for _, word := range strings.Fields(err.Error()) {
		if strings.Contains(word, ".smtp.prom.tmp-") {
			if m, _ := filepath.Match("*.prom", filepath.Base(word)); m {
				t.Errorf("temporary file %s matches *.prom", word)
			}
			return
		}
	}
	t.Errorf("the error %q does not show the temporary name", err)
}
