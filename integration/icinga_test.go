package integration

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const icingaBin = "/usr/sbin/icinga2"

// icingaDirs are the daemon's own directories under the test directory,
// passed as -D overrides of Icinga's path constants (the system's
// /var/lib/icinga2, /var/log/icinga2, /run/icinga2 are never touched).
func icingaDirs() []struct{ constant, dir string } {
	return []struct{ constant, dir string }{
		{"DataDir", "data"},   // icinga2.state, written at shutdown
		{"LogDir", "log"},     //
		{"CacheDir", "cache"}, // icinga2.vars, the objects file
		{"SpoolDir", "spool"}, //
		{"InitRunDir", "run"}, // icinga2.pid; the command pipe lives here too
	}
}

// icingaWant is what each service of testdata/icinga2/services.conf ends in.
type icingaWant struct {
	state  int
	output string   // regexp on the first line of the output
	labels []string // perfdata labels Icinga must parse and pass on; nil: no perfdata
}

func icingaWants(ipv6 bool) map[string]icingaWant {
	w := map[string]icingaWant{
		"smtp-starttls":             {0, `^SMTP OK: .*ESMTP Postfix.*TLS ?v?1\.[23]`, fields(starttlsSteps)},
		"smtp-slow":                 {1, `^SMTP WARNING: `, fields(plainSteps)},
		"smtp-closed":               {2, `^SMTP CRITICAL: .*refused`, fields("time connect")},
		"smtp-bad-options":          {3, `^SMTP UNKNOWN: `, nil},
		"submission-env-password":   {0, `^SMTP OK: `, fields(starttlsSteps + " auth rcpt")},
		"submission-wrong-password": {2, `^SMTP CRITICAL: .*AUTH.*535`, fields("time auth")},
		"submission-no-password":    {3, `^SMTP UNKNOWN: .*(password|-P)`, nil},
		"lmtp-socket":               {0, `^SMTP OK: .*Dovecot`, fields("time connect banner mail rcpt rset quit")},
		"itl-private-ca":            {0, `^SMTP OK: .*TLS ?v?1\.[23]`, fields(starttlsSteps)},
		"itl-private-ca-auth":       {0, `^SMTP OK: `, fields(starttlsSteps + " auth")},
		"argv-defaults":             {0, `^ARGV `, nil},
		"argv-ipv6":                 {0, `^ARGV `, nil},
		"argv-domain":               {0, `^ARGV `, nil},
		"argv-every-option":         {0, `^ARGV `, nil},
	}
	if ipv6 {
		w["smtp-ipv6"] = icingaWant{0, `^SMTP OK: `, fields(plainSteps)}
	}
	return w
}

// icingaArgv is the argv (flag -> values in order; nil for a flag without
// value) that each argv service must get from the CheckCommand.
func icingaArgv() map[string]map[string][]string {
	none := []string(nil)
	one := func(v ...string) []string { return v }
	return map[string]map[string][]string{
		"argv-defaults": {"-H": one("127.0.0.1"), "-t": one("10")},
		"argv-ipv6":     {"-H": one("::1"), "-6": none, "-t": one("10")},
		"argv-domain": {"-M": one("example.org"), "--dns-server": one("127.0.0.1:5353", "[::1]:53"),
			"--dane": none, "-t": one("10")},
		"argv-every-option": {
			"-H": one("mail.example.com"), "-p": one("587"), "-4": none, "-6": none,
			"-F": one("monitor.example.com"), "-r": none, "-L": none, "-s": none, "-S": none,
			"--sni": one("mx.example.com"), "-k": none, "--cafile": one("/etc/ssl/private-ca.pem"),
			"-D": one("30,14"), "--ignore-certificate-expiration": none,
			"-A": one("CRAM-MD5"), "-U": one("monitor"), "--authpassword-file": one("/etc/icinga2/smtp-password"),
			"--allow-plaintext-auth": none, "-f": one("monitor@example.com"),
			"--rcpt": one("postmaster@example.com", "abuse@example.com"), "--reject-rcpt": one("test@example.net"),
			"-e": one("ESMTP"), "-C": one("NOOP", "HELP"), "-R": one("^250", "^214"),
			"--quit-after": one("ehlo"), "-q": none, "-w": one("2"), "-c": one("5"),
			"--step-warning": one("rcpt=1", "mail=1.5"), "--step-critical": one("rcpt=3"),
			"-t": one("20:UNKNOWN"), "--status-as": one("warning=critical"), "-v": none, "--no-perfdata": none,
			"--format": one("json"), "--prometheus-textfile": one("/var/lib/prometheus/node-exporter/smtp.prom"),
			"--metric-key-prefix": one("mail"), "--extra-opts": one("check_smtp@/etc/icinga2/check_smtp.ini"),
			"--dns-server": one("127.0.0.1"), "--dns-trust-ad": none, "--mx-strict": none, "--parallel": one("4"),
			"--no-mta-sts": none, "--mta-sts-required": none, "--tlsrpt-required": none,
			"--dane": none, "--no-dane": none, "--dane-rollover": none,
		},
	}
}

