//go:build linux

package truststore

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// later is a clock 10 s ahead: files the test has just written are past
// the racily-clean window of an index built by it.
func later() time.Time { return time.Now().Add(10 * time.Second) }

// cachedWorld is a generated store, its index cache directory, and the
// reference's verdict-relevant view of it.
type cachedWorld struct {
	*world
	cache IndexCache
}

func newCachedWorld(t *testing.T) *cachedWorld {
	t.Helper()
	if !cacheSupported {
		t.Skip("no index cache on this architecture")
	}
	return &cachedWorld{world: newWorld(t), cache: IndexCache{Dir: filepath.Join(t.TempDir(), "cache", "check-smtp"), Now: later}}
}

func (w *cachedWorld) store() *Store {
	return &Store{src: &source{files: w.files, dirs: w.dirs, cache: w.cache}}
}

func (w *cachedWorld) indexPath() string {
	return filepath.Join(w.cache.Dir, indexFileName(w.files, w.dirs))
}

// load makes a Store and loads it, reporting whether the cache served.
func (w *cachedWorld) load(t *testing.T) (*Store, bool) {
	t.Helper()
	s := w.store()
	s.Preload()
	return s, s.src.warm != nil
}

// allCerts is every certificate of the world, to ask Roots about each
// subject.
func (w *cachedWorld) allCerts() []*x509.Certificate {
	var out []*x509.Certificate
	for _, c := range w.cas {
		out = append(out, c.cert)
	}
	return out
}

// checkSame: every subject's pool is the reference's, and every chain's
// verdict the full pool's (every chain of at most two certificates; with
// all, every chain).
func (w *cachedWorld) checkSame(t *testing.T, s *Store, all ...bool) {
	t.Helper()
	checkAgainstReference(t, s, w.files, w.dirs, w.allCerts())
	full := referencePool(t, w.files, w.dirs, nil)
	for _, chain := range w.chainsOf() {
		if len(chain) > 2 && len(all) == 0 {
			continue
		}
		pool, err := s.Roots(chain)
		if err != nil {
			t.Fatal(err)
		}
		for _, at := range checkTimes {
			if got, want := verdict(verify(chain, pool, at)), verdict(verify(chain, full, at)); got != want {
				t.Fatalf("chain %s at %s:\n got: %s\nwant: %s", describeChain(chain), at.Format(time.DateOnly), got, want)
			}
		}
	}
}

// claimedEntries counts the bundle's entries taken from the index.
func claimedEntries(s *Store) int {
	n := 0
	if s.src.warm != nil {
		for i := range s.src.warm.entries {
			if s.src.warm.entries[i].claimed {
				n++
			}
		}
	}
	return n
}

// TestCacheSameVerdict: a Store served by the index cache gives every
// chain the verdict of the full pool, reads only candidate files, and the
// cache is written with the modes it must have.
func TestCacheSameVerdict(t *testing.T) {
	w := newCachedWorld(t)
	if _, warm := w.load(t); warm {
		t.Fatal("served by a cache that does not exist")
	}
	st, err := os.Stat(w.indexPath())
	if err != nil {
		t.Fatalf("no index written: %v", err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("index file mode %o, want 600", st.Mode().Perm())
	}
	if dst, err := os.Stat(w.cache.Dir); err != nil || dst.Mode().Perm() != 0o700 {
		t.Errorf("cache directory: %v, mode %o, want 700", err, dst.Mode().Perm())
	}
	s, warm := w.load(t)
	if !warm {
		t.Fatal("the cache did not serve an unchanged store")
	}
	w.checkSame(t, s, true)
	if s.src.full.Load() != nil {
		t.Error("the cache was found wrong about an unchanged store")
	}
	if claimedEntries(s) == 0 {
		t.Error("the bundle was scanned, not taken from the index")
	}
	// A chain under a root of the bundle reads no directory file: the
	// copies in the directories are known to be the same DER.
	s, _ = w.load(t)
	leaf := makeCert(t, certSpec{subject: name("b.test"), leaf: true, parent: w.cas["B"]})
	pool, err := s.Roots([]*x509.Certificate{leaf.cert})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify([]*x509.Certificate{leaf.cert}, pool, epoch); err != nil {
		t.Errorf("b.test: %v", err)
	}
	for i := range s.src.warm.entries {
		if e := &s.src.warm.entries[i]; e.file != nil && e.file.ok {
			t.Errorf("%s read for a chain under the bundle's Root A", e.file.path())
		}
	}
}

// TestCacheConcurrent: goroutines sharing a Store the cache serves read
// its candidate files once each (run with -race).
func TestCacheConcurrent(t *testing.T) {
	w := newCachedWorld(t)
	w.load(t)
	s, warm := w.load(t)
	if !warm {
		t.Fatal("not warm")
	}
	full := referencePool(t, w.files, w.dirs, nil)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := i; j < len(w.leaves); j += 4 {
				chain := []*x509.Certificate{w.leaves[j].cert}
				pool, err := s.Roots(chain)
				if err != nil {
					t.Error(err)
					return
				}
				if got, want := verdict(verify(chain, pool, epoch)), verdict(verify(chain, full, epoch)); got != want {
					t.Errorf("%s: got %s want %s", describeChain(chain), got, want)
				}
			}
		})
	}
	wg.Wait()
}

