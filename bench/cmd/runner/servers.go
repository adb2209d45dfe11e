package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// process is a server the runner started, stopped by its PID.
type process struct {
	cmd   *exec.Cmd
	ready string // its READY line
}

// server is a running benchserver.
type server struct {
	root                     string // the root certificate of its chain (PEM)
	plain, smtps, tarpit, mx int
}

// environment is every server of a run.
type environment struct {
	fast    *server // P-256 chain, quick ACKs
	slowAck *server // the same without TCP_QUICKACK
	le      *server // the chain shaped like Let's Encrypt's ECDSA one
	// bundle is a copy of the system bundle with le's root appended: the
	// SSL_CERT_FILE of the verified scenario.
	bundle      string
	bundleCerts int // certificates in it
	domain      *server
	dnsPort     int
	mxAddrs     []string
	mpHasSSL    bool
}

// mxCount is how many domain-mode targets there are (the largest N).
const mxCount = 8

func (r *runner) startEnvironment() (*environment, error) {
	env := &environment{}
	var err error
	if env.fast, err = r.startServer("simple"); err != nil {
		return nil, err
	}
	// The same server without TCP_QUICKACK: Linux delays its ACKs, which
	// stalls a client that leaves Nagle's algorithm on (see benchserver).
	if env.slowAck, err = r.startServer("simple", "-quickack=false"); err != nil {
		return nil, err
	}
	if env.le, err = r.startServer("le"); err != nil {
		return nil, err
	}
	sys, err := os.ReadFile(r.cfg.systemBundle)
	if err != nil {
		return nil, fmt.Errorf("the verified scenario needs the system bundle: %v", err)
	}
	root, err := os.ReadFile(env.le.root)
	if err != nil {
		return nil, err
	}
	env.bundle = filepath.Join(r.tmp, "system-bundle-and-bench-root.pem")
	if err := os.WriteFile(env.bundle, append(append(append([]byte(nil), sys...), '\n'), root...), 0o644); err != nil {
		return nil, err
	}
	env.bundleCerts = strings.Count(string(sys), "-----BEGIN CERTIFICATE-----") + 1
	bundleWritten := time.Now()
	defer func() {
		// check-smtp never takes from its index a file changed less than
		// two seconds before the index was built: the verified rounds
		// would otherwise start with runs that read the whole store.
		time.Sleep(time.Until(bundleWritten.Add(2500 * time.Millisecond)))
	}()

	var names []string
	for k := 1; k <= mxCount; k++ {
		env.mxAddrs = append(env.mxAddrs, fmt.Sprintf("127.0.2.%d", k))
		names = append(names, fmt.Sprintf("mx%d.bench.test", k))
	}
	if env.domain, err = r.startServer("simple", "-names", strings.Join(names, ","),
		"-mx-addrs", strings.Join(env.mxAddrs, ","), "-mx-delay", r.cfg.domainDelay.String()); err != nil {
		return nil, err
	}
	p, err := r.start(r.cfg.dns, "-addrs", strings.Join(env.mxAddrs, ","), "-lifetime", "30m")
	if err != nil {
		return nil, err
	}
	if _, err := fmt.Sscanf(p.ready, "READY port=%d", &env.dnsPort); err != nil {
		return nil, fmt.Errorf("benchdns said %q: %v", p.ready, err)
	}
	if r.cfg.mpCheck != "" {
		res, err := r.runOnce(tool{argv: []string{r.cfg.mpCheck, "--help"}}, 10*time.Second)
		env.mpHasSSL = err == nil && strings.Contains(res.stdout, "--ssl")
	}
	return env, nil
}

// startServer starts a benchserver with a chain of the given shape.
func (r *runner) startServer(chain string, extra ...string) (*server, error) {
	s := &server{root: filepath.Join(r.tmp, fmt.Sprintf("root-%d.pem", len(r.servers)))}
	args := append([]string{"-cafile", s.root, "-chain", chain, "-lifetime", "30m"}, extra...)
	p, err := r.start(r.cfg.server, args...)
	if err != nil {
		return nil, err
	}
	if _, err := fmt.Sscanf(p.ready, "READY plain=%d smtps=%d tarpit=%d mx=%d", &s.plain, &s.smtps, &s.tarpit, &s.mx); err != nil {
		return nil, fmt.Errorf("benchserver said %q: %v", p.ready, err)
	}
	return s, nil
}

// start starts a server and waits for its READY line.
func (r *runner) start(bin string, args ...string) (*process, error) {
	cmd := exec.Command(bin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd}
	r.servers = append(r.servers, p)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("%s: %v", filepath.Base(bin), err)
	}
	p.ready = strings.TrimSpace(line)
	go io.Copy(io.Discard, stdout)
	return p, nil
}

// stopServers kills the servers this runner started, by PID.
func (r *runner) stopServers() {
	for _, p := range r.servers {
		if p.cmd.Process != nil && p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	}
	r.servers = nil
}
