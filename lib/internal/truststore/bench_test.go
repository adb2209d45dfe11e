package truststore

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fullPoolLikeX509 is crypto/x509's loadSystemRoots, what the first
// x509.SystemCertPool call of a process costs: every certificate parsed.
func fullPoolLikeX509(files, dirs []string) *x509.CertPool {
	pool := x509.NewCertPool()
	for _, f := range files {
		if data, err := os.ReadFile(f); err == nil {
			pool.AppendCertsFromPEM(data)
			break
		}
	}
	for _, d := range dirs {
		des, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, de := range des {
			if de.Type()&os.ModeSymlink != 0 {
				if target, err := os.Readlink(filepath.Join(d, de.Name())); err == nil && !strings.Contains(target, "/") {
					continue
				}
			}
			if data, err := os.ReadFile(d + "/" + de.Name()); err == nil {
				pool.AppendCertsFromPEM(data)
			}
		}
	}
	return pool
}

// BenchmarkVerify compares, for a chain shaped like Let's Encrypt's ECDSA
// one (P-256 leaf, P-384 intermediate, RSA-4096 root), the cost per
// process of verifying against: a pool of the root alone (read from its
// own file: the floor); the system store through Roots, fresh (what a
// check pays), fresh without the certificate directories, and already
// loaded (a Preload that overlapped the connection, or the next chain in
// domain mode); and the full pool x509.SystemCertPool builds. The store
// is the machine's bundle with the root appended, passed as SSL_CERT_FILE,
// and the default directories, as in the plugin's own benchmark.
func BenchmarkVerify(b *testing.B) {
	now := time.Now()
	root := makeCert(b, certSpec{subject: name("Bench Root"), key: rsaKey(b, 4096), notBefore: now.AddDate(-1, 0, 0), notAfter: now.AddDate(5, 0, 0)})
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	inter := makeCert(b, certSpec{subject: name("Bench E1"), key: p384, parent: root, notBefore: now.AddDate(0, -1, 0), notAfter: now.AddDate(1, 0, 0)})
	leaf := makeCert(b, certSpec{subject: name("mx.bench.test"), leaf: true, parent: inter, notBefore: now.AddDate(0, 0, -1), notAfter: now.AddDate(0, 3, 0)})
	chain := []*x509.Certificate{leaf.cert, inter.cert}

	dir := b.TempDir()
	bundle, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err != nil {
		b.Logf("no system bundle (%v): using 145 generated roots", err)
		bundle = nil
		for i := range 145 {
			bundle = append(bundle, pemOf(makeCert(b, certSpec{subject: name(fmt.Sprintf("Root %d", i))}).cert)...)
		}
	}
	storeFile := filepath.Join(dir, "bundle.pem")
	writeFile(b, storeFile, append(bundle, pemOf(root.cert)...))
	rootFile := filepath.Join(dir, "root.pem")
	writeFile(b, rootFile, pemOf(root.cert))
	env := Env{CertFile: storeFile}
	noDirs := Env{CertFile: storeFile, CertDir: filepath.Join(dir, "empty")}

	run := func(b *testing.B, pool func() *x509.CertPool) {
		start := cpuTime()
		for b.Loop() {
			if _, err := verify(chain, pool(), now); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
	}
	b.Run("root-only", func(b *testing.B) {
		run(b, func() *x509.CertPool {
			data, err := os.ReadFile(rootFile)
			if err != nil {
				b.Fatal(err)
			}
			p := x509.NewCertPool()
			p.AppendCertsFromPEM(data)
			return p
		})
	})
	roots := func(s *Store) *x509.CertPool {
		p, err := s.Roots(chain)
		if err != nil {
			b.Fatal(err)
		}
		return p
	}
	b.Run("store", func(b *testing.B) {
		run(b, func() *x509.CertPool { return roots(System(env)) })
	})
	b.Run("store-no-dirs", func(b *testing.B) {
		run(b, func() *x509.CertPool { return roots(System(noDirs)) })
	})
	// With an index cache: cold (no index file: the full reading, and
	// the index written) and warm (the index of the previous process).
	// The bundle was just written: an index built within racyWindow
	// would not take its record, as no real bundle is that new.
	cacheDir := filepath.Join(dir, "cache")
	cache := IndexCache{Dir: cacheDir}
	time.Sleep(racyWindow)
	b.Run("store-cached-cold", func(b *testing.B) {
		run(b, func() *x509.CertPool {
			os.RemoveAll(cacheDir)
			return roots(SystemCached(env, cache))
		})
	})
	b.Run("store-cached-warm", func(b *testing.B) {
		roots(SystemCached(env, cache))
		run(b, func() *x509.CertPool { return roots(SystemCached(env, cache)) })
	})
	b.Run("store-loaded", func(b *testing.B) {
		s := System(env)
		s.Preload()
		run(b, func() *x509.CertPool { return roots(s) })
	})
	// The plugin's case: Preload runs while the connection is set up
	// (here a 2 ms wait standing in for TCP, banner, EHLO, STARTTLS and
	// the handshake), paired with the floor after the same wait.
	const connect = 2 * time.Millisecond
	b.Run("root-only-after-connect", func(b *testing.B) {
		run(b, func() *x509.CertPool {
			time.Sleep(connect)
			data, err := os.ReadFile(rootFile)
			if err != nil {
				b.Fatal(err)
			}
			p := x509.NewCertPool()
			p.AppendCertsFromPEM(data)
			return p
		})
	})
	b.Run("store-preloaded-during-connect", func(b *testing.B) {
		run(b, func() *x509.CertPool {
			s := System(env)
			go s.Preload()
			time.Sleep(connect)
			return roots(s)
		})
	})
	b.Run("store-cached-preloaded-during-connect", func(b *testing.B) {
		run(b, func() *x509.CertPool {
			s := SystemCached(env, cache)
			go s.Preload()
			time.Sleep(connect)
			return roots(s)
		})
	})
	b.Run("full-pool", func(b *testing.B) {
		s := System(env)
		run(b, func() *x509.CertPool { return fullPoolLikeX509(s.src.files, s.src.dirs) })
	})
}

// BenchmarkPreload is the reading and indexing alone, of the machine's
// store as the plugin finds it, by Preload's single worker.
func BenchmarkPreload(b *testing.B) {
	start := cpuTime()
	for b.Loop() {
		System(Env{}).Preload()
	}
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

// BenchmarkPreloadCached is BenchmarkPreload with a warm index cache.
func BenchmarkPreloadCached(b *testing.B) {
	cache := IndexCache{Dir: filepath.Join(b.TempDir(), "cache")}
	System(Env{}).Preload()
	SystemCached(Env{}, cache).Preload()
	start := cpuTime()
	for b.Loop() {
		SystemCached(Env{}, cache).Preload()
	}
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}