// TestCacheRealStore: the machine's trust store through the index cache
// (warm) holds, for every root, exactly the reference's certificates with
// its subject.
func TestCacheRealStore(t *testing.T) {
	if !cacheSupported {
		t.Skip("no index cache on this architecture")
	}
	const bundle = "/etc/ssl/certs/ca-certificates.crt"
	if _, err := os.Stat(bundle); err != nil {
		t.Skipf("no system bundle at %s (%v)", bundle, err)
	}
	env := Env{CertFile: os.Getenv("SSL_CERT_FILE"), CertDir: os.Getenv("SSL_CERT_DIR")}
	cache := IndexCache{Dir: t.TempDir(), Now: later}
	SystemCached(env, cache).Preload()
	s := SystemCached(env, cache)
	s.Preload()
	if s.src.warm == nil {
		t.Fatal("the cache did not serve")
	}
	ref, err := referenceCerts(s.src.files, s.src.dirs)
	if err != nil {
		t.Fatal(err)
	}
	checkAgainstReference(t, s, s.src.files, s.src.dirs, ref)
	if s.src.full.Load() != nil {
		t.Error("the cache was found wrong")
	}
}

// TestCacheInvalidation: every kind of change to the store makes the next
// Store read it in full, with the new content, and the one after that use
// the rewritten cache.
func TestCacheInvalidation(t *testing.T) {
	certsDir := func(w *cachedWorld) string { return w.dirs[0] }
	cases := []struct {
		name   string
		change func(t *testing.T, w *cachedWorld)
	}{
		{"content-same-size", func(t *testing.T, w *cachedWorld) {
			// zz-late.pem holds Mgood, padded to 2048 bytes (see below);
			// C2 takes its place, padded the same.
			writeSameInode(t, filepath.Join(certsDir(w), "zz-late.pem"), padTo(pemOf(w.cas["C2"].cert), 2048))
		}},
		{"link-target-content", func(t *testing.T, w *cachedWorld) {
			// root0.pem -> share/root0.crt (A): the target changes, the
			// directory does not.
			p := filepath.Join(filepath.Dir(certsDir(w)), "share", "root0.crt")
			writeSameInode(t, p, pemOf(w.cas["B"].cert))
		}},
		{"entry-added", func(t *testing.T, w *cachedWorld) {
			writeFile(t, filepath.Join(certsDir(w), "new.pem"), pemOf(w.cas["Z"].cert))
		}},
		{"entry-removed", func(t *testing.T, w *cachedWorld) {
			if err := os.Remove(filepath.Join(certsDir(w), "zz-late.pem")); err != nil {
				t.Fatal(err)
			}
		}},
		{"link-retargeted", func(t *testing.T, w *cachedWorld) {
			l := filepath.Join(certsDir(w), "root1.pem") // BxA
			if err := os.Remove(l); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(filepath.Join(filepath.Dir(certsDir(w)), "share", "root0.crt"), l); err != nil {
				t.Fatal(err)
			}
		}},
		{"link-made-same-dir", func(t *testing.T, w *cachedWorld) {
			l := filepath.Join(certsDir(w), "dot.pem") // ./d-root.pem: read; d-root.pem: skipped
			if err := os.Remove(l); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("d-root.pem", l); err != nil {
				t.Fatal(err)
			}
		}},
		{"dir-replaced", func(t *testing.T, w *cachedWorld) {
			// The same entries, in a new directory, but one file differs.
			d := certsDir(w)
			if err := os.Rename(d, d+".old"); err != nil {
				t.Fatal(err)
			}
			copyDir(t, d+".old", d)
			writeFile(t, filepath.Join(d, "zz-late.pem"), pemOf(w.cas["Z"].cert))
		}},
		{"missing-dir-appears", func(t *testing.T, w *cachedWorld) {
			writeFile(t, filepath.Join(w.dirs[1], "late.pem"), pemOf(w.cas["Z"].cert))
		}},
		{"bundle-changed", func(t *testing.T, w *cachedWorld) {
			writeFile(t, w.files[1], pemOf(w.cas["Z"].cert))
		}},
		{"bundle-same-size", func(t *testing.T, w *cachedWorld) {
			// A new root takes the place of Filler 005, at the same
			// length: the record, were it taken, would hide it.
			data, _ := os.ReadFile(w.files[1])
			var filler []byte
			for rest := data; len(rest) > 0; {
				var b *pem.Block
				if b, rest = pem.Decode(rest); b == nil {
					break
				}
				if c, err := x509.ParseCertificate(b.Bytes); err == nil && c.Subject.CommonName == "Filler 005" {
					filler = pemOf(c)
				}
			}
			var fresh *ca
			for range 200 {
				if c := makeCert(t, certSpec{subject: name("Freshly 05")}); len(pemOf(c.cert)) == len(filler) {
					fresh = c
					break
				}
			}
			if fresh == nil {
				t.Fatal("no certificate of the filler's length")
			}
			w.cas["Fresh"] = fresh
			copy(data[bytes.Index(data, filler):], pemOf(fresh.cert))
			writeSameInode(t, w.files[1], data)
		}},
		{"earlier-bundle-appears", func(t *testing.T, w *cachedWorld) {
			writeFile(t, w.files[0], pemOf(w.cas["Z"].cert))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newCachedWorld(t)
			if c.name == "content-same-size" {
				writeFile(t, filepath.Join(certsDir(w), "zz-late.pem"), padTo(pemOf(w.cas["Mgood"].cert), 2048))
			}
			w.load(t)
			if _, warm := w.load(t); !warm {
				t.Fatal("not warm before the change")
			}
			c.change(t, w)
			s, warm := w.load(t)
			if warm && !strings.Contains(c.name, "bundle") {
				t.Fatal("the cache served a changed store")
			}
			if n := claimedEntries(s); n != 0 {
				t.Fatalf("%d bundle blocks taken from the record of a changed bundle", n)
			}
			w.checkSame(t, s)
			s, warm = w.load(t)
			if !warm {
				t.Fatal("the cache was not rewritten after the change")
			}
			w.checkSame(t, s)
		})
	}
}

