package smtptest_test

import (
	"bufio"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/mackerelio/checkers"

	"github.com/check-smtp/check-smtp/lib/internal/smtptest"
)

// recorder is a testing.TB that collects failures instead of failing: the
// helpers' own failures are what these tests check. Everything else
// (Cleanup, TempDir) is the real test's.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	failed []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, a ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = append(r.failed, format)
}

func (r *recorder) failures() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.failed, "\n")
}

// fixed is a Runner that returns status and out, and records its args.
func fixed(status checkers.Status, out string, gotArgs *[]string) smtptest.Runner {
	return func(args []string) (checkers.Status, string) {
		if gotArgs != nil {
			*gotArgs = args
		}
		return status, out
	}
}

func TestExpect(t *testing.T) {
	t.Parallel()
	const ok = "SMTP OK: 0.001s response time | time=0.001000s;;;0\n"
	for _, tc := range []struct {
		name string
		run  smtptest.Runner
		c    smtptest.Case
		want string // "" no failure; otherwise in the failure's format
	}{
		{"all as expected", fixed(checkers.OK, ok, nil), smtptest.Case{Status: checkers.OK, Output: `^SMTP OK: .* time=`}, ""},
		{"wrong status", fixed(checkers.WARNING, ok, nil), smtptest.Case{Status: checkers.OK, Output: `^SMTP OK`}, "status %v, want %v"},
		{"output not matching", fixed(checkers.OK, ok, nil), smtptest.Case{Status: checkers.OK, Output: `CRITICAL`}, "does not match"},
		{"an absent string present", fixed(checkers.OK, "SMTP OK: s3cret\n", nil), smtptest.Case{Status: checkers.OK, Absent: []string{"s3cret"}}, "output shows"},
		{"the contract is checked", fixed(checkers.OK, "SMTP OK: a | b | c\n", nil), smtptest.Case{Status: checkers.OK}, "'|' in the output"},
		{"NotPlugin checks only the newline", fixed(checkers.OK, "check-smtp 1.0\n", nil), smtptest.Case{Status: checkers.OK, NotPlugin: true}, ""},
		{"NotPlugin without a newline", fixed(checkers.OK, "check-smtp 1.0", nil), smtptest.Case{Status: checkers.OK, NotPlugin: true}, "newline"},
		{"a guarded run that returns", fixed(checkers.OK, ok, nil), smtptest.Case{Status: checkers.OK, Deadline: 1}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{TB: t}
			smtptest.Expect(r, tc.run, tc.c)
			got := r.failures()
			if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
				t.Errorf("failures %q, want %q", got, tc.want)
			}
		})
	}
}

// TestExpectScript: with a script the arguments lead with the mock's host
// and port, and ScriptOK reports a client that strayed from it.
func TestExpectScript(t *testing.T) {
	t.Parallel()
	// talk is a client that says EHLO after the banner and returns what it
	// read.
	talk := func(ehlo string) smtptest.Runner {
		return func(args []string) (checkers.Status, string) {
			if len(args) < 5 || args[0] != "-H" || args[1] != "127.0.0.1" || args[2] != "-p" || args[4] != "-v" {
				return checkers.UNKNOWN, "SMTP UNKNOWN: args " + strings.Join(args, " ") + "\n"
			}
			conn, err := net.Dial("tcp", "127.0.0.1:"+args[3])
			if err != nil {
				return checkers.CRITICAL, "SMTP CRITICAL: " + err.Error() + "\n"
			}
			defer conn.Close()
			r := bufio.NewReader(conn)
			banner, _ := r.ReadString('\n')
			conn.Write([]byte(ehlo + "\r\n"))
			return checkers.OK, "SMTP OK: " + strings.TrimSpace(banner) + "\n"
		}
	}
	c := smtptest.Case{Script: []string{"S: 220 mx ready", "C: EHLO .+"}, ScriptOK: true, Args: []string{"-v"},
		Status: checkers.OK, Output: `^SMTP OK: 220 mx ready\n$`}
	r := &recorder{TB: t}
	smtptest.Expect(r, talk("EHLO x"), c)
	if got := r.failures(); got != "" {
		t.Errorf("a clean conversation failed: %q", got)
	}
	r = &recorder{TB: t}
	smtptest.Expect(r, talk("HELO x"), c)
	if got := r.failures(); !strings.Contains(got, "server script") {
		t.Errorf("a stray client was not reported: %q", got)
	}
	// Without ScriptOK the stray is tolerated.
	c.ScriptOK = false
	r = &recorder{TB: t}
	smtptest.Expect(r, talk("HELO x"), c)
	if got := r.failures(); got != "" {
		t.Errorf("failures without ScriptOK: %q", got)
	}
}

