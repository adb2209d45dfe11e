package integration

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/mackerelio/mackerel-agent/config"
)

// The examples/ folder: engine and Prometheus configuration the README
// shows. These tests run each file through the real tool that reads it
// (promtool, nagios4 -v, icinga2 daemon -C, mackerel-agent's config code),
// check that every option they use is a check-smtp option, and that the
// README quotes them as they are.

const examplesDir = "../examples"

// specOptions are options the SPEC names (Parts 1-4) that the README's
// options table may not list yet: the examples may use them, and the
// Icinga CheckCommand maps them (Icinga leaves out an unset one).
func specOptions() []string {
	return []string{"--quit-after", "--format", "--prometheus-textfile", "--metric-key-prefix",
		"-M", "--mx", "--dns-server", "--dns-trust-ad", "--mx-strict", "--parallel", "--no-mta-sts",
		"--mta-sts-required", "--tlsrpt-required", "--dane", "--no-dane", "--dane-rollover"}
}

// readmeOption is one row of an options table of README.md.
type readmeOption struct {
	shorts []string // "-H"
	longs  []string // "--host", "--hostname": the name, then the aliases
}

func (o readmeOption) names() []string { return append(slices.Clone(o.shorts), o.longs...) }

// readmeOptions reads the rows of every table of README.md whose header
// starts "| short | long".
func readmeOptions(t *testing.T) []readmeOption {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	tok := regexp.MustCompile("`(-[^`]*)`")
	name := func(s string) string { // "--sni[=NAME]" -> "--sni", "--cafile FILE" -> "--cafile"
		if i := strings.IndexAny(s, " [="); i > 0 {
			return s[:i]
		}
		return s
	}
	var out []readmeOption
	in := false
	for _, l := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(l, "| short | long"):
			in = true
			continue
		case !strings.HasPrefix(l, "|"):
			in = false
			continue
		case !in || strings.HasPrefix(l, "|---"):
			continue
		}
		cells := strings.Split(l, "|")
		if len(cells) < 4 {
			continue
		}
		var o readmeOption
		for _, m := range tok.FindAllStringSubmatch(cells[1], -1) {
			o.shorts = append(o.shorts, name(m[1]))
		}
		for _, m := range tok.FindAllStringSubmatch(cells[2], -1) {
			o.longs = append(o.longs, name(m[1]))
		}
		if len(o.shorts)+len(o.longs) > 0 {
			out = append(out, o)
		}
	}
	if len(out) < 30 {
		t.Fatalf("README.md options tables: %d rows, want the whole table", len(out))
	}
	return out
}

// knownOptions is every option name the README tables and the SPEC give.
func knownOptions(t *testing.T) map[string]bool {
	known := map[string]bool{}
	for _, o := range readmeOptions(t) {
		for _, n := range o.names() {
			known[n] = true
		}
	}
	for _, n := range specOptions() {
		known[n] = true
	}
	return known
}

// optionName is the option a command-line word names ("--sni=x" -> "--sni"),
// or "" when the word is not an option.
func optionName(w string) string {
	if !strings.HasPrefix(w, "-") || w == "-" || w == "--" {
		return ""
	}
	if k, _, ok := strings.Cut(w, "="); ok && strings.HasPrefix(w, "--") {
		return k
	}
	return w
}

