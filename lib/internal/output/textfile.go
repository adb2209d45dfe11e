package output

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// WriteTextfile replaces path with data atomically, for node_exporter's
// textfile collector: a temporary file in the same directory (named so
// that the collector's *.prom glob skips it), written, synced and made
// world-readable (0644), then renamed over path. A reader sees the old
// file or the new one, never a part. On failure the temporary file is
// removed and the error names path.
func WriteTextfile(path string, data []byte) (err error) {
	fail := func(what string, e error) error {
		// The temporary file's name means nothing to the operator.
		var pe *os.PathError
		if errors.As(e, &pe) {
			e = pe.Err
		}
		return fmt.Errorf("cannot write the Prometheus textfile %s: %s: %w", path, what, e)
	}
	dir, base := filepath.Split(path)
	if base == "" {
		return fail("not a file name", os.ErrInvalid)
	}
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fail("creating a temporary file", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fail("writing", err)
	}
	if err = f.Sync(); err != nil {
		return fail("syncing", err)
	}
	// CreateTemp makes the file 0600; the collector may run as another user.
	if err = f.Chmod(0o644); err != nil {
		return fail("chmod", err)
	}
	if err = f.Close(); err != nil {
		return fail("closing", err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fail("renaming into place", err)
	}
	// The rename is durable once the directory is synced; a failure here
	// leaves a correct file, so it is not reported.
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