// TestCacheDanglingLink: a link whose target did not exist when the index
// was built is tried again, and its file read once it exists.
func TestCacheDanglingLink(t *testing.T) {
	w := newCachedWorld(t)
	target := filepath.Join(t.TempDir(), "later", "late.pem")
	if err := os.Symlink(target, filepath.Join(w.dirs[0], "late.pem")); err != nil {
		t.Fatal(err)
	}
	w.load(t)
	if _, warm := w.load(t); !warm {
		t.Fatal("not warm")
	}
	writeFile(t, target, pemOf(w.cas["Z"].cert))
	s, warm := w.load(t)
	if warm {
		t.Fatal("the cache served though a dangling link now resolves")
	}
	w.checkSame(t, s)
}

// padTo pads a PEM file with newlines to n bytes.
func padTo(p []byte, n int) []byte {
	return append(p, bytes.Repeat([]byte("\n"), n-len(p))...)
}

// writeSameInode rewrites a file in place (same inode).
func writeSameInode(t *testing.T, path string, data []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// copyDir copies a directory's files and links (not its subdirectories'
// content).
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	des, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(to, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		src, dst := filepath.Join(from, de.Name()), filepath.Join(to, de.Name())
		switch {
		case de.Type()&os.ModeSymlink != 0:
			target, err := os.Readlink(src)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, dst); err != nil {
				t.Fatal(err)
			}
		case de.IsDir():
			if err := os.Mkdir(dst, 0o755); err != nil {
				t.Fatal(err)
			}
		default:
			data, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, dst, data)
		}
	}
}

