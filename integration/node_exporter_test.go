package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const nodeExporterBin = "/usr/bin/prometheus-node-exporter"

// sample is one line of the Prometheus text format. Labels with an empty
// value are left out: Prometheus treats them as absent, and node_exporter
// fills them in for series of one file whose label names differ.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

func (s sample) String() string {
	keys := make([]string, 0, len(s.labels))
	for k := range s.labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(s.name + "{")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%s=%q", k, s.labels[k])
	}
	b.WriteString("}")
	return b.String()
}

var sampleName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*`)

// parseSamples reads the sample lines of a text exposition (comments and
// blank lines skipped); an unreadable line is an error naming it.
func parseSamples(text string) ([]sample, error) {
	var out []sample
	for _, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name := sampleName.FindString(line)
		if name == "" {
			return nil, fmt.Errorf("no metric name: %q", line)
		}
		s := sample{name: name, labels: map[string]string{}}
		rest := line[len(name):]
		if strings.HasPrefix(rest, "{") {
			rest = rest[1:]
			for !strings.HasPrefix(rest, "}") {
				k, v, ok := strings.Cut(rest, "=\"")
				if !ok || k == "" {
					return nil, fmt.Errorf("bad labels: %q", line)
				}
				var val strings.Builder
				i := 0
				for ; i < len(v) && v[i] != '"'; i++ {
					if v[i] == '\\' && i+1 < len(v) {
						i++
						switch v[i] {
						case 'n':
							val.WriteByte('\n')
						default:
							val.WriteByte(v[i])
						}
						continue
					}
					val.WriteByte(v[i])
				}
				if i == len(v) {
					return nil, fmt.Errorf("unterminated label value: %q", line)
				}
				if val.Len() > 0 {
					s.labels[strings.TrimPrefix(k, ",")] = val.String()
				}
				rest = strings.TrimPrefix(v[i+1:], ",")
			}
			rest = rest[1:]
		}
		f := strings.Fields(rest)
		if len(f) < 1 || len(f) > 2 {
			return nil, fmt.Errorf("bad value: %q", line)
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return nil, fmt.Errorf("bad value in %q: %v", line, err)
		}
		s.value = v
		out = append(out, s)
	}
	return out, nil
}

// series indexes samples by their String form.
func series(ss []sample) map[string]float64 {
	m := map[string]float64{}
	for _, s := range ss {
		m[s.String()] = s.value
	}
	return m
}

// key is the String form of name with these labels (pairs).
func key(name string, kv ...string) string {
	s := sample{name: name, labels: map[string]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		s.labels[kv[i]] = kv[i+1]
	}
	return s.String()
}

// nodeExporter is a running prometheus-node-exporter with only the textfile
// collector, on 127.0.0.1.
type nodeExporter struct {
	url string
	log string
}

// startNodeExporter starts node_exporter on a free loopback port reading
// textfiles from dir, waits until /metrics answers, and stops it by its
// PID when the test ends.
func startNodeExporter(t *testing.T, dir string) nodeExporter {
	t.Helper()
	for attempt := 0; ; attempt++ {
		ne, busy := startNodeExporterOnce(t, dir)
		if !busy {
			return ne
		}
		if attempt == 3 {
			t.Fatal("node_exporter: every free port was taken before it could listen")
		}
	}
}

// startNodeExporterOnce is one try: busy when the port picked was taken
// between the probe and node_exporter's listen.
func startNodeExporterOnce(t *testing.T, dir string) (ne nodeExporter, busy bool) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ne = nodeExporter{url: "http://" + addr + "/metrics", log: filepath.Join(t.TempDir(), "node_exporter.log")}
	logf, err := os.Create(ne.log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(nodeExporterBin,
		"--web.listen-address="+addr,
		"--collector.disable-defaults", "--collector.textfile",
		"--collector.textfile.directory="+dir,
		"--web.disable-exporter-metrics")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // process group id == PID
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	registerPID(pid)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	t.Cleanup(func() {
		select {
		case <-done: // exited and reaped: its PID is no longer ours
		default:
			_ = syscall.Kill(pid, syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Logf("node_exporter (pid %d) ignored SIGTERM: SIGKILL", pid)
				_ = syscall.Kill(-pid, syscall.SIGKILL)
				<-done
			}
		}
		unregisterPID(pid)
	})
	// A guard against a hang, not a timing assertion.
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-done:
			b, _ := os.ReadFile(ne.log)
			if strings.Contains(string(b), "address already in use") {
				t.Logf("port %s taken meanwhile: another one", addr)
				return ne, true
			}
			t.Fatalf("node_exporter exited:\n%s", b)
		default:
		}
		if resp, err := http.Get(ne.url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return ne, false
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(ne.log)
			t.Fatalf("node_exporter does not answer on %s:\n%s", addr, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (ne nodeExporter) scrape(t *testing.T) string {
	t.Helper()
	resp, err := http.Get(ne.url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %v %s\n%s", ne.url, err, resp.Status, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q", ct)
	}
	return string(b)
}

// textfileRun is one check run writing a textfile.
type textfileRun struct {
	file string // in the textfile directory; contains "smtp" for the stale alert
	dns  bool
	args []string
	code int
	out  string // stdout starts with this
}

// TestNodeExporterTextfile has a real node_exporter (Debian's
// prometheus-node-exporter, textfile collector only) read the textfiles
// that check runs write with --prometheus-textfile while printing their
// own format: a Nagios-style check (WARNING: a certificate expiring in
// SOON_DAYS days under -D 30,10), a mackerel-style check of a closed port
// (CRITICAL), and in domain mode good.test and onedown.test (one MX
// address down) through dns.sh's stage. It then scrapes /metrics and
// asserts the series and labels SPEC Part 4 gives, that node_exporter kept
// every sample of every file, no node_textfile_scrape_error, and runs
// `promtool check metrics` on the scraped smtp_* families.
func TestNodeExporterTextfile(t *testing.T) {
	requireServer(t, "POSTFIX")
	if _, err := os.Stat(nodeExporterBin); err != nil {
		t.Fatalf("%v (servers.sh installs prometheus-node-exporter)", err)
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool: %v (servers.sh installs the Debian package prometheus)", err)
	}
	dns := srv["DNS_OK"] == "1"
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	soon := "127.0.0.1:" + srv["POSTFIX_SOON"]
	closed := "127.0.0.1:" + srv["CLOSED_PORT"]
	dnsArgs := []string{"--dns-server", srv["DNS_RESOLVER"], "--cafile", srv["DNS_CA"], "-t", "20"}
	runs := []textfileRun{
		{file: "smtp.prom", code: 1, out: "SMTP WARNING: ",
			args: []string{"-H", "127.0.0.1", "-p", srv["POSTFIX_SOON"], "-S", "--cafile", srv["CA"], "-D", "30,10"}},
		{file: "smtp-closed.prom", code: 0, out: "smtp.time.total\t",
			args: []string{"--format", "mackerel", "-H", "127.0.0.1", "-p", srv["CLOSED_PORT"]}},
		{file: "smtp-good.test.prom", dns: true, code: 0, out: "SMTP OK: good.test: ",
			args: append([]string{"-M", "good.test"}, dnsArgs...)},
		{file: "smtp-onedown.test.prom", dns: true, code: 1, out: `{"schema":1,"status":"WARNING"`,
			args: append([]string{"-M", "onedown.test", "--format", "json"}, dnsArgs...)},
	}
	var files []string
	for _, r := range runs {
		if r.dns && !dns {
			continue
		}
		res := runCheck(t, nil, append(r.args, "--prometheus-textfile", filepath.Join(dir, r.file))...)
		if res.code != r.code || !strings.HasPrefix(res.stdout, r.out) || res.stderr != "" {
			t.Errorf("exit %d (want %d), stdout should start %q:\n%s", res.code, r.code, r.out, res)
		}
		if strings.Contains(res.stdout, "could not write") || strings.Contains(res.stdout, r.file) {
			t.Errorf("the textfile was not written:\n%s", res)
		}
		files = append(files, r.file)
	}
	// Written atomically: only the textfiles, no temporary file left; 0644.
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var have []string
	for _, e := range entries {
		have = append(have, e.Name())
		if fi, err := e.Info(); err == nil && fi.Mode().Perm() != 0o644 {
			t.Errorf("%s has mode %v, want 0644", e.Name(), fi.Mode().Perm())
		}
	}
	want := slices.Clone(files)
	sort.Strings(want)
	if !slices.Equal(have, want) {
		t.Errorf("textfile directory holds %v, want %v", have, want)
	}
	written := map[string]float64{}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		ss, err := parseSamples(string(b))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for k, v := range series(ss) {
			if _, dup := written[k]; dup {
				t.Errorf("%s: %s is in another textfile too", f, k)
			}
			written[k] = v
		}
	}

	ne := startNodeExporter(t, dir)
	scraped := ne.scrape(t)
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(ne.log)
			t.Logf("==== node_exporter log ====\n%s\n==== /metrics ====\n%s", tail(string(b), 4000), tail(scraped, 20000))
		}
	})
	all, err := parseSamples(scraped)
	if err != nil {
		t.Fatalf("/metrics: %v", err)
	}
	got := series(all)
	val := func(t *testing.T, k string) float64 {
		t.Helper()
		v, ok := got[k]
		if !ok {
			t.Errorf("no %s in /metrics", k)
			return math.NaN()
		}
		return v
	}
	expect := func(t *testing.T, k string, want float64) {
		t.Helper()
		if v := val(t, k); !math.IsNaN(v) && v != want {
			t.Errorf("%s = %v, want %v", k, v, want)
		}
	}
	absent := func(t *testing.T, name string, kv ...string) {
		t.Helper()
		for _, s := range all {
			match := s.name == name
			for i := 0; match && i+1 < len(kv); i += 2 {
				match = s.labels[kv[i]] == kv[i+1]
			}
			if match {
				t.Errorf("%s present: %v", s, s.value)
			}
		}
	}

	t.Run("exporter", func(t *testing.T) {
		expect(t, key("node_textfile_scrape_error"), 0)
		for _, f := range files {
			p := filepath.Join(dir, f)
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if v := val(t, key("node_textfile_mtime_seconds", "file", p)); math.Abs(v-float64(fi.ModTime().UnixNano())/1e9) > 1 {
				t.Errorf("node_textfile_mtime_seconds of %s = %v, the file's mtime %v", p, v, fi.ModTime())
			}
		}
		// Every sample of every file, unchanged; nothing else named smtp_*.
		n := 0
		for _, s := range all {
			if !strings.HasPrefix(s.name, "smtp_") {
				continue
			}
			n++
			w, ok := written[s.String()]
			if !ok {
				t.Errorf("%s in /metrics is in no textfile", s)
			} else if w != s.value {
				t.Errorf("%s: /metrics %v, textfile %v", s, s.value, w)
			}
		}
		if n != len(written) {
			t.Errorf("/metrics has %d smtp_* samples, the textfiles %d", n, len(written))
		}
		allowed := map[string]bool{"target": true, "domain": true, "mx": true, "address": true,
			"step": true, "version": true, "state": true, "mode": true}
		for _, s := range all {
			if !strings.HasPrefix(s.name, "smtp_") {
				continue
			}
			for l := range s.labels {
				if !allowed[l] {
					t.Errorf("%s: label %s", s, l)
				}
			}
			if (s.labels["target"] == "") == (s.labels["domain"] == "") {
				t.Errorf("%s: want exactly one of target and domain", s)
			}
		}
	})

	t.Run("single-server-warning", func(t *testing.T) {
		tg := []string{"target", soon}
		expect(t, key("smtp_probe_success", tg...), 1) // WARNING still delivers
		expect(t, key("smtp_probe_status", tg...), 1)
		expect(t, key("smtp_starttls_offered", tg...), 1)
		expect(t, key("smtp_tls_cert_verified", tg...), 1)
		if v := val(t, key("smtp_probe_duration_seconds", tg...)); v <= 0 || v > 20 {
			t.Errorf("smtp_probe_duration_seconds %v", v)
		}
		for step, code := range map[string]float64{"banner": 220, "ehlo": 250, "starttls": 220, "mail": 250, "rset": 250, "quit": 221} {
			expect(t, key("smtp_step_reply_code", "target", soon, "step", step), code)
		}
		for _, step := range []string{"connect", "banner", "ehlo", "starttls", "tls", "mail", "rset", "quit"} {
			if v := val(t, key("smtp_step_duration_seconds", "target", soon, "step", step)); v < 0 || v > 20 {
				t.Errorf("step %s: %v s", step, v)
			}
		}
		versions := 0
		for _, s := range all {
			if s.name == "smtp_tls_version_info" && s.labels["target"] == soon {
				versions++
				if !regexp.MustCompile(`^TLS 1\.[23]$`).MatchString(s.labels["version"]) || s.value != 1 {
					t.Errorf("%s %v", s, s.value)
				}
			}
		}
		if versions != 1 {
			t.Errorf("%d smtp_tls_version_info series for %s, want 1", versions, soon)
		}
		days, _ := strconv.Atoi(srv["SOON_DAYS"])
		left := (val(t, key("smtp_tls_cert_expiry_timestamp_seconds", tg...)) - float64(time.Now().Unix())) / 86400
		if left < float64(days-1) || left > float64(days)+0.01 {
			t.Errorf("the leaf expires in %.2f days, servers.sh made it for %d", left, days)
		}
		chain := val(t, key("smtp_tls_chain_earliest_expiry_timestamp_seconds", tg...))
		if leaf := val(t, key("smtp_tls_cert_expiry_timestamp_seconds", tg...)); chain > leaf || chain < float64(time.Now().Unix()) {
			t.Errorf("chain earliest expiry %v, leaf %v", chain, leaf)
		}
		absent(t, "smtp_failed_step_info", tg...)
	})

	t.Run("single-server-closed", func(t *testing.T) {
		tg := []string{"target", closed}
		expect(t, key("smtp_probe_success", tg...), 0)
		expect(t, key("smtp_probe_status", tg...), 2)
		expect(t, key("smtp_failed_step_info", "target", closed, "step", "connect"), 1)
		for _, n := range []string{"smtp_tls_cert_verified", "smtp_tls_cert_expiry_timestamp_seconds", "smtp_tls_version_info", "smtp_step_reply_code"} {
			absent(t, n, tg...)
		}
	})

	t.Run("domain-good", func(t *testing.T) {
		requireDNS(t)
		d := []string{"domain", "good.test"}
		expect(t, key("smtp_probe_success", d...), 1)
		expect(t, key("smtp_probe_status", d...), 0)
		expect(t, key("smtp_mta_sts_mode_info", "domain", "good.test", "mode", "enforce"), 1)
		expect(t, key("smtp_tlsrpt_record", d...), 1)
		for _, mx := range []string{"mx1.good.test", "mx2.good.test"} {
			addr := srv["DNS_ADDR_"+strings.ToUpper(strings.ReplaceAll(mx, ".", "_"))]
			tg := []string{"domain", "good.test", "mx", mx, "address", addr}
			expect(t, key("smtp_probe_success", tg...), 1)
			expect(t, key("smtp_probe_status", tg...), 0)
			expect(t, key("smtp_mta_sts_mx_covered", tg...), 1)
			expect(t, key("smtp_tls_cert_verified", tg...), 1)
			expect(t, key("smtp_starttls_offered", tg...), 1)
			expect(t, key("smtp_step_reply_code", append(tg, "step", "banner")...), 220)
			for state, v := range map[string]float64{"insecure": 1, "match": 0, "mismatch": 0, "none": 0, "error": 0} {
				expect(t, key("smtp_dane_state", append(tg, "state", state)...), v)
			}
			absent(t, "smtp_failed_step_info", "mx", mx)
		}
	})

	t.Run("domain-one-down", func(t *testing.T) {
		requireDNS(t)
		d := []string{"domain", "onedown.test"}
		expect(t, key("smtp_probe_success", d...), 1) // mail is still delivered
		expect(t, key("smtp_probe_status", d...), 1)
		up := []string{"domain", "onedown.test", "mx", "mx1.onedown.test", "address", srv["DNS_ADDR_MX1_ONEDOWN_TEST"]}
		down := []string{"domain", "onedown.test", "mx", "mx2.onedown.test", "address", srv["DNS_ADDR_MX2_ONEDOWN_TEST"]}
		expect(t, key("smtp_probe_success", up...), 1)
		expect(t, key("smtp_probe_success", down...), 0)
		expect(t, key("smtp_probe_status", down...), 2)
		expect(t, key("smtp_failed_step_info", append(down, "step", "connect")...), 1)
		absent(t, "smtp_tls_cert_verified", "mx", "mx2.onedown.test")
	})

	t.Run("promtool", func(t *testing.T) {
		var smtp []string
		for _, l := range strings.Split(scraped, "\n") {
			if strings.HasPrefix(l, "smtp_") || strings.HasPrefix(l, "# HELP smtp_") || strings.HasPrefix(l, "# TYPE smtp_") {
				smtp = append(smtp, l)
			}
		}
		families := map[string]bool{}
		for _, l := range smtp {
			if f := strings.Fields(l); len(f) > 2 && f[1] == "TYPE" {
				families[f[2]] = true
			}
		}
		for _, s := range all {
			if strings.HasPrefix(s.name, "smtp_") && !families[s.name] {
				t.Errorf("%s has no TYPE in /metrics", s.name)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(strings.Join(smtp, "\n") + "\n")
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		if err != nil || len(strings.TrimSpace(string(out))) > 0 {
			t.Errorf("promtool check metrics on %d scraped smtp_* lines (%d families): %v\n%s", len(smtp), len(families), err, out)
		}
	})
}
