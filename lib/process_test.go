package checksmtp

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mackerelio/checkers"

	"github.com/check-smtp/check-smtp/lib/internal/smtptest"
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
		ckr := runIn(env, append([]string{"-H", "127.0.0.1", "-p", smtptest.ClosedPort(t)}, tc.extra...))
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
	// The first line is matched (a pattern ends with \n where it ends the
	// line); smtptest checks the rest of the plugin-output contract.
	expectCases(t, []smtptest.Case{
		{Name: "OK", Script: smtptest.Script(smtptest.Greeting(), smtptest.Tail()), Status: checkers.OK, Output: `^SMTP OK: `},
		{Name: "OK without perfdata", Script: smtptest.Script(smtptest.Greeting(), smtptest.Tail()), Args: []string{"--no-perfdata"}, Status: checkers.OK, Output: `^SMTP OK: [^|\n]*\n`},
		{Name: "OK with -v", Script: smtptest.Script(smtptest.Greeting(), smtptest.Tail()), Args: []string{"-v"}, Status: checkers.OK, Output: `^SMTP OK: .* \| time=`},
		{Name: "WARNING", Script: smtptest.Script(smtptest.Greeting(), "C: MAIL FROM:<.*>", "S: 250 ok", "C: RSET", "S: 250 ok", "C: QUIT", "S: 500 no"), Status: checkers.WARNING, Output: `^SMTP WARNING: QUIT refused`},
		{Name: "CRITICAL rejection", Script: smtptest.Script("S: 554 go away", "C: QUIT", "S: 221 bye"), Args: []string{"-v"}, Status: checkers.CRITICAL, Output: `^SMTP CRITICAL: server refused the connection at step banner: 554 go away -- `},
		{Name: "timeout", Script: smtptest.Script("HANG"), Args: []string{"-t", "0.5:3", "-v"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: timeout after 0\.5s at step banner`},
		{Name: "refused port", Args: []string{"-H", "127.0.0.1", "-p", smtptest.ClosedPort(t)}, Status: checkers.CRITICAL, Output: `^SMTP CRITICAL: connection refused by 127\.0\.0\.1:\d+ -- `},
		{Name: "missing unix socket", Args: []string{"-H", sock}, Status: checkers.CRITICAL, Output: `^SMTP CRITICAL: no socket at `},
		{Name: "bad option", Args: []string{"--bogus"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: unknown option --bogus \(see --help\)\n`},
		{Name: "bad value", Args: []string{"-p", "x"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: `},
		{Name: "conflicting options", Args: []string{"-s", "-S"}, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: -s .* -S `},
		{Name: "status-as remaps", Args: []string{"-H", "127.0.0.1", "-p", smtptest.ClosedPort(t), "--status-as", "critical=warning"}, Status: checkers.WARNING, Output: `^SMTP WARNING: connection refused`},
	})
	for _, args := range [][]string{{"--help"}, {"-h"}, {"-V"}, {"--version"}} {
		expect(t, smtptest.Case{Args: args, NotPlugin: true, Status: checkers.OK, Output: `^check-smtp `})
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
	okPort := func(t *testing.T) string {
		return smtptest.Start(t, smtptest.Script(smtptest.Greeting(), smtptest.Tail())...).Port()
	}
	// binary runs bin as a subprocess with env added: the exit code is the
	// state, stdout the output; stderr must stay empty.
	binary := func(t *testing.T, env []string) smtptest.Runner {
		return func(args []string) (checkers.Status, string) {
			cmd := exec.Command(bin, args...)
			cmd.Env = append(withoutEnv(os.Environ(), "CHECK_SMTP_AUTHPASSWORD", "MP_CONFIG_FILE"), env...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			cmd.WaitDelay = 10 * time.Second
			err := cmd.Run()
			var exitErr *exec.ExitError
			if err != nil && !errors.As(err, &exitErr) {
				t.Fatalf("running %s: %v", bin, err)
			}
			if stderr.Len() > 0 {
				t.Errorf("stderr is not empty: %q", stderr.String())
			}
			return checkers.Status(cmd.ProcessState.ExitCode()), stdout.String()
		}
	}
	cases := []struct {
		name string
		args func(t *testing.T) []string
		env  []string
		want smtptest.Case // Args come from args
	}{
		{name: "OK", args: func(t *testing.T) []string { return []string{"-H", "127.0.0.1", "-p", okPort(t)} },
			want: smtptest.Case{Status: checkers.OK, Output: `^SMTP OK: 0\.\d{3}s response time, mx\.example\.test ESMTP ready \| time=`}},
		{name: "OK with -v", args: func(t *testing.T) []string { return []string{"-H", "127.0.0.1", "-p", okPort(t), "-v"} },
			want: smtptest.Case{Status: checkers.OK, Output: `^SMTP OK: (?s:.*)\nC: QUIT\nS: 221 2\.0\.0 Bye\n`}},
		{name: "CRITICAL refused port", args: func(t *testing.T) []string { return []string{"-H", "127.0.0.1", "-p", smtptest.ClosedPort(t)} },
			want: smtptest.Case{Status: checkers.CRITICAL, Output: `^SMTP CRITICAL: connection refused by 127\.0\.0\.1:\d+ -- `}},
		{name: "timeout as WARNING", args: func(t *testing.T) []string {
			return []string{"-H", "127.0.0.1", "-p", smtptest.Start(t, "HANG").Port(), "-t", "0.5:WARNING"}
		}, want: smtptest.Case{Status: checkers.WARNING, Output: `^SMTP WARNING: timeout after 0\.5s at step banner`}},
		{name: "UNKNOWN bad option", args: func(*testing.T) []string { return []string{"--bogus"} },
			want: smtptest.Case{Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: unknown option --bogus \(see --help\)\n`}},
		{name: "help exits 0", args: func(*testing.T) []string { return []string{"--help"} },
			want: smtptest.Case{NotPlugin: true, Status: checkers.OK, Output: `^check-smtp probes `}},
		{name: "version exits 0", args: func(*testing.T) []string { return []string{"--version"} },
			want: smtptest.Case{NotPlugin: true, Status: checkers.OK, Output: `^check-smtp \S+\n`}},
		{name: "AUTH with -v against an echoing server, password from -P", args: func(t *testing.T) []string {
			return []string{"-H", "127.0.0.1", "-p", startSecretsServer(t, authEchoDecoded), "-v", "-A", "PLAIN", "-U", secretUser, "-P", secretPassword}
		}, want: smtptest.Case{Status: checkers.CRITICAL, Absent: secretValues(),
			Output: `^SMTP CRITICAL: AUTH PLAIN refused at step auth: 535 5\.7\.8 bad credentials alice<redacted> -- `}},
		{name: "AUTH LOGIN with -v against an echoing server, password from the environment", args: func(t *testing.T) []string {
			return []string{"-H", "127.0.0.1", "-p", startSecretsServer(t, authEchoError), "-v", "-A", "LOGIN", "-U", secretUser}
		}, env: []string{"CHECK_SMTP_AUTHPASSWORD=" + secretPassword},
			want: smtptest.Case{Status: checkers.CRITICAL, Absent: secretValues(),
				Output: `^SMTP CRITICAL: AUTH LOGIN refused at step auth: 535 5\.7\.8 bad credentials <redacted> <redacted> -- `}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := tc.want
			c.Args = tc.args(t)
			smtptest.Expect(t, binary(t, tc.env), c)
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

// TestStackReservedFirst: the binary grows its main stack (package
// stackreserve) before the initialisers whose deep stacks made it grow
// three times, keeping the runtime's function tables out of memory.
func TestStackReservedFirst(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	cmd := exec.Command(bin, "--version")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s --version: %v", bin, err)
	}
	order := map[string]int{}
	for i, line := range strings.Split(stderr.String(), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "init" {
			order[f[1]] = i + 1
		}
	}
	first := order["github.com/check-smtp/check-smtp/lib/internal/stackreserve"]
	if first == 0 {
		t.Fatalf("no initialiser of stackreserve in the trace:\n%s", stderr.String())
	}
	for _, pkg := range []string{"golang.org/x/net/dns/dnsmessage", "crypto/internal/fips140/mlkem"} {
		if at := order[pkg]; at == 0 || at < first {
			t.Errorf("%s initialises at line %d of the trace, stackreserve at %d", pkg, at, first)
		}
	}
}
