package smtptest

import (
	"crypto/tls"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mackerelio/checkers"
)

// Runner runs the check once with args and returns its state and its whole
// stdout as the plugin prints it. Package checksmtp's run is unexported, so
// each package passes its own (in-process, with an environment, or the built
// binary).
type Runner func(args []string) (status checkers.Status, stdout string)

// Case is one run of the check and what it must produce.
//
// Where the check connects: with Script, a Server on 127.0.0.1 serves it
// (with TLS for its "TLS" actions) and "-H 127.0.0.1 -p PORT" come before
// Args; with NoConnect, PORT is a listener that must see no connection (the
// options are refused before any dial); otherwise Args are used as they are.
type Case struct {
	Name string // the subtest's name, for RunCases

	Script   []string
	TLS      *tls.Config
	ScriptOK bool // the script must run to its end without a mismatch

	NoConnect bool

	Args   []string
	Status checkers.Status
	Output string   // a regexp over the whole stdout (status line, long output, perfdata)
	Absent []string // strings that must appear nowhere in stdout (credentials)

	// Deadline is the -t given: the run must return within Deadline plus
	// HangSlack. Not a speed assertion: it fails only when something
	// ignores the deadline altogether. 0: not guarded.
	Deadline time.Duration
	// NotPlugin: stdout is not a plugin status line (--help, --version);
	// only its final newline is checked, not AssertPluginOutput.
	NotPlugin bool
}

// HangSlack is how long past its Deadline a run may take before Expect
// reports it as hanging.
const HangSlack = 5 * time.Second

// noConnectWait is how long a NoConnect case looks for a connection that
// the run has already made.
const noConnectWait = 100 * time.Millisecond

// Expect runs c with run and asserts its state, its output, the strings that
// must be absent, the plugin-output contract and, with Script and ScriptOK,
// that the server's script ran cleanly. It returns stdout.
func Expect(t testing.TB, run Runner, c Case) string {
	t.Helper()
	args := c.Args
	var srv *Server
	var silent *net.TCPListener
	switch {
	case c.Script != nil && c.NoConnect:
		t.Fatal("smtptest.Case: Script and NoConnect exclude each other")
	case c.Script != nil && c.TLS != nil:
		srv = ServeTLS(t, ListenLoopback(t, "127.0.0.1"), c.TLS, c.Script)
	case c.Script != nil:
		srv = Start(t, c.Script...)
	case c.NoConnect:
		ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		silent = ln
	}
	switch {
	case srv != nil:
		args = append([]string{"-H", "127.0.0.1", "-p", srv.Port()}, args...)
	case silent != nil:
		args = append([]string{"-H", "127.0.0.1", "-p", portOf(silent)}, args...)
	}

	status, out := runGuarded(t, run, args, c.Deadline)
	if status != c.Status {
		t.Errorf("%q: status %v, want %v\noutput: %s", args, status, c.Status, out)
	}
	if !regexp.MustCompile(c.Output).MatchString(out) {
		t.Errorf("%q: output does not match %q:\n%s", args, c.Output, out)
	}
	for _, a := range c.Absent {
		if strings.Contains(out, a) {
			t.Errorf("%q: output shows %q:\n%s", args, a, out)
		}
	}
	if c.NotPlugin {
		if !strings.HasSuffix(out, "\n") {
			t.Errorf("%q: output does not end with a newline: %q", args, out)
		}
	} else {
		AssertPluginOutput(t, out)
	}
	if silent != nil {
		// A connection made by the run already waits in the backlog, so
		// Accept returns it at once; the wait bounds only the usual case of
		// no connection. (A deadline already past would never look.)
		silent.SetDeadline(time.Now().Add(noConnectWait))
		if conn, err := silent.Accept(); err == nil {
			conn.Close()
			t.Errorf("%q: connected although the options are refused\noutput: %s", args, out)
		}
	}
	if srv != nil {
		if probs := srv.Done(); c.ScriptOK && len(probs) > 0 {
			t.Errorf("%q: server script: %v\noutput: %s", args, probs, out)
		}
	}
	return out
}

// RunCases runs each case as a parallel subtest named c.Name.
func RunCases(t *testing.T, run Runner, cases []Case) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			Expect(t, run, c)
		})
	}
}

// runGuarded calls run(args); with a deadline it fails t if the run has not
// returned within deadline+HangSlack, and goes on waiting (a hang is then
// still a test timeout, but the failure names the case first).
func runGuarded(t testing.TB, run Runner, args []string, deadline time.Duration) (checkers.Status, string) {
	t.Helper()
	if deadline == 0 {
		return run(args)
	}
	type ret struct {
		status checkers.Status
		out    string
	}
	done := make(chan ret, 1)
	go func() {
		st, out := run(args)
		done <- ret{st, out}
	}()
	select {
	case r := <-done:
		return r.status, r.out
	case <-time.After(deadline + HangSlack):
		t.Errorf("%q: still running %v after a deadline of %v", args, HangSlack, deadline)
		r := <-done
		return r.status, r.out
	}
}

var statusLine = regexp.MustCompile(`^SMTP (OK|WARNING|CRITICAL|UNKNOWN): `)

// AssertPluginOutput checks what every plugin output must be (what Nagios,
// Icinga and mackerel-agent rely on): the status line first, a newline at
// the end, valid UTF-8, no recovered panic, no '|' but the one before the
// perfdata on the status line, no control characters but the line breaks,
// no ';' in the message (Nagios rewrites it).
func AssertPluginOutput(t testing.TB, out string) {
	t.Helper()
	if !statusLine.MatchString(out) {
		t.Errorf("output does not start with a status line:\n%q", out)
	}
	if !strings.HasSuffix(out, "\n") {
		t.Errorf("output does not end with a newline: %q", out)
	}
	if !utf8.ValidString(out) {
		t.Errorf("output is not valid UTF-8: %q", out)
	}
	if strings.Contains(out, "internal error") {
		t.Errorf("a panic was recovered:\n%s", out)
	}
	if n := strings.Count(out, "|"); n > 1 {
		t.Errorf("%d '|' in the output, at most the perfdata one allowed:\n%s", n, out)
	}
	first, _, _ := strings.Cut(out, "\n")
	if i := strings.IndexByte(out, '|'); i > len(first) {
		t.Errorf("the '|' is not on the status line:\n%s", out)
	}
	for _, r := range strings.TrimSuffix(out, "\n") {
		if r != '\n' && (r < 0x20 || r == 0x7f) {
			t.Errorf("control character %U in the output:\n%q", r, out)
			break
		}
	}
	if msg, _, _ := strings.Cut(first, " | "); strings.Contains(msg, ";") {
		t.Errorf("';' in the message: %s", first)
	}
}
