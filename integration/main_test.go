// Package integration runs the built check-smtp binary against real Debian
// mail servers (chasquid, Postfix with Dovecot SASL, Dovecot LMTP) started by
// servers.sh, and feeds its output to a real Nagios 4 and to mackerel-agent's
// own check-execution code.
//
// Run it with `make integration` from the repository root (as root: it
// installs Debian packages). See README.md in this directory.
package integration

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	// bin is the absolute path of the check-smtp binary under test.
	bin string
	// srv holds STATEDIR/env written by servers.sh: ports, paths, account.
	srv = map[string]string{}
	// stateDir is the servers' state directory; ownState says we started them.
	stateDir string
	ownState bool

	stopOnce sync.Once
	stopErr  error // servers.sh stop failed: something may still be listening
	extraMu  sync.Mutex
	// extraPIDs are process groups started by tests (nagios4), stopped by PID
	// if the test binary is interrupted or about to time out.
	extraPIDs = map[int]bool{}
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	flag.Parse()
	var err error
	bin = os.Getenv("CHECK_SMTP_BIN")
	if bin == "" {
		bin = filepath.Join("..", "bin", "check-smtp")
	}
	if bin, err = filepath.Abs(bin); err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	if _, err := os.Stat(bin); err != nil {
		fmt.Fprintf(os.Stderr, "integration: %v: run `make build` (or `make integration`) first, or set CHECK_SMTP_BIN\n", err)
		return 1
	}

	// check-smtp keeps the trust store's index in a directory of this run,
	// never in the user's cache.
	cacheDir, err := os.MkdirTemp("", "check-smtp-it-trust-cache.")
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	defer os.RemoveAll(cacheDir)
	os.Setenv("CHECK_SMTP_TRUST_CACHE", cacheDir)

	if dir := os.Getenv("CHECK_SMTP_IT_STATE"); dir != "" && fileExists(filepath.Join(dir, "env")) && fileExists(filepath.Join(dir, "pids")) {
		// Servers started by someone else (servers.sh start DIR): use them, leave them running.
		stateDir = dir
	} else {
		if stateDir, err = os.MkdirTemp("", "check-smtp-it."); err != nil {
			fmt.Fprintln(os.Stderr, "integration:", err)
			return 1
		}
		ownState = true
		// Stop the servers on every way out: normal end, failure, ^C, and
		// shortly before `go test -timeout` would kill this process.
		defer stopEverything()
		sigc := make(chan os.Signal, 1)
		signal.Notify(sigc, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
		go func() {
			s := <-sigc
			fmt.Fprintf(os.Stderr, "integration: %v: stopping servers\n", s)
			stopEverything()
			os.Exit(1)
		}()
		if f := flag.Lookup("test.timeout"); f != nil {
			if d, err := time.ParseDuration(f.Value.String()); err == nil && d > 2*time.Minute {
				time.AfterFunc(d-time.Minute, func() {
					fmt.Fprintln(os.Stderr, "integration: test timeout is near: stopping servers now")
					stopEverything()
				})
			}
		}
		if err := startServers(); err != nil {
			fmt.Fprintln(os.Stderr, "integration: servers.sh start failed:", err)
			return 1
		}
	}
	if err := readEnv(filepath.Join(stateDir, "env")); err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	for _, s := range []string{"CHASQUID", "POSTFIX", "DOVECOT"} {
		if srv[s+"_OK"] != "1" {
			fmt.Fprintf(os.Stderr, "\n!!!!!!!! integration: %s DID NOT START: its tests will be skipped (logs in %s/logs) !!!!!!!!\n\n", s, stateDir)
		}
	}
	code := m.Run()
	stopEverything()
	if stopErr != nil && code == 0 {
		code = 1
	}
	if ownState {
		if code == 0 {
			os.RemoveAll(stateDir)
		} else {
			fmt.Fprintf(os.Stderr, "integration: server logs kept in %s/logs\n", stateDir)
		}
	}
	return code
}

func startServers() error {
	// apt-get may run here on a fresh machine: allow it time.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "servers.sh", "start", stateDir)
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	return cmd.Run()
}

func stopEverything() {
	stopOnce.Do(func() {
		extraMu.Lock()
		for pid := range extraPIDs {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
		extraMu.Unlock()
		if !ownState {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", "servers.sh", "stop", stateDir)
		cmd.Stdout = os.Stderr
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			stopErr = err
			fmt.Fprintln(os.Stderr, "integration: servers.sh stop:", err)
		}
	})
}

func registerPID(pid int)   { extraMu.Lock(); extraPIDs[pid] = true; extraMu.Unlock() }
func unregisterPID(pid int) { extraMu.Lock(); delete(extraPIDs, pid); extraMu.Unlock() }

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func readEnv(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			srv[k] = v
		}
	}
	return sc.Err()
}