// TestCacheRacilyClean: an index built less than racyWindow after its
// files last changed is never taken, even when it lies about them.
func TestCacheRacilyClean(t *testing.T) {
	w := newCachedWorld(t)
	w.cache.Now = time.Now // the files are new: every one is racy
	if s, _ := w.load(t); s.src.l.build == nil {
		t.Fatal("no index built")
	}
	if _, err := os.Stat(w.indexPath()); !os.IsNotExist(err) {
		t.Fatalf("an index that could not be taken was written (%v)", err)
	}
	// An index built just after the files changed, which says
	// zz-late.pem holds nothing, as if it had changed within the clock's
	// granularity after the index read it.
	w.cache.Now = later
	w.load(t)
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(w.dirs[0], "zz-late.pem"), &st); err != nil {
		t.Fatal(err)
	}
	ctime := time.Unix(int64(st.Ctim.Sec), int64(st.Ctim.Nsec))
	tamper(t, w, func(f *indexFile) {
		f.built = ctime.Add(racyWindow - time.Millisecond).UnixNano()
		for i := range f.dirs[0].entries {
			if e := &f.dirs[0].entries[i]; string(e.name) == "zz-late.pem\x00" {
				e.blocks = nil
			}
		}
	})
	s, warm := w.load(t)
	if warm {
		t.Fatal("a racily clean index served")
	}
	w.checkSame(t, s)
	// The rewritten index (built past the window) serves; one built
	// before the files changed does not.
	if _, warm := w.load(t); !warm {
		t.Fatal("an index built past the window did not serve")
	}
	tamper(t, w, func(f *indexFile) { f.built = time.Now().Add(-time.Minute).UnixNano() })
	if _, warm := w.load(t); warm {
		t.Fatal("an index built before its files changed served")
	}
}

// TestCacheRacyBundle: the bundle's record is not taken when the bundle
// changed within racyWindow before it was read.
func TestCacheRacyBundle(t *testing.T) {
	w := newCachedWorld(t)
	w.load(t)
	var st syscall.Stat_t
	if err := syscall.Stat(w.files[1], &st); err != nil {
		t.Fatal(err)
	}
	ctime := time.Unix(int64(st.Ctim.Sec), int64(st.Ctim.Nsec))
	for _, c := range []struct {
		after time.Duration // from the bundle's change to the record's reading
		taken bool
	}{{time.Second, false}, {racyWindow - time.Millisecond, false}, {racyWindow + time.Millisecond, true}} {
		tamper(t, w, func(f *indexFile) { f.bundle.built = ctime.Add(c.after).UnixNano() })
		s, warm := w.load(t)
		if !warm {
			t.Fatal("not warm")
		}
		if taken := claimedEntries(s) > 0; taken != c.taken {
			t.Errorf("read %v after the change: record taken %v, want %v", c.after, taken, c.taken)
		}
	}
}