// TestIcinga2 runs a real Icinga 2 (Debian's icinga2-bin) with a config of
// its own (testdata/icinga2: no API, no system config) that includes
// examples/icinga2/check-smtp.conf as the README shows it. It forces a check
// of every service through the external command pipe, waits until Icinga's
// GraphiteWriter has sent each result to a loopback listener (every perfdata
// value as Icinga parsed it, and the state), stops the daemon by its PID and
// reads every check result (state, output, perfdata, the argv Icinga
// executed) from the icinga2.state file it writes on shutdown.
func TestIcinga2(t *testing.T) {
	requireServer(t, "POSTFIX")
	requireServer(t, "DOVECOT")
	requireServer(t, "CHASQUID")
	if _, err := os.Stat(icingaBin); err != nil {
		t.Fatalf("%v (servers.sh installs icinga2-bin and icinga2-common)", err)
	}
	nagUser, err := user.Lookup("nagios")
	if err != nil {
		t.Fatalf("user nagios (created by icinga2-common and nagios4-core): %v", err)
	}
	uid, _ := strconv.Atoi(nagUser.Uid)
	gid, _ := strconv.Atoi(nagUser.Gid)
	ipv6 := srv["IPV6"] == "1"

	dir, err := os.MkdirTemp("", "check-smtp-icinga.")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			os.RemoveAll(dir)
		} else {
			t.Logf("icinga2 directory kept: %s", dir)
		}
	})
	for _, d := range icingaDirs() {
		mustMkdir(t, filepath.Join(dir, d.dir))
	}
	mustMkdir(t, filepath.Join(dir, "spool", "tmp"))
	mustMkdir(t, filepath.Join(dir, "plugins"))
	copyFile(t, bin, filepath.Join(dir, "plugins", "check-smtp"), 0o755)
	copyFile(t, srv["CA"], filepath.Join(dir, "ca.pem"), 0o644)
	for _, f := range []string{"icinga2.conf", "services.conf"} {
		copyFile(t, filepath.Join("testdata", "icinga2", f), filepath.Join(dir, f), 0o644)
	}
	copyFile(t, filepath.Join("testdata", "icinga2", "argv.sh"), filepath.Join(dir, "argv.sh"), 0o755)
	copyFile(t, filepath.Join("..", "examples", "icinga2", "check-smtp.conf"), filepath.Join(dir, "check-smtp.conf"), 0o644)

	graphite, err := newGraphiteSink()
	if err != nil {
		t.Fatal(err)
	}
	defer graphite.Close()

	// Readable by the nagios user only: it holds the AUTH password.
	writeFile(t, filepath.Join(dir, "constants.conf"), fmt.Sprintf(`/* written by icinga_test.go */
const TestDir = %q
const PluginDir = %q
const CAFile = %q
const PostfixSmtp = %s
const PostfixSubmission = %s
const ChasquidSubmission = %s
const ClosedPort = %s
const LmtpSocket = %q
const AuthUser = %q
const AuthPassword = %q
const GraphitePort = %d
const HaveIPv6 = %t
`, dir, filepath.Join(dir, "plugins"), filepath.Join(dir, "ca.pem"), srv["POSTFIX_SMTP"], srv["POSTFIX_SUBMISSION"],
		srv["CHASQUID_SUBMISSION"], srv["CLOSED_PORT"], srv["LMTP_SOCKET"], srv["USER"], srv["PASS"], graphite.Port(), ipv6), 0o600)
	if err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	}); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}

	args := []string{"daemon", "-c", filepath.Join(dir, "icinga2.conf")}
	for _, d := range icingaDirs() {
		args = append(args, "-D"+d.constant+"="+filepath.Join(dir, d.dir))
	}
	// Icinga drops root for this user, as the Debian service does.
	args = append(args, "-DRunAsUser="+nagUser.Username, "-DRunAsGroup=nagios")
	// Icinga hands its environment to the plugins: keep it to the minimum,
	// so that no CHECK_SMTP_AUTHPASSWORD of the caller's leaks in.
	env := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}

	validate := exec.Command(icingaBin, append(args, "-C")...)
	validate.Env = env
	if out, err := validate.CombinedOutput(); err != nil || strings.Contains(string(out), "critical/") {
		t.Fatalf("icinga2 daemon -C rejected the config: %v\n%s", err, out)
	}

	logf, err := os.Create(filepath.Join(dir, "icinga2.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(icingaBin, args...) // foreground: no -d
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // process group id == PID
	started := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	registerPID(pid)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		// SIGTERM to the daemon's PID: it stops its workers and dumps
		// icinga2.state. Its whole process group only if it hangs.
		_ = syscall.Kill(pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Errorf("icinga2 (pid %d) ignored SIGTERM for 30s: SIGKILL to its process group", pid)
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			<-done
		}
		unregisterPID(pid)
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			for _, f := range []string{"icinga2.out", "log/debug.log"} {
				b, _ := os.ReadFile(filepath.Join(dir, f))
				t.Logf("==== %s ====\n%s", f, tail(string(b), 8000))
			}
		}
	})

	// The GraphiteWriter connects once at start; results before that are dropped.
	deadline := time.Now().Add(60 * time.Second)
	cmdPipe := filepath.Join(dir, "run", "icinga2.cmd")
	var fifo *os.File
	for {
		if graphite.Connected() {
			if fifo, err = os.OpenFile(cmdPipe, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				break
			}
		}
		select {
		case <-done:
			t.Fatalf("icinga2 exited early")
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60s: GraphiteWriter connected=%v, command pipe %s: %v", graphite.Connected(), cmdPipe, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	wants := icingaWants(ipv6)
	services := make([]string, 0, len(wants))
	for s := range wants {
		services = append(services, s)
	}
	sort.Strings(services)
	ts := time.Now().Unix()
	for _, svc := range services {
		line := fmt.Sprintf("[%d] SCHEDULE_FORCED_SVC_CHECK;mailhost;%s;%d\n", ts, svc, ts)
		if _, err := io.WriteString(fifo, line); err != nil {
			t.Fatalf("writing the external command: %v", err)
		}
	}
	fifo.Close()

	// Every service has sent its state once its result was processed.
	deadline = time.Now().Add(90 * time.Second)
	for {
		missing := graphite.missingState(services)
		if len(missing) == 0 {
			break
		}
		select {
		case <-done:
			t.Fatalf("icinga2 exited while waiting for results")
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no result after 90s for %v", missing)
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	t.Logf("icinga2: started, %d services checked and stopped in %v", len(services), time.Since(started).Round(time.Millisecond))

	results, err := readIcingaState(filepath.Join(dir, "data", "icinga2.state"))
	if err != nil {
		t.Fatalf("icinga2.state: %v", err)
	}
	metrics := graphite.Metrics()
	for _, svc := range services {
		t.Run(svc, func(t *testing.T) {
			w := wants[svc]
			cr, ok := results["mailhost!"+svc]
			if !ok {
				t.Fatalf("no check result for %s in icinga2.state", svc)
			}
			first, _, _ := strings.Cut(cr.Output, "\n")
			t.Logf("state=%d command=%q output=%q performance_data=%q", cr.State, cr.Command, cr.Output, cr.PerformanceData)
			if cr.State != w.state || cr.ExitStatus != w.state {
				t.Errorf("state %d (exit status %d), want %d", cr.State, cr.ExitStatus, w.state)
			}
			if !regexp.MustCompile(w.output).MatchString(first) {
				t.Errorf("output %q does not match %q", first, w.output)
			}
			if strings.Contains(cr.Output, "|") || strings.Contains(cr.Output, "time=") {
				t.Errorf("perfdata left in the output: %q", cr.Output)
			}
			if len(cr.Command) == 0 || !strings.HasPrefix(cr.Command[0], dir) {
				t.Errorf("command %q is not the plugin under %s", cr.Command, dir)
			}
			for _, f := range forbidden(srv["USER"], srv["PASS"]) {
				if strings.Contains(strings.Join(cr.Command, " "), f) || strings.Contains(cr.Output, f) {
					t.Errorf("the password (as %q) is in the command line or the output", f)
				}
			}
			if m := metrics[svc]["metadata.state"]; m != strconv.Itoa(w.state) {
				t.Errorf("GraphiteWriter sent state %q, want %d", m, w.state)
			}

			// Perfdata: split by Icinga from the plugin's output, then
			// parsed (value, unit, thresholds) by its PerfdataValue parser
			// for the GraphiteWriter.
			labels, _ := parsePerf(t, strings.Join(cr.PerformanceData, " "))
			if w.labels == nil && len(labels) > 0 {
				t.Errorf("perfdata %q, want none", cr.PerformanceData)
			}
			for _, l := range w.labels {
				v, ok := metrics[svc]["perfdata."+l+".value"]
				if !ok {
					t.Errorf("Icinga parsed no %q: perfdata %q, metrics %v", l, cr.PerformanceData, metrics[svc])
					continue
				}
				if f, err := strconv.ParseFloat(v, 64); err != nil || f < 0 {
					t.Errorf("Icinga parsed %s as %q", l, v)
				}
				if m := metrics[svc]["perfdata."+l+".min"]; l != "cert_days" && m != "0" {
					t.Errorf("%s min %q, want 0", l, m)
				}
			}
		})
	}

	t.Run("smtp-slow/threshold-parsed", func(t *testing.T) {
		if v := metrics["smtp-slow"]["perfdata.time.warn"]; v == "" {
			t.Errorf("no warn threshold of time parsed: %v", metrics["smtp-slow"])
		} else if f, err := strconv.ParseFloat(v, 64); err != nil || f != 0.000001 {
			t.Errorf("warn threshold of time parsed as %q, want 0.000001", v)
		}
	})
	t.Run("smtp-starttls/cert-days", func(t *testing.T) {
		v, _ := strconv.ParseFloat(metrics["smtp-starttls"]["perfdata.cert_days.value"], 64)
		if v < 30 {
			t.Errorf("cert_days %v, want the test certificate's hundreds of days", v)
		}
	})
	t.Run("submission-env-password/long-output", func(t *testing.T) {
		_, long, _ := strings.Cut(results["mailhost!submission-env-password"].Output, "\n")
		if !strings.Contains(long, "AUTH LOGIN") || !strings.Contains(long, "235") {
			t.Errorf("long output lacks the AUTH transcript: %q", long)
		}
	})
	t.Run("itl-private-ca-auth/no-P", func(t *testing.T) {
		c := results["mailhost!itl-private-ca-auth"].Command
		for i, a := range c {
			if a == "-P" {
				t.Errorf("the ITL's -P is still in the command line: %q", c)
			}
			if a == "--cafile" && (i+1 >= len(c) || !strings.HasSuffix(c[i+1], "ca.pem")) {
				t.Errorf("--cafile without the CA file: %q", c)
			}
		}
	})
	t.Run("argv", func(t *testing.T) {
		keys, err := checkCommandKeys(filepath.Join("..", "examples", "icinga2", "check-smtp.conf"), "check-smtp")
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for svc, want := range icingaArgv() {
			cr := results["mailhost!"+svc]
			got, err := splitArgv(cr.Command[1:], want)
			if err != nil {
				t.Errorf("%s: %v: %q", svc, err, cr.Command)
				continue
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: argv %q\nparsed %v\nwant   %v", svc, cr.Command[1:], got, want)
			}
			// argv.sh saw the same argv Icinga recorded.
			printed := "ARGV"
			for _, a := range cr.Command[1:] {
				printed += " [" + a + "]"
			}
			if !strings.HasPrefix(cr.Output, printed+" ENV=") {
				t.Errorf("%s: the plugin printed %q, Icinga recorded %q", svc, cr.Output, cr.Command)
			}
			wantEnv := "ENV=empty"
			if svc == "argv-every-option" {
				wantEnv = "ENV=set"
			}
			if !strings.HasSuffix(strings.TrimSpace(cr.Output), wantEnv) {
				t.Errorf("%s: %q, want %s", svc, cr.Output, wantEnv)
			}
			for k := range got {
				seen[k] = true
			}
		}
		for _, k := range keys {
			if !seen[k] {
				t.Errorf("no argv service sets %s of the CheckCommand: add it to argv-every-option", k)
			}
		}
	})
	t.Run("perfdata-accepted", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(dir, "log", "debug.log"))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(strings.ToLower(l), "invalid perfdata") {
				t.Errorf("Icinga: %s", l)
			}
		}
		if !strings.Contains(string(b), "Running command '"+filepath.Join(dir, "plugins", "check-smtp")+"'") {
			t.Errorf("debug.log never shows check-smtp being run")
		}
	})
}