// expand replaces ${NAME} with the value servers.sh wrote for NAME.
func expand(s string) string {
	return os.Expand(s, func(k string) string {
		v, ok := srv[k]
		if !ok {
			panic("integration: no server setting " + k)
		}
		return v
	})
}

// requireServer skips (loudly) when a server failed to start, or fails the
// test instead when CHECK_SMTP_IT_REQUIRE=1.
func requireServer(t *testing.T, name string) {
	t.Helper()
	if name == "" || srv[name+"_OK"] == "1" {
		return
	}
	logs, _ := filepath.Glob(filepath.Join(stateDir, "logs", "*"))
	for _, l := range logs {
		if strings.Contains(strings.ToLower(filepath.Base(l)), strings.ToLower(name)) {
			b, _ := os.ReadFile(l)
			t.Logf("==== %s ====\n%s", l, tail(string(b), 4000))
		}
	}
	if os.Getenv("CHECK_SMTP_IT_REQUIRE") == "1" {
		t.Fatalf("%s did not start (CHECK_SMTP_IT_REQUIRE=1)", name)
	}
	t.Skipf("!!! SKIPPED: %s did not start; see the log above !!!", name)
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// result is one run of the binary.
type result struct {
	args   []string
	code   int
	stdout string
	stderr string
}

func (r result) firstLine() string {
	line, _, _ := strings.Cut(r.stdout, "\n")
	return line
}

func (r result) String() string {
	return fmt.Sprintf("check-smtp %s\nexit %d\nstdout:\n%s\nstderr:\n%s", shellQuote(r.args), r.code, r.stdout, r.stderr)
}

func shellQuote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t'\"$\\|&;<>()*?") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}

// runCheck runs the binary; env entries are added to the environment.
func runCheck(t *testing.T, env []string, args ...string) result {
	t.Helper()
	// A guard against a hang, not a timing assertion.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{args: args, stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("running %s: %v", bin, err)
	}
	return r
}

var statusNames = map[int]string{0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}

// perfToken is one Nagios performance datum: 'label'=value[UOM];[warn];[crit];[min];[max]
var perfToken = regexp.MustCompile(`^('[^'=]+'|[^'= ]+)=(-?[0-9]+(\.[0-9]+)?)(s|ms|us|%|B|KB|MB|GB|TB|c)?(;[^; ]*){0,4}$`)

// parsePerf splits the perfdata after the first '|' of the status line into label -> raw datum.
func parsePerf(t *testing.T, perf string) (labels []string, data map[string]string) {
	t.Helper()
	data = map[string]string{}
	for _, tok := range strings.Fields(perf) {
		if !perfToken.MatchString(tok) {
			t.Errorf("perfdata token %q does not follow the plugin guidelines", tok)
			continue
		}
		label, _, _ := strings.Cut(tok, "=")
		label = strings.Trim(label, "'")
		labels = append(labels, label)
		data[label] = tok
	}
	return labels, data
}

// checkPluginContract asserts what every monitoring engine relies on, for any run.
func checkPluginContract(t *testing.T, r result) (labels []string, data map[string]string) {
	t.Helper()
	name, ok := statusNames[r.code]
	if !ok {
		t.Fatalf("exit code %d is not 0-3\n%s", r.code, r)
	}
	if r.stderr != "" {
		t.Errorf("stderr is not empty\n%s", r)
	}
	if !strings.HasSuffix(r.stdout, "\n") {
		t.Errorf("stdout does not end with a newline\n%s", r)
	}
	first := r.firstLine()
	if !strings.HasPrefix(first, "SMTP "+name+": ") {
		t.Errorf("first line does not start with %q for exit code %d\n%s", "SMTP "+name+": ", r.code, r)
	}
	if strings.ContainsAny(r.stdout, "\r") {
		t.Errorf("stdout contains a carriage return\n%s", r)
	}
	if n := strings.Count(r.stdout, "|"); n > 1 || (n == 1 && !strings.Contains(first, "|")) {
		t.Errorf("a '|' outside the status line's perfdata separator\n%s", r)
	}
	if _, perf, ok := strings.Cut(first, "|"); ok {
		labels, data = parsePerf(t, perf)
		if len(labels) == 0 || labels[0] != "time" {
			t.Errorf("perfdata does not start with time: %v\n%s", labels, r)
		}
	}
	return labels, data
}