// tamper rewrites the world's index file through edit, keeping it valid.
func tamper(t *testing.T, w *cachedWorld, edit func(*indexFile)) {
	t.Helper()
	data, err := os.ReadFile(w.indexPath())
	if err != nil {
		t.Fatal(err)
	}
	f, err := parseIndex(data)
	if err != nil {
		t.Fatal(err)
	}
	edit(f)
	if err := os.WriteFile(w.indexPath(), encodeIndex(f), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestCacheHostile: an index file that is corrupt, truncated, lies about
// a file's blocks, or is not the user's to trust, costs a full reading at
// most: the verdicts stay the full pool's.
func TestCacheHostile(t *testing.T) {
	cases := []struct {
		name    string
		spoil   func(t *testing.T, w *cachedWorld)
		served  bool   // the cache still serves (and is caught when read)
		caught  bool   // a chain's Roots finds the lie
		rootDep bool   // needs root to set up
		chainCN string // the leaf whose chain is checked first; "": a.test
		noClaim bool   // the bundle's record must not be taken
	}{
		{name: "corrupt", spoil: func(t *testing.T, w *cachedWorld) {
			data, _ := os.ReadFile(w.indexPath())
			data[len(data)/2] ^= 0x40
			os.WriteFile(w.indexPath(), data, 0o600)
		}},
		{name: "truncated", spoil: func(t *testing.T, w *cachedWorld) {
			data, _ := os.ReadFile(w.indexPath())
			os.WriteFile(w.indexPath(), data[:len(data)-100], 0o600)
		}},
		{name: "empty", spoil: func(t *testing.T, w *cachedWorld) {
			os.WriteFile(w.indexPath(), nil, 0o600)
		}},
		{name: "subjects-swapped", served: true, caught: true, spoil: func(t *testing.T, w *cachedWorld) {
			// Every file's first block claims Root A: a chain under Root A
			// reads them, and finds out.
			subj := w.cas["A"].cert.RawSubject
			tamper(t, w, func(f *indexFile) {
				for i := range f.dirs[0].entries {
					if e := &f.dirs[0].entries[i]; len(e.blocks) > 0 {
						e.blocks[0].subject = subj
					}
				}
			})
		}},
		{name: "hash-wrong", served: true, caught: true, spoil: func(t *testing.T, w *cachedWorld) {
			tamper(t, w, func(f *indexFile) {
				for i := range f.dirs[0].entries {
					if e := &f.dirs[0].entries[i]; len(e.blocks) > 0 {
						e.blocks[0].hash[0] ^= 1
					}
				}
			})
		}},
		{name: "extra-block", served: true, caught: true, spoil: func(t *testing.T, w *cachedWorld) {
			// A Root A block the file does not hold.
			tamper(t, w, func(f *indexFile) {
				for i := range f.dirs[0].entries {
					if e := &f.dirs[0].entries[i]; string(e.name) == "zz-late.pem\x00" {
						e.blocks = append(e.blocks, indexBlock{subject: w.cas["A"].cert.RawSubject})
					}
				}
			})
		}},
		{name: "block-dropped", served: true, caught: true, chainCN: "d.test", spoil: func(t *testing.T, w *cachedWorld) {
			// d-root.pem holds D and Inter I; the index says D only.
			tamper(t, w, func(f *indexFile) {
				for i := range f.dirs[0].entries {
					if e := &f.dirs[0].entries[i]; string(e.name) == "d-root.pem\x00" {
						e.blocks = e.blocks[:1]
					}
				}
			})
		}},
		{name: "bundle-subject-lie", served: true, caught: true, spoil: func(t *testing.T, w *cachedWorld) {
			// The bundle's first block (Filler 000) claims Root A.
			tamper(t, w, func(f *indexFile) { f.bundle.blocks[0].subject = w.cas["A"].cert.RawSubject })
		}},
		{name: "bundle-offset-moved", served: true, caught: true, spoil: func(t *testing.T, w *cachedWorld) {
			// Root A's body one byte later: not the body of a block.
			subj := w.cas["A"].cert.RawSubject
			tamper(t, w, func(f *indexFile) {
				for i := range f.bundle.blocks {
					if bytes.Equal(f.bundle.blocks[i].subject, subj) {
						f.bundle.blocks[i].off++
					}
				}
			})
		}},
		{name: "bundle-other-file", served: true, noClaim: true, spoil: func(t *testing.T, w *cachedWorld) {
			tamper(t, w, func(f *indexFile) { f.bundle.path = w.files[2] })
		}},
		{name: "group-writable", spoil: func(t *testing.T, w *cachedWorld) {
			os.Chmod(w.indexPath(), 0o620)
		}},
		{name: "dir-world-writable", spoil: func(t *testing.T, w *cachedWorld) {
			os.Chmod(w.cache.Dir, 0o777)
		}},
		{name: "symlink", spoil: func(t *testing.T, w *cachedWorld) {
			p := w.indexPath()
			os.Rename(p, p+".real")
			os.Symlink(p+".real", p)
		}},
		{name: "dir-symlink", spoil: func(t *testing.T, w *cachedWorld) {
			os.Rename(w.cache.Dir, w.cache.Dir+".real")
			os.Symlink(w.cache.Dir+".real", w.cache.Dir)
		}},
		{name: "someone-elses", rootDep: true, spoil: func(t *testing.T, w *cachedWorld) {
			os.Chown(w.indexPath(), 4242, 4242)
		}},
		{name: "someone-elses-dir", rootDep: true, spoil: func(t *testing.T, w *cachedWorld) {
			os.Chown(w.cache.Dir, 4242, 4242)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.rootDep && os.Geteuid() != 0 {
				t.Skip("chown needs root")
			}
			w := newCachedWorld(t)
			w.load(t)
			c.spoil(t, w)
			s, warm := w.load(t)
			if warm != c.served {
				t.Fatalf("served by the cache: %v, want %v", warm, c.served)
			}
			// Root A's chain first: what a lie about Root A shows.
			leaf := w.leaves[0].cert
			for _, l := range w.leaves {
				if l.cert.Subject.CommonName == c.chainCN {
					leaf = l.cert
				}
			}
			if _, err := s.Roots([]*x509.Certificate{leaf}); err != nil {
				t.Fatal(err)
			}
			if n := claimedEntries(s); c.noClaim && n != 0 {
				t.Errorf("%d bundle blocks taken from a wrong record", n)
			}
			if caught := s.src.full.Load() != nil; caught != c.caught {
				t.Errorf("lie caught: %v, want %v", caught, c.caught)
			}
			w.checkSame(t, s)
		})
	}
}

// TestCacheFileChecks: the index file is read only from a directory and
// file of the effective user's that no one else can write, without
// following links.
func TestCacheFileChecks(t *testing.T) {
	if !cacheSupported {
		t.Skip("no index cache on this architecture")
	}
	dir := filepath.Join(t.TempDir(), "c")
	if err := writeIndexFile(dir, "x", []byte("data")); err != nil {
		t.Fatal(err)
	}
	if data, err := readIndexFile(dir, "x"); err != nil || string(data) != "data" {
		t.Fatalf("read back: %q, %v", data, err)
	}
	big := bytes.Repeat([]byte("y"), 70<<10) // past a first read
	if err := writeIndexFile(dir, "x", big); err != nil {
		t.Fatal(err)
	}
	if data, err := readIndexFile(dir, "x"); err != nil || !bytes.Equal(data, big) {
		t.Fatalf("read back %d bytes, %v", len(data), err)
	}
	if err := os.Chmod(filepath.Join(dir, "x"), 0o602); err != nil {
		t.Fatal(err)
	}
	if _, err := readIndexFile(dir, "x"); err == nil || !strings.Contains(err.Error(), "writable") {
		t.Errorf("world-writable file: %v", err)
	}
	if err := os.Chmod(filepath.Join(dir, "x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := readIndexFile(dir, "sub"); err == nil {
		t.Error("a directory read as the index file")
	}
	if err := os.Chmod(dir, 0o770); err != nil {
		t.Fatal(err)
	}
	if _, err := readIndexFile(dir, "x"); err == nil {
		t.Error("group-writable directory trusted")
	}
	if err := writeIndexFile(dir, "x", []byte("new")); err == nil {
		t.Error("wrote into a group-writable directory")
	}
	// Nothing left behind by the writes.
	os.Chmod(dir, 0o700)
	des, _ := os.ReadDir(dir)
	for _, de := range des {
		if strings.Contains(de.Name(), ".tmp-") {
			t.Errorf("left %s", de.Name())
		}
	}
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(dir, "x"), &st); err != nil || st.Mode&0o777 != 0o600 {
		t.Errorf("index file mode %o (%v), want 600", st.Mode&0o777, err)
	}
}

func TestDefaultIndexCacheDir(t *testing.T) {
	for _, c := range []struct{ xdg, home, want string }{
		{"/x/cache", "/home/u", "/x/cache/check-smtp"},
		{"", "/home/u", "/home/u/.cache/check-smtp"},
		{"relative", "/home/u", "/home/u/.cache/check-smtp"},
		{"", "", ""},
		{"", "relative", ""},
	} {
		if got := DefaultIndexCacheDir(c.xdg, c.home); got != c.want {
			t.Errorf("DefaultIndexCacheDir(%q, %q) = %q, want %q", c.xdg, c.home, got, c.want)
		}
	}
}

// TestCacheDisabled: without a cache directory nothing is written.
func TestCacheDisabled(t *testing.T) {
	w := newCachedWorld(t)
	w.cache.Dir = ""
	if _, warm := w.load(t); warm {
		t.Fatal("served by no cache")
	}
	if _, warm := w.load(t); warm {
		t.Fatal("served by no cache")
	}
}

// TestCacheUnusableDir: where no index can be written, none is built
// (building costs more than the reading), and the store reads as without
// a cache.
func TestCacheUnusableDir(t *testing.T) {
	w := newCachedWorld(t)
	notDir := filepath.Join(t.TempDir(), "file")
	writeFile(t, notDir, nil)
	for _, dir := range []string{filepath.Join(notDir, "cache"), notDir} {
		w.cache.Dir = dir
		s, warm := w.load(t)
		if warm {
			t.Fatal("served")
		}
		if s.src.l.build != nil {
			t.Errorf("%s: an index was built for a directory it cannot go to", dir)
		}
		w.checkSame(t, s)
	}
}

// TestCacheBundleChangesAfterLoad: the bodies of the bundle's blocks are
// read when a chain needs them, from a bundle that must not have changed
// since the load; if it has, the store is read again.
func TestCacheBundleChangesAfterLoad(t *testing.T) {
	w := newCachedWorld(t)
	w.load(t)
	s, warm := w.load(t)
	if !warm || claimedEntries(s) == 0 {
		t.Fatal("the bundle's record was not taken")
	}
	data, _ := os.ReadFile(w.files[1])
	writeSameInode(t, w.files[1], append(pemOf(w.cas["Z"].cert), data...))
	if _, err := s.Roots([]*x509.Certificate{w.leaves[0].cert}); err != nil {
		t.Fatal(err)
	}
	if s.src.full.Load() == nil {
		t.Fatal("a block was read from a changed bundle")
	}
	w.checkSame(t, s)
}

// TestCacheClaimOfSkippedBlock: an index claiming a block crypto/x509
// skips (here a TRUSTED CERTIFICATE one, whose body is a root's DER)
// adds nothing to the pool: the claimed body must be framed as a block
// the scan finds, or everything is read again.
func TestCacheClaimOfSkippedBlock(t *testing.T) {
	w := newCachedWorld(t)
	tr := makeCert(t, certSpec{subject: name("Root T")})
	w.cas["T"] = tr
	trusted := pem.EncodeToMemory(&pem.Block{Type: "TRUSTED CERTIFICATE", Bytes: tr.cert.Raw})
	data, _ := os.ReadFile(w.files[1])
	writeFile(t, w.files[1], append(trusted, data...))
	leaf := makeCert(t, certSpec{subject: name("t.test"), leaf: true, parent: tr})
	w.load(t)
	begin := []byte("-----BEGIN TRUSTED CERTIFICATE-----\n")
	off := len(begin)
	n := bytes.Index(trusted[off-1:], []byte("\n-----END ")) - 1
	tamper(t, w, func(f *indexFile) {
		f.bundle.blocks = append([]bundleBlock{{off: off, n: n, subject: tr.cert.RawSubject}}, f.bundle.blocks...)
	})
	s, warm := w.load(t)
	if !warm || claimedEntries(s) == 0 {
		t.Fatal("the record was not taken")
	}
	chain := []*x509.Certificate{leaf.cert}
	pool, err := s.Roots(chain)
	if err != nil {
		t.Fatal(err)
	}
	if s.src.full.Load() == nil {
		t.Error("the claim was not caught")
	}
	if _, err := verify(chain, pool, epoch); err == nil {
		t.Error("a root from a TRUSTED CERTIFICATE block anchored a chain")
	}
	w.checkSame(t, s)
}

// The cache directory and its parent are made when missing, never more: a
// home directory that does not exist stays so.
func TestCacheDirNotMadeWithoutHome(t *testing.T) {
	root := t.TempDir()
	home := filepath.Join(root, "nonexistent")
	if err := mkdirCache(filepath.Join(home, ".cache", "check-smtp")); err == nil {
		t.Error("mkdirCache made a cache directory under a missing home")
	}
	if _, err := os.Stat(home); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the missing home was made: %v", err)
	}
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(home, ".cache", "check-smtp")
	if err := mkdirCache(dir); err != nil {
		t.Fatalf("with the home there: %v", err)
	}
	for _, d := range []string{dir, filepath.Dir(dir)} {
		st, err := os.Stat(d)
		if err != nil || st.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v, mode %v; want 0700", d, err, st.Mode().Perm())
		}
	}
	if err := mkdirCache(dir); err != nil {
		t.Errorf("again: %v", err)
	}
}

// An index file is read up to maxIndexFile bytes; a longer one is refused
// (and the store then read whole), not read into memory.
func TestIndexFileLimit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	name := "truststore-limit"
	for _, c := range []struct {
		size int
		ok   bool
	}{{maxIndexFile, true}, {maxIndexFile + 1, false}} {
		if err := os.WriteFile(filepath.Join(dir, name), make([]byte, c.size), 0o600); err != nil {
			t.Fatal(err)
		}
		b, err := readIndexFile(dir, name)
		switch {
		case c.ok && (err != nil || len(b) != c.size):
			t.Errorf("%d bytes: read %d, %v", c.size, len(b), err)
		case !c.ok && (err == nil || !strings.Contains(err.Error(), "more than")):
			t.Errorf("%d bytes: read %d, %v; want refused", c.size, len(b), err)
		}
	}
}