// splitArgv reads argv back into flag -> values, knowing from want which
// flags take a value.
func splitArgv(argv []string, want map[string][]string) (map[string][]string, error) {
	// The arguments the CheckCommand joins to their value with '='.
	equalsForm := map[string]bool{"--sni": true, "--extra-opts": true}
	got := map[string][]string{}
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		if k, v, ok := strings.Cut(a, "="); ok && equalsForm[k] {
			got[k] = append(got[k], v)
			continue
		}
		if equalsForm[a] {
			return nil, fmt.Errorf("%s without =VALUE", a)
		}
		w, known := want[a]
		switch {
		case !known:
			return nil, fmt.Errorf("unexpected argument %q", a)
		case w == nil:
			got[a] = nil
		case i+1 >= len(argv):
			return nil, fmt.Errorf("%s without its value", a)
		default:
			i++
			got[a] = append(got[a], argv[i])
		}
	}
	return got, nil
}

// checkCommandKeys lists the argument keys of one CheckCommand of an Icinga
// config file ("-H", "--sni", ...), in file order.
func checkCommandKeys(path, name string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	start := strings.Index(string(b), `object CheckCommand "`+name+`" {`)
	if start < 0 {
		return nil, fmt.Errorf("%s: no CheckCommand %q", path, name)
	}
	body := string(b[start:])
	if end := strings.Index(body, "\n}\n"); end > 0 {
		body = body[:end]
	}
	var keys []string
	for _, m := range regexp.MustCompile(`(?m)^\s+"(-[^"]+)" = `).FindAllStringSubmatch(body, -1) {
		keys = append(keys, m[1])
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: CheckCommand %q has no arguments", path, name)
	}
	return keys, nil
}