func readExample(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(examplesDir, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestExamplesPrometheusRules runs promtool on the alerting rules and their
// unit tests, and checks that they speak SPEC's metric names and labels.
func TestExamplesPrometheusRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool: %v (servers.sh installs the Debian package prometheus)", err)
	}
	dir := filepath.Join(examplesDir, "prometheus")
	for _, args := range [][]string{
		{"check", "rules", "--lint=all", "--lint-fatal", filepath.Join(dir, "check-smtp.rules.yml")},
		{"test", "rules", filepath.Join(dir, "check-smtp.rules.test.yml")},
	} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		t.Logf("promtool %s:\n%s", strings.Join(args, " "), out)
		if err != nil || !strings.Contains(string(out), "SUCCESS") || strings.Contains(string(out), "FAILED") {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}

	rules := readExample(t, "prometheus/check-smtp.rules.yml")
	tests := readExample(t, "prometheus/check-smtp.rules.test.yml")
	alerts := regexp.MustCompile(`(?m)^\s*- alert: (\S+)$`).FindAllStringSubmatch(rules, -1)
	if len(alerts) < 6 {
		t.Fatalf("%d alerts, want at least the six of SPEC Part 4 and issue 13", len(alerts))
	}
	for _, a := range alerts {
		q := regexp.QuoteMeta(a[1])
		if !regexp.MustCompile(`alertname: ` + q + `\s+exp_alerts: \[\]`).MatchString(tests) {
			t.Errorf("no test that %s does not fire", a[1])
		}
		if !regexp.MustCompile(`alertname: ` + q + `\s+exp_alerts:\s*\n\s+- exp_labels:`).MatchString(tests) {
			t.Errorf("no test that %s fires", a[1])
		}
	}
	// The metrics the SPEC requires, in the alerts it asks for.
	spec := map[string]bool{}
	for _, n := range strings.Fields(`smtp_probe_success smtp_probe_status smtp_probe_duration_seconds
		smtp_step_duration_seconds smtp_step_reply_code smtp_failed_step_info smtp_starttls_offered
		smtp_tls_version_info smtp_tls_cert_verified smtp_tls_cert_expiry_timestamp_seconds
		smtp_tls_chain_earliest_expiry_timestamp_seconds smtp_dane_state smtp_mta_sts_mode_info
		smtp_mta_sts_mx_covered smtp_tlsrpt_record`) {
		spec[n] = true
	}
	for _, m := range regexp.MustCompile(`\bsmtp_[a-z_]+\b`).FindAllString(rules+tests, -1) {
		if !spec[m] {
			t.Errorf("%s is not a metric SPEC Part 4 names", m)
		}
	}
	for _, want := range []string{"smtp_probe_success == 0", "smtp_tls_cert_expiry_timestamp_seconds - time() < 14 * 86400",
		"smtp_tls_chain_earliest_expiry_timestamp_seconds - time() < 14 * 86400", `smtp_dane_state{state="mismatch"} == 1`,
		"smtp_mta_sts_mx_covered == 0", "smtp_step_duration_seconds > "} {
		if !strings.Contains(rules, want) {
			t.Errorf("no rule with %q", want)
		}
	}
	labels := map[string]bool{"target": true, "domain": true, "mx": true, "address": true, "step": true,
		"state": true, "version": true, "mode": true, "instance": true, "job": true, "file": true}
	for _, m := range regexp.MustCompile(`\$labels\.([a-z_]+)`).FindAllStringSubmatch(rules, -1) {
		if !labels[m[1]] {
			t.Errorf("label %s is not one check-smtp (or node_exporter) sets", m[1])
		}
	}
}

// TestExamplesNagios has nagios4 -v read examples/nagios/check-smtp.cfg,
// with the host and templates it assumes (generic-service, mail.example.com).
func TestExamplesNagios(t *testing.T) {
	if _, err := os.Stat(nagiosBin); err != nil {
		t.Fatalf("%v (servers.sh installs nagios4-core)", err)
	}
	nagUser, err := user.Lookup("nagios")
	if err != nil {
		t.Fatalf("user nagios: %v", err)
	}
	uid, _ := strconv.Atoi(nagUser.Uid)
	gid, _ := strconv.Atoi(nagUser.Gid)
	example := readExample(t, "nagios/check-smtp.cfg")

	dir := nagiosDir(t)
	writeFile(t, filepath.Join(dir, "check-smtp.cfg"), example, 0o644)
	writeFile(t, filepath.Join(dir, "support.cfg"), nagiosExampleSupport, 0o644)
	writeFile(t, filepath.Join(dir, "resource.cfg"),
		"$USER1$=/usr/lib/nagios/plugins\n$USER6$=monitor@example.com\n$USER7$=/etc/nagios4/smtp-password\n", 0o600)
	main := strings.ReplaceAll(nagiosMain, "cfg_file={{DIR}}/objects.cfg\n",
		"cfg_file={{DIR}}/support.cfg\ncfg_file={{DIR}}/check-smtp.cfg\n")
	writeFile(t, filepath.Join(dir, "nagios.cfg"), strings.ReplaceAll(main, "{{DIR}}", dir), 0o644)
	mustMkdir(t, filepath.Join(dir, "checkresults"))
	if err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	}); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(nagiosBin, "-v", filepath.Join(dir, "nagios.cfg")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Total Warnings: 0") || !strings.Contains(string(out), "Total Errors:   0") {
		t.Fatalf("nagios4 -v: %v\n%s", err, out)
	}
	services := regexp.MustCompile(`(?m)^\s*service_description\s`).FindAllString(example, -1)
	commands := regexp.MustCompile(`(?m)^\s*command_name\s`).FindAllString(example, -1)
	// The support file adds one command (notify-nobody).
	for _, w := range []string{fmt.Sprintf("Checked %d services.", len(services)), fmt.Sprintf("Checked %d commands.", len(commands)+1)} {
		if !strings.Contains(string(out), w) {
			t.Errorf("nagios4 -v does not say %q:\n%s", w, out)
		}
	}

	known := knownOptions(t)
	for _, m := range regexp.MustCompile(`(?m)^\s*(?:command_line|check_command)\s+(.+)$`).FindAllStringSubmatch(example, -1) {
		for _, w := range strings.FieldsFunc(m[1], func(r rune) bool { return r == ' ' || r == '!' }) {
			if n := optionName(w); n != "" && !known[n] {
				t.Errorf("%s is not a check-smtp option: %s", n, m[0])
			}
		}
		if strings.Contains(m[1], "-P ") || strings.Contains(m[1], "--authpassword ") {
			t.Errorf("a password on the command line: %s", m[0])
		}
	}
}