// TestExpectNoConnect: a run that dials the port it was given is reported.
func TestExpectNoConnect(t *testing.T) {
	t.Parallel()
	var args []string
	refuse := fixed(checkers.UNKNOWN, "SMTP UNKNOWN: bad option\n", &args)
	c := smtptest.Case{NoConnect: true, Args: []string{"--bogus"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: bad option`}
	r := &recorder{TB: t}
	smtptest.Expect(r, refuse, c)
	if got := r.failures(); got != "" || len(args) != 5 || args[4] != "--bogus" {
		t.Errorf("failures %q, args %q", got, args)
	}
	dialer := func(args []string) (checkers.Status, string) {
		if conn, err := net.Dial("tcp", "127.0.0.1:"+args[3]); err == nil {
			conn.Close()
		}
		return checkers.UNKNOWN, "SMTP UNKNOWN: bad option\n"
	}
	r = &recorder{TB: t}
	smtptest.Expect(r, dialer, c)
	if got := r.failures(); !strings.Contains(got, "connected although") {
		t.Errorf("a connection was not reported: %q", got)
	}
}

func TestRunCases(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]bool{}
	run := func(args []string) (checkers.Status, string) {
		mu.Lock()
		seen[strings.Join(args, " ")] = true
		mu.Unlock()
		return checkers.OK, "SMTP OK: fine\n"
	}
	t.Run("cases", func(t *testing.T) {
		smtptest.RunCases(t, run, []smtptest.Case{
			{Name: "one", Args: []string{"-a"}, Status: checkers.OK, Output: `fine`},
			{Name: "two", Args: []string{"-b"}, Status: checkers.OK, Output: `fine`},
		})
	})
	if !seen["-a"] || !seen["-b"] || len(seen) != 2 {
		t.Errorf("runs %v", seen)
	}
}

func TestAssertPluginOutput(t *testing.T) {
	t.Parallel()
	for _, out := range []string{
		"SMTP OK: 0.010s response time, mx ESMTP | time=0.010000s;3;5;0 connect=0.000100s;;;0\n",
		"SMTP CRITICAL: MAIL FROM rejected at step mail: 550 no -- 0.010s response time | time=0.010000s;;;0\nS: 220 a;b\n",
		"SMTP WARNING: no perfdata ¦ here\nlong output\n",
	} {
		r := &recorder{TB: t}
		smtptest.AssertPluginOutput(r, out)
		if got := r.failures(); got != "" {
			t.Errorf("%q: %s", out, got)
		}
	}
	for out, want := range map[string]string{
		"check-smtp 1.0\n":                          "status line",
		"SMTP OK: fine":                             "newline",
		"SMTP OK: \xff\n":                           "UTF-8",
		"SMTP UNKNOWN: internal error: boom\n":      "panic",
		"SMTP OK: a | b\nc | d\n":                   "'|' in the output",
		"SMTP OK: a\nS: 250 x | y\n":                "not on the status line",
		"SMTP OK: a\x1b[31m\n":                      "control character",
		"SMTP OK: a\r\n":                            "control character",
		"SMTP WARNING: a; b | time=0.1s;1;2;0\n":    "';' in the message",
		"SMTP WARNING: a; b, no perfdata\nlong;\n":  "';' in the message",
		"SMTP FINE: not a state\n":                  "status line",
		"\nSMTP OK: the status line comes first\n":  "status line",
		"SMTP OK: two | bars | on the first line\n": "'|' in the output",
	} {
		r := &recorder{TB: t}
		smtptest.AssertPluginOutput(r, out)
		if got := r.failures(); !strings.Contains(got, want) {
			t.Errorf("%q: failures %q, want %q", out, got, want)
		}
	}
}