// icingaResult is the part of a CheckResult in icinga2.state the test reads.
type icingaResult struct {
	Command         []string `json:"command"`
	Output          string   `json:"output"`
	PerformanceData []string `json:"performance_data"`
	State           int      `json:"state"`
	ExitStatus      int      `json:"exit_status"`
}

// readIcingaState reads the last check result of every service from an
// icinga2.state file: a sequence of netstrings (LEN:JSON,), one per object.
func readIcingaState(path string) (map[string]icingaResult, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]icingaResult{}
	for len(b) > 0 {
		colon := strings.IndexByte(string(b[:min(len(b), 20)]), ':')
		if colon < 1 {
			return nil, errors.New("not a netstring")
		}
		n, err := strconv.Atoi(string(b[:colon]))
		if err != nil || n < 0 || colon+1+n >= len(b) || b[colon+1+n] != ',' {
			return nil, fmt.Errorf("bad netstring length %q", b[:colon])
		}
		var obj struct {
			Name   string `json:"name"`
			Type   string `json:"type"`
			Update struct {
				LastCheckResult *icingaResult `json:"last_check_result"`
			} `json:"update"`
		}
		if err := json.Unmarshal(b[colon+1:colon+1+n], &obj); err != nil {
			return nil, err
		}
		if obj.Type == "Service" && obj.Update.LastCheckResult != nil {
			out[obj.Name] = *obj.Update.LastCheckResult
		}
		b = b[colon+1+n+1:]
	}
	if len(out) == 0 {
		return nil, errors.New("no service check results")
	}
	return out, nil
}