// nagiosExampleSupport defines what examples/nagios/check-smtp.cfg uses
// and a real setup already has.
const nagiosExampleSupport = `define timeperiod {
  timeperiod_name  24x7
  alias            24x7
  sunday           00:00-24:00
  monday           00:00-24:00
  tuesday          00:00-24:00
  wednesday        00:00-24:00
  thursday         00:00-24:00
  friday           00:00-24:00
  saturday         00:00-24:00
}

define command {
  command_name  notify-nobody
  command_line  /bin/true
}

define contact {
  contact_name                   nobody
  host_notifications_enabled     0
  service_notifications_enabled  0
  host_notification_period       24x7
  service_notification_period    24x7
  host_notification_options      n
  service_notification_options   n
  host_notification_commands     notify-nobody
  service_notification_commands  notify-nobody
}

define service {
  name                   generic-service
  register               0
  max_check_attempts     3
  check_interval         5
  retry_interval         1
  check_period           24x7
  notification_interval  0
  notification_period    24x7
  contacts               nobody
}

define host {
  host_name              mail.example.com
  address                192.0.2.25
  max_check_attempts     3
  check_period           24x7
  contacts               nobody
  notification_interval  0
  notification_period    24x7
}
`

// TestExamplesIcinga2Config has icinga2 daemon -C read
// examples/icinga2/check-smtp.conf with a host that every apply rule
// matches (and the zones the LMTP rule's command_endpoint needs), and
// checks that the CheckCommand maps every option.
func TestExamplesIcinga2Config(t *testing.T) {
	if _, err := os.Stat(icingaBin); err != nil {
		t.Fatalf("%v (servers.sh installs icinga2-bin and icinga2-common)", err)
	}
	nagUser, err := user.Lookup("nagios")
	if err != nil {
		t.Fatalf("user nagios: %v", err)
	}
	uid, _ := strconv.Atoi(nagUser.Uid)
	gid, _ := strconv.Atoi(nagUser.Gid)
	example := readExample(t, "icinga2/check-smtp.conf")

	t.Run("maps-every-option", func(t *testing.T) {
		keys, err := checkCommandKeys(filepath.Join(examplesDir, "icinga2", "check-smtp.conf"), "check-smtp")
		if err != nil {
			t.Fatal(err)
		}
		mapped := map[string]bool{}
		for _, k := range keys {
			if mapped[k] {
				t.Errorf("%s mapped twice", k)
			}
			mapped[k] = true
		}
		// -P goes through the environment: never an argument.
		if mapped["-P"] || mapped["--authpassword"] {
			t.Errorf("the CheckCommand passes the password as an argument")
		}
		if !strings.Contains(example, `CHECK_SMTP_AUTHPASSWORD = "$check_smtp_authpassword$"`) {
			t.Errorf("the CheckCommand does not set CHECK_SMTP_AUTHPASSWORD from $check_smtp_authpassword$")
		}
		for _, o := range readmeOptions(t) {
			names := o.names()
			switch {
			case slices.Contains(names, "-h"), slices.Contains(names, "-V"), slices.Contains(names, "-P"):
				continue
			case len(o.shorts) > 1:
				for _, s := range o.shorts {
					if !mapped[s] {
						t.Errorf("the CheckCommand does not map %s", s)
					}
				}
			case !slices.ContainsFunc(names, func(n string) bool { return mapped[n] }):
				t.Errorf("the CheckCommand does not map %s (README options table)", strings.Join(names, ", "))
			}
		}
		known := knownOptions(t)
		for _, n := range specOptions() {
			if n != "--mx" && !mapped[n] {
				t.Errorf("the CheckCommand does not map %s (SPEC)", n)
			}
		}
		for k := range mapped {
			if !known[k] {
				t.Errorf("the CheckCommand maps %s, not a check-smtp option", k)
			}
		}
	})

	dir := nagiosDir(t)
	for _, d := range icingaDirs() {
		mustMkdir(t, filepath.Join(dir, d.dir))
	}
	writeFile(t, filepath.Join(dir, "check-smtp.conf"), example, 0o644)
	writeFile(t, filepath.Join(dir, "icinga2.conf"), `const PluginDir = "/usr/lib/nagios/plugins"
include <itl>
include <plugins>
include "check-smtp.conf"

object Endpoint "master" { }
object Zone "master" { endpoints = [ "master" ] }
object Endpoint "mail.example.com" { }
object Zone "mail.example.com" { endpoints = [ "mail.example.com" ]; parent = "master" }

object Host "mail.example.com" {
  zone = "master"
  address = "192.0.2.25"
  check_command = "dummy"
  vars.mail_server = true
  vars.smtp_monitor_password = "secret"
  vars.lmtp_socket = "/run/dovecot/lmtp"
  vars.mail_domains = [ "example.com", "example.net" ]
}
`, 0o644)
	if err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	}); err != nil {
		t.Fatal(err)
	}
	var defs []string
	for _, d := range icingaDirs() {
		defs = append(defs, "-D"+d.constant+"="+filepath.Join(dir, d.dir))
	}
	defs = append(defs, "-DNodeName=master", "-DRunAsUser="+nagUser.Username, "-DRunAsGroup=nagios")
	env := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}
	validate := exec.Command(icingaBin, append([]string{"daemon", "-C", "-c", filepath.Join(dir, "icinga2.conf")}, defs...)...)
	validate.Env = env
	out, err := validate.CombinedOutput()
	if err != nil || strings.Contains(string(out), "critical/") {
		t.Fatalf("icinga2 daemon -C: %v\n%s", err, out)
	}
	list := exec.Command(icingaBin, append([]string{"object", "list", "--type", "Service"}, defs...)...)
	list.Env = env
	out, err = list.CombinedOutput()
	if err != nil {
		t.Fatalf("icinga2 object list: %v\n%s", err, out)
	}
	var services []string
	for _, m := range regexp.MustCompile(`(?m)^Object 'mail\.example\.com!([^']+)' of type 'Service'`).FindAllStringSubmatch(string(out), -1) {
		services = append(services, m[1])
	}
	sort.Strings(services)
	want := []string{"lmtp", "mail-domain-example.com", "mail-domain-example.net", "smtp", "smtp-open-relay", "smtps", "submission"}
	if !slices.Equal(services, want) {
		t.Errorf("the apply rules made services %v, want %v", services, want)
	}
}

