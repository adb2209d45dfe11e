package checksmtp

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mackerelio/checkers"
)

// TestPanicRecovered forces panics through an injected dialer: run()
// reports them as UNKNOWN "internal error", sanitized, and never lets them
// escape.
func TestPanicRecovered(t *testing.T) {
	for _, tc := range []struct {
		name  string
		hook  func()
		want  string
		extra []string
	}{
		{"string panic, sanitized", func() { panic("boom | \x1b[31mred\r\nnext") }, "SMTP UNKNOWN: internal error: boom ¦ [31mrednext\n", nil},
		{"runtime error", func() { var m map[string]int; m["x"] = 1 }, "SMTP UNKNOWN: internal error: assignment to entry in nil map\n", nil},
		{"error value", func() { panic(errors.New("broken")) }, "SMTP UNKNOWN: internal error: broken\n", nil},
		// --status-as must not turn an internal error into OK: the panic
		// skips the remapping, which is applied last on a normal return.
		{"status-as ignored", func() { panic("x") }, "SMTP UNKNOWN: internal error: x\n", []string{"--status-as", "unknown=ok"}},
	} {
		env := processEnviron()
		env.dialer = dialerFunc(func(context.Context, string, string) (net.Conn, error) { tc.hook(); return nil, nil })
		ckr := runIn(env, append([]string{"-H", "127.0.0.1", "-p", closedPort(t)}, tc.extra...))
		if ckr.Status != checkers.UNKNOWN || format(ckr) != tc.want {
			t.Errorf("%s: got %v %q, want UNKNOWN %q", tc.name, ckr.Status, format(ckr), tc.want)
		}
	}
}

// TestStatusDiscipline: in every path the status line comes first, stdout
// ends with a newline and the state is one of the four.
func TestStatusDiscipline(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "missing.sock")
	cases := []struct {
		name   string
		script []string // nil: no server
		args   []string
		status checkers.Status
		first  string // regexp for the first line
	}{
		{"OK", script(scriptGreeting, scriptTail), nil, checkers.OK, `^SMTP OK: `},
		{"OK without perfdata", script(scriptGreeting, scriptTail), []string{"--no-perfdata"}, checkers.OK, `^SMTP OK: [^|]*$`},
		{"OK with -v", script(scriptGreeting, scriptTail), []string{"-v"}, checkers.OK, `^SMTP OK: .* \| time=`},
		{"WARNING", script(scriptGreeting, "C: MAIL FROM:<.*>", "S: 250 ok", "C: RSET", "S: 250 ok", "C: QUIT", "S: 500 no"), nil, checkers.WARNING, `^SMTP WARNING: QUIT refused`},
		{"CRITICAL rejection", script("S: 554 go away", "C: QUIT", "S: 221 bye"), []string{"-v"}, checkers.CRITICAL, `^SMTP CRITICAL: server refused the connection at step banner: 554 go away -- `},
		{"timeout", script("HANG"), []string{"-t", "0.5:3", "-v"}, checkers.UNKNOWN, `^SMTP UNKNOWN: timeout after 0\.5s at step banner`},
		{"refused port", nil, []string{"-H", "127.0.0.1", "-p", closedPort(t)}, checkers.CRITICAL, `^SMTP CRITICAL: connection refused by 127\.0\.0\.1:\d+ -- `},
		{"missing unix socket", nil, []string{"-H", sock}, checkers.CRITICAL, `^SMTP CRITICAL: no socket at `},
		{"bad option", nil, []string{"--bogus"}, checkers.UNKNOWN, `^SMTP UNKNOWN: unknown option --bogus \(see --help\)$`},
		{"bad value", nil, []string{"-p", "x"}, checkers.UNKNOWN, `^SMTP UNKNOWN: `},
		{"conflicting options", nil, []string{"-s", "-S"}, checkers.UNKNOWN, `^SMTP UNKNOWN: -s .* -S `},
		{"status-as remaps", nil, []string{"-H", "127.0.0.1", "-p", closedPort(t), "--status-as", "critical=warning"}, checkers.WARNING, `^SMTP WARNING: connection refused`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := tc.args
			if tc.script != nil {
				m := startMock(t, tc.script...)
				args = append([]string{"-H", "127.0.0.1", "-p", m.port()}, args...)
			}
			ckr := run(args)
			out := format(ckr)
			if ckr.Status != tc.status {
				t.Errorf("status %v, want %v:\n%s", ckr.Status, tc.status, out)
			}
			first, _, _ := strings.Cut(out, "\n")
			if !regexp.MustCompile(tc.first).MatchString(first) {
				t.Errorf("first line %q does not match %q", first, tc.first)
			}
			assertPluginOutput(t, out)
		})
	}
	for _, args := range [][]string{{"--help"}, {"-h"}, {"-V"}, {"--version"}} {
		ckr := run(args)
		out := format(ckr)
		if ckr.Status != checkers.OK || !strings.HasSuffix(out, "\n") || strings.HasPrefix(out, "SMTP") {
			t.Errorf("run(%q): %v %q", args, ckr.Status, out)
		}
	}
}