// graphiteSink is a loopback stand-in for a Graphite server: it records
// the plaintext lines ("PATH VALUE TIMESTAMP") Icinga's GraphiteWriter sends.
type graphiteSink struct {
	ln        net.Listener
	wg        sync.WaitGroup
	mu        sync.Mutex
	connected bool
	closed    bool
	conns     []net.Conn
	lines     []string
}

func newGraphiteSink() (*graphiteSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	g := &graphiteSink{ln: ln}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			g.mu.Lock()
			if g.closed {
				g.mu.Unlock()
				c.Close()
				return
			}
			g.connected = true
			g.conns = append(g.conns, c)
			g.mu.Unlock()
			g.wg.Add(1)
			go func() {
				defer g.wg.Done()
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					g.mu.Lock()
					g.lines = append(g.lines, sc.Text())
					g.mu.Unlock()
				}
			}()
		}
	}()
	return g, nil
}

func (g *graphiteSink) Port() int { return g.ln.Addr().(*net.TCPAddr).Port }

func (g *graphiteSink) Connected() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.connected
}

// Close stops accepting, closes the connections and waits for the readers.
func (g *graphiteSink) Close() {
	g.ln.Close()
	g.mu.Lock()
	g.closed = true
	for _, c := range g.conns {
		c.Close()
	}
	g.mu.Unlock()
	g.wg.Wait()
}

// Metrics maps service -> metric (after the check command: "perfdata.time.value",
// "metadata.state") -> the last value sent.
func (g *graphiteSink) Metrics() map[string]map[string]string {
	g.mu.Lock()
	defer g.mu.Unlock()
	re := regexp.MustCompile(`^icinga2\.mailhost\.services\.([^.]+)\.[^.]+\.((?:perfdata|metadata)\..+) (\S+) [0-9]+$`)
	out := map[string]map[string]string{}
	for _, l := range g.lines {
		m := re.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		if out[m[1]] == nil {
			out[m[1]] = map[string]string{}
		}
		out[m[1]][m[2]] = m[3]
	}
	return out
}

func (g *graphiteSink) missingState(services []string) []string {
	m := g.Metrics()
	var missing []string
	for _, s := range services {
		if _, ok := m[s]["metadata.state"]; !ok {
			missing = append(missing, s)
		}
	}
	return missing
}