// TestExamplesMackerelAgent loads examples/mackerel-agent.conf with
// mackerel-agent's own config code.
func TestExamplesMackerelAgent(t *testing.T) {
	conf, err := config.LoadConfig(filepath.Join(examplesDir, "mackerel-agent.conf"))
	if err != nil {
		t.Fatalf("mackerel-agent could not load examples/mackerel-agent.conf: %v", err)
	}
	var checks, metrics []string
	for n := range conf.CheckPlugins {
		checks = append(checks, n)
	}
	for n := range conf.MetricPlugins {
		metrics = append(metrics, n)
	}
	sort.Strings(checks)
	if want := []string{"lmtp", "smtp", "smtp_submission"}; !slices.Equal(checks, want) {
		t.Errorf("check plugins %v, want %v", checks, want)
	}
	if want := []string{"smtp"}; !slices.Equal(metrics, want) {
		t.Errorf("metric plugins %v, want %v", metrics, want)
	}
	known := knownOptions(t)
	argvs := map[string][]string{}
	for n, c := range conf.CheckPlugins {
		argvs["plugin.checks."+n] = c.Command.Args
		if !slices.Contains(c.Command.Args, "--no-perfdata") {
			t.Errorf("plugin.checks.%s: no --no-perfdata (the agent posts the whole stdout)", n)
		}
	}
	for n, c := range conf.MetricPlugins {
		argvs["plugin.metrics."+n] = c.Command.Args
		if i := slices.Index(c.Command.Args, "--format"); i < 0 || i+1 >= len(c.Command.Args) || c.Command.Args[i+1] != "mackerel" {
			t.Errorf("plugin.metrics.%s: no --format mackerel: %q", n, c.Command.Args)
		}
	}
	for n, argv := range argvs {
		if len(argv) == 0 || filepath.Base(argv[0]) != "check-smtp" {
			t.Errorf("%s: command %q is not check-smtp as an argv array", n, argv)
			continue
		}
		for _, w := range argv[1:] {
			if o := optionName(w); o != "" && !known[o] {
				t.Errorf("%s: %s is not a check-smtp option", n, o)
			}
			if w == "-P" || w == "--authpassword" {
				t.Errorf("%s: a password on the command line", n)
			}
		}
	}
	sub := conf.CheckPlugins["smtp_submission"]
	if sub == nil || !slices.ContainsFunc(sub.Command.Env, func(e string) bool { return strings.HasPrefix(e, "CHECK_SMTP_AUTHPASSWORD=") }) {
		t.Errorf("plugin.checks.smtp_submission: the password is not in env")
	}
}

