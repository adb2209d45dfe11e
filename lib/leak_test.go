package checksmtp

import (
	"os"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/check-smtp/check-smtp/lib/internal/smtptest"
)

// TestNoLeaks runs a batch of checks that end every way (OK, timeout,
// refused, TLS failures, a server closing mid-reply, AUTH refused) and then
// checks that nothing the client started is left: every server saw its
// connection closed, no goroutine runs code of the package's non-test
// files, and the goroutine and file descriptor counts are back to where
// they were. Not parallel: it measures the whole process.
func TestNoLeaks(t *testing.T) {
	certs := smtptest.NewCerts(t)
	// A first check warms up what the runtime creates once (the poller).
	run([]string{"-H", "127.0.0.1", "-p", smtptest.ClosedPort(t)})
	baseGoroutines, baseFDs := runtime.NumGoroutine(), openFDs()

	batch := []struct {
		name  string
		start func() *smtptest.Server // nil: nothing listens
		args  []string
	}{
		{"OK", func() *smtptest.Server {
			return smtptest.Start(t, smtptest.Script(smtptest.Greeting(), smtptest.Tail())...)
		}, nil},
		{"timeout", func() *smtptest.Server { return smtptest.Start(t, "HANG") }, []string{"-t", "0.3"}},
		{"timeout at QUIT with -q", func() *smtptest.Server {
			return smtptest.Start(t, smtptest.Script(smtptest.Greeting(), smtptest.MailOK(), smtptest.RsetOK(), "C: QUIT", "HANG")...)
		}, []string{"-t", "0.3", "-q"}},
		{"refused", nil, nil},
		{"closed mid-reply", func() *smtptest.Server {
			return smtptest.Start(t, "S: 220 mx", "C: EHLO .+", "RAW: 250-mx\r\n250-PI", "CLOSE")
		}, nil},
		{"untrusted certificate", func() *smtptest.Server {
			return smtptest.ServeTLS(t, smtptest.ListenLoopback(t, "127.0.0.1"), smtptest.ServerTLS(certs.SelfSigned), []string{"TLS", "HANG"})
		}, []string{"-s"}},
		{"TLS handshake failure", func() *smtptest.Server {
			return smtptest.Start(t, "RAW: 220 not TLS at all\r\n", "HANG")
		}, []string{"-s"}},
		{"STARTTLS stall", func() *smtptest.Server {
			return smtptest.Start(t, "S: 220 mx", "C: EHLO .+", "S: 250 STARTTLS", "C: STARTTLS", "S: 220 go", "HANG")
		}, []string{"-S", "-t", "0.3"}},
		{"AUTH refused", func() *smtptest.Server {
			return smtptest.Start(t, "S: 220 mx", "C: EHLO .+", "S: 250 AUTH PLAIN", "C: AUTH PLAIN .+", "S: 535 no", "C: QUIT", "S: 221 bye", "HANG")
		}, []string{"-A", "PLAIN", "-U", "u", "-P", "p"}},
	}
	for _, c := range batch {
		port := smtptest.ClosedPort(t)
		var m *smtptest.Server
		if c.start != nil {
			m = c.start()
			port = m.Port()
		}
		out := format(run(append([]string{"-H", "127.0.0.1", "-p", port, "--cafile", certs.CAFile}, c.args...)))
		if m == nil {
			continue
		}
		m.Close()
		// Every script ends in HANG or CLOSE, and HANG ends only when the
		// client has closed its side: a leaked connection keeps it waiting.
		select {
		case <-m.Finished():
		case <-time.After(3 * time.Second):
			t.Errorf("%s: the server still has an open connection after run() returned\noutput: %s", c.name, out)
		}
	}

	var stacks string
	deadline := time.Now().Add(3 * time.Second)
	for {
		stacks = productGoroutines()
		n, fds := runtime.NumGoroutine(), openFDs()
		if stacks == "" && n <= baseGoroutines && fds <= baseFDs {
			return
		}
		if time.Now().After(deadline) {
			if stacks != "" {
				t.Errorf("goroutines running the client's code remain:\n%s", stacks)
			}
			if n > baseGoroutines {
				t.Errorf("%d goroutines, %d before the batch\n%s", n, baseGoroutines, allStacks())
			}
			if fds > baseFDs {
				t.Errorf("%d open file descriptors, %d before the batch", fds, baseFDs)
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func allStacks() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

// productFrame is a stack frame in one of the package's non-test files.
var productFrame = regexp.MustCompile(`(?m)^\t\S*/lib/([a-z0-9_]+)\.go:\d+`)

// productGoroutines returns the stacks of goroutines other than this one
// that are inside the package's production code.
func productGoroutines() string {
	var found []string
	for i, g := range strings.Split(allStacks(), "\n\n") {
		if i == 0 { // the calling goroutine comes first
			continue
		}
		for _, m := range productFrame.FindAllStringSubmatch(g, -1) {
			if !strings.HasSuffix(m[1], "_test") {
				found = append(found, g)
				break
			}
		}
	}
	return strings.Join(found, "\n\n")
}

// openFDs counts this process's open file descriptors, or 0 where
// /proc/self/fd does not exist (the count check then always passes).
func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	return len(ents)
}