// buildBinary builds check-smtp as a release would (CGO_ENABLED=0) into a
// temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool in PATH to build the binary:", err)
	}
	bin := filepath.Join(t.TempDir(), "check-smtp")
	cmd := exec.Command(goTool, "build", "-o", bin, "../check-smtp")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestBinary runs the built program as a subprocess: the exit code is the
// state, the status line is the first line of stdout, stderr stays empty.
func TestBinary(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	okPort := func(t *testing.T) string { return startMock(t, script(scriptGreeting, scriptTail)...).port() }
	cases := []struct {
		name  string
		args  func(t *testing.T) []string
		env   []string
		code  int
		first string // regexp
		check func(t *testing.T, stdout string)
	}{
		{name: "OK", args: func(t *testing.T) []string { return []string{"-H", "127.0.0.1", "-p", okPort(t)} },
			code: 0, first: `^SMTP OK: 0\.\d{3}s response time, mx\.example\.test ESMTP ready \| time=`},
		{name: "OK with -v", args: func(t *testing.T) []string { return []string{"-H", "127.0.0.1", "-p", okPort(t), "-v"} },
			code: 0, first: `^SMTP OK: `, check: func(t *testing.T, stdout string) {
				if !strings.Contains(stdout, "\nC: QUIT\nS: 221 2.0.0 Bye\n") {
					t.Errorf("no transcript:\n%s", stdout)
				}
			}},
		{name: "CRITICAL refused port", args: func(t *testing.T) []string { return []string{"-H", "127.0.0.1", "-p", closedPort(t)} },
			code: 2, first: `^SMTP CRITICAL: connection refused by 127\.0\.0\.1:\d+ -- `},
		{name: "timeout as WARNING", args: func(t *testing.T) []string {
			return []string{"-H", "127.0.0.1", "-p", startMock(t, "HANG").port(), "-t", "0.5:WARNING"}
		}, code: 1, first: `^SMTP WARNING: timeout after 0\.5s at step banner`},
		{name: "UNKNOWN bad option", args: func(*testing.T) []string { return []string{"--bogus"} },
			code: 3, first: `^SMTP UNKNOWN: unknown option --bogus \(see --help\)$`},
		{name: "help exits 0", args: func(*testing.T) []string { return []string{"--help"} },
			code: 0, first: `^check-smtp probes `},
		{name: "version exits 0", args: func(*testing.T) []string { return []string{"--version"} },
			code: 0, first: `^check-smtp \S+$`},
		{name: "AUTH with -v against an echoing server, password from -P", args: func(t *testing.T) []string {
			return []string{"-H", "127.0.0.1", "-p", startSecretsServer(t, authEchoDecoded), "-v", "-A", "PLAIN", "-U", secretUser, "-P", secretPassword}
		}, code: 2, first: `^SMTP CRITICAL: AUTH PLAIN refused at step auth: 535 5\.7\.8 bad credentials alice<redacted> -- `,
			check: func(t *testing.T, stdout string) { assertNoSecret(t, "stdout", stdout) }},
		{name: "AUTH LOGIN with -v against an echoing server, password from the environment", args: func(t *testing.T) []string {
			return []string{"-H", "127.0.0.1", "-p", startSecretsServer(t, authEchoError), "-v", "-A", "LOGIN", "-U", secretUser}
		}, env: []string{"CHECK_SMTP_AUTHPASSWORD=" + secretPassword},
			code: 2, first: `^SMTP CRITICAL: AUTH LOGIN refused at step auth: 535 5\.7\.8 bad credentials <redacted> <redacted> -- `,
			check: func(t *testing.T, stdout string) { assertNoSecret(t, "stdout", stdout) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(bin, tc.args(t)...)
			cmd.Env = append(withoutEnv(os.Environ(), "CHECK_SMTP_AUTHPASSWORD", "MP_CONFIG_FILE"), tc.env...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			cmd.WaitDelay = 10 * time.Second
			err := cmd.Run()
			code := cmd.ProcessState.ExitCode()
			var exitErr *exec.ExitError
			if err != nil && !errors.As(err, &exitErr) {
				t.Fatalf("running %s: %v", bin, err)
			}
			if code != tc.code {
				t.Errorf("exit code %d, want %d\nstdout: %s", code, tc.code, stdout.String())
			}
			out := stdout.String()
			first, _, _ := strings.Cut(out, "\n")
			if !regexp.MustCompile(tc.first).MatchString(first) {
				t.Errorf("first line %q does not match %q", first, tc.first)
			}
			if !strings.HasSuffix(out, "\n") {
				t.Errorf("stdout does not end with a newline: %q", out)
			}
			if stderr.Len() > 0 {
				t.Errorf("stderr is not empty: %q", stderr.String())
			}
			if tc.check != nil {
				tc.check(t, out)
			}
		})
	}
}

func withoutEnv(env []string, names ...string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, n := range names {
			drop = drop || k == n
		}
		if !drop {
			out = append(out, kv)
		}
	}
	return out
}