// TestExamplesReadme keeps README.md's engine sections in step with
// examples/: a fenced block right after <!-- examples/FILE --> must be a
// run of whole lines of FILE, the blocks of one file together must show
// each of its objects (commands, services, apply rules, plugin entries,
// alerts), and the Nagios and Icinga 2 sections must quote their files.
func TestExamplesReadme(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	re := regexp.MustCompile("(?s)<!-- (examples/[^ ]+) -->\\s*```[a-z0-9]*\\n(.*?)```")
	blocks := map[string][]string{}
	for _, m := range re.FindAllStringSubmatch(readme, -1) {
		blocks[m[1]] = append(blocks[m[1]], m[2])
	}
	for _, f := range []string{"examples/nagios/check-smtp.cfg", "examples/icinga2/check-smtp.conf"} {
		if len(blocks[f]) == 0 {
			t.Errorf("README.md does not quote %s (a fenced block after <!-- %s -->)", f, f)
		}
	}
	objects := regexp.MustCompile(`(?m)^(\s*(?:command_name|service_description)\s+.+|(?:object|apply|template) .*\{|\[plugin\.[a-z]+\.[a-z_]+\]|\s*- alert: \S+)$`)
	names := make([]string, 0, len(blocks))
	for f := range blocks {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		src, err := os.ReadFile(filepath.Join("..", filepath.FromSlash(f)))
		if err != nil {
			t.Errorf("README.md quotes %s: %v", f, err)
			continue
		}
		lines := trimLines(string(src))
		for _, blk := range blocks[f] {
			if err := isExcerpt(lines, trimLines(blk)); err != nil {
				t.Errorf("README.md's block of %s: %v", f, err)
			}
		}
		all := strings.Join(blocks[f], "\n")
		for _, o := range objects.FindAllString(string(src), -1) {
			if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(strings.TrimRight(o, " ")) + `\s*$`).MatchString(all) {
				t.Errorf("README.md does not show %q of %s", strings.TrimSpace(o), f)
			}
		}
	}
}

// nagiosDir is a temporary directory the nagios user can reach (t.TempDir's
// parent is root's only), removed at the end.
func nagiosDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "check-smtp-examples.")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// trimLines splits s into lines without trailing blanks, and drops the
// empty lines at the end.
func trimLines(s string) []string {
	l := strings.Split(s, "\n")
	for i := range l {
		l[i] = strings.TrimRight(l[i], " \t\r")
	}
	for len(l) > 0 && l[len(l)-1] == "" {
		l = l[:len(l)-1]
	}
	return l
}

// isExcerpt says where block stops being a run of lines of file.
func isExcerpt(file, block []string) error {
	if len(block) == 0 {
		return fmt.Errorf("empty")
	}
	best, bestAt := -1, 0
	for start := range file {
		n := 0
		for n < len(block) && start+n < len(file) && file[start+n] == block[n] {
			n++
		}
		if n == len(block) {
			return nil
		}
		if n > best {
			best, bestAt = n, start
		}
	}
	if best <= 0 {
		return fmt.Errorf("its first line %q is not in the file", block[0])
	}
	want := "(end of file)"
	if bestAt+best < len(file) {
		want = fmt.Sprintf("%q", file[bestAt+best])
	}
	return fmt.Errorf("line %d of the block %q differs from line %d of the file %s", best+1, block[best], bestAt+best+1, want)
}
