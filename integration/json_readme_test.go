package integration

import (
	"context"
	"encoding/json"
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
	"time"

	"github.com/mackerelio/mackerel-agent/config"
)

// The README's "## Metrics" section: its JSON example against what the
// binary emits, and its recipes against the tools that read them.

// jsonPaths is every key path of a JSON value with arrays collapsed
// ("targets[].steps[].reply.code"), each with its JSON type.
func jsonPaths(v any) map[string]string {
	out := map[string]string{}
	var walk func(v any, p string)
	walk = func(v any, p string) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				q := k
				if p != "" {
					q = p + "." + k
				}
				out[q] = jsonType(e)
				walk(e, q)
			}
		case []any:
			for _, e := range x {
				walk(e, p+"[]")
			}
		}
	}
	walk(v, "")
	return out
}

func jsonType(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	}
	return "null"
}

// readmeSection is the text of README.md's "## NAME" section.
func readmeSection(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "\n## "+name+"\n")
	if i < 0 {
		t.Fatalf("README.md has no ## %s section", name)
	}
	s = s[i+1:]
	if j := strings.Index(s[3:], "\n## "); j >= 0 {
		s = s[:j+3]
	}
	return s
}

// markedBlock is the fenced block right after <!-- marker --> in text.
func markedBlock(t *testing.T, text, marker string) string {
	t.Helper()
	m := regexp.MustCompile("(?s)<!-- " + regexp.QuoteMeta(marker) + " -->\\s*```[a-z]*\\n(.*?)```").FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("README.md: no fenced block after <!-- %s -->", marker)
	}
	return m[1]
}

// runJSON runs the binary with --format json and decodes its stdout,
// checking the exit code against the object's.
func runJSON(t *testing.T, args ...string) map[string]any {
	t.Helper()
	r := runCheck(t, nil, append([]string{"--format", "json"}, args...)...)
	var v map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, r)
	}
	if !strings.HasSuffix(r.stdout, "}\n") || strings.Count(r.stdout, "\n") != 1 || r.stderr != "" {
		t.Errorf("want one newline-terminated line and no stderr:\n%s", r)
	}
	if code, _ := v["exit_code"].(float64); int(code) != r.code || v["status"] != statusNames[r.code] || v["schema"] != float64(1) {
		t.Errorf("exit %d; schema %v, status %v, exit_code %v\n%s", r.code, v["schema"], v["status"], v["exit_code"], r)
	}
	return v
}

// TestReadmeJSONExample compares the README's JSON example (domain mode)
// with what check-smtp emits for comparable runs on dns.sh's stage: the
// union of the key paths of -M good.test (two MX, MTA-STS enforce, TLSRPT)
// and -M dane-ok.test (DANE match) must be the example's, with the same
// JSON types, except for the fields that appear only in other situations
// (optionalJSONFields): each of those is shown to be emitted in its
// situation, and no run emits a field the example and that list lack.
// Single-server mode emits a subset, lacking only the domain fields.
func TestReadmeJSONExample(t *testing.T) {
	section := readmeSection(t, "Metrics")
	var example any
	if err := json.Unmarshal([]byte(markedBlock(t, section, "json-example: domain mode")), &example); err != nil {
		t.Fatalf("the README's JSON example does not parse: %v", err)
	}
	readme := jsonPaths(example)

	t.Run("bad-options", func(t *testing.T) {
		v := runJSON(t, "-s", "-S")
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range v {
				if !yield(k) {
					return
				}
			}
		})
		if want := []string{"exit_code", "message", "schema", "status"}; !slices.Equal(keys, want) || v["status"] != "UNKNOWN" {
			t.Errorf("bad options: keys %v (want %v), status %v", keys, want, v["status"])
		}
	})

	t.Run("single-server", func(t *testing.T) {
		requireServer(t, "POSTFIX")
		// The 20-day certificate under -D 30,10: a WARNING finding, so the
		// findings arrays are not empty.
		single := jsonPaths(runJSON(t, "-H", "127.0.0.1", "-p", srv["POSTFIX_SOON"], "-S", "--cafile", srv["CA"], "-D", "30,10"))
		domainOnly := regexp.MustCompile(`^(domain|mx|mta_sts|tlsrpt|targets\[\]\.(mx|preference|dane|mta_sts_covered))(\.|\[|$)`)
		for p := range single {
			if _, ok := readme[p]; !ok && optionalJSONFields()[p].domain == "" {
				t.Errorf("single-server mode emits %s, which the README example and the optional fields lack", p)
			}
		}
		for p := range readme {
			if _, ok := single[p]; !ok && !domainOnly.MatchString(p) {
				t.Errorf("single-server mode does not emit %s, and it is not a domain field", p)
			}
		}
	})

	requireDNS(t)
	dnsArgs := []string{"--dns-server", srv["DNS_RESOLVER"], "--cafile", srv["DNS_CA"], "-t", "20"}
	emitted := map[string]string{}
	source := map[string]string{}
	for _, d := range []string{"good.test", "dane-ok.test"} {
		for p, typ := range jsonPaths(runJSON(t, append([]string{"-M", d}, dnsArgs...)...)) {
			emitted[p] = typ
			source[p] = d
		}
	}
	optional := optionalJSONFields()
	for p, typ := range emitted {
		rt, ok := readme[p]
		switch {
		case !ok && optional[p].domain == "":
			t.Errorf("the README example lacks %s (-M %s emits it)", p, source[p])
		case ok && rt != typ:
			t.Errorf("%s: a %s in the README example, a %s from -M %s", p, rt, typ, source[p])
		}
	}
	for p := range readme {
		if _, ok := emitted[p]; !ok && optional[p].domain == "" {
			t.Errorf("the README example has %s, which -M good.test and -M dane-ok.test do not emit", p)
		}
	}
	names := make([]string, 0, len(optional))
	for p := range optional {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		o := optional[p]
		t.Run(p, func(t *testing.T) {
			got := jsonPaths(runJSON(t, append(append([]string{"-M", o.domain}, dnsArgs...), o.extra...)...))
			if _, ok := got[p]; !ok {
				t.Errorf("-M %s %s does not emit %s", o.domain, strings.Join(o.extra, " "), p)
			}
			for q := range got {
				if _, ok := readme[q]; !ok && optional[q].domain == "" {
					t.Errorf("-M %s emits %s, which the README example and the optional fields lack", o.domain, q)
				}
			}
		})
	}
}

// optionalJSONFields are the fields the README names in prose rather than
// in its example, each with a run of the stage that emits it.
func optionalJSONFields() map[string]struct {
	domain string
	extra  []string
} {
	type run = struct {
		domain string
		extra  []string
	}
	return map[string]run{
		"targets[].failed_step":      {"onedown.test", nil},   // mx2 refuses the connection
		"targets[].tls.verify_error": {"wrongname.test", nil}, // a certificate for another name
		"mta_sts.error":              {"onedown.test", nil},   // no MTA-STS record
		"tlsrpt.error":               {"tlsrpt-bad.test", nil},
		"targets[].transcript":       {"good.test", []string{"-v"}},
	}
}

// TestReadmeMetricsRecipes checks the README's Metrics recipes: every
// check-smtp command line there uses only check-smtp options and writes
// its textfile into node_exporter's Debian textfile directory under a name
// with "smtp" in it (the stale-textfile alert relies on that); the cron,
// systemd, Nagios and mackerel-agent variants are all there; the systemd
// units pass `systemd-analyze verify`, the Nagios objects `nagios4 -v`,
// the mackerel-agent entries its config.LoadConfig, and the Prometheus
// configuration `promtool check config` with the example rules.
func TestReadmeMetricsRecipes(t *testing.T) {
	section := readmeSection(t, "Metrics")
	known := knownOptions(t)
	formats := map[string]bool{"plugin": true, "json": true, "prometheus": true, "mackerel": true}
	const textDir = "/var/lib/prometheus/node-exporter"
	var argvs [][]string
	kinds := map[string]int{}
	blocks := regexp.MustCompile("(?s)```[a-z]*\\n(.*?)```").FindAllStringSubmatch(section, -1)
	for _, b := range blocks {
		for _, line := range strings.Split(b[1], "\n") {
			var argv []string
			switch {
			case strings.HasPrefix(line, "command = ["):
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "command = ")), &argv); err != nil {
					t.Errorf("%q: %v", line, err)
					continue
				}
				kinds["mackerel-agent"]++
			default:
				words := strings.Fields(line)
				i := slices.IndexFunc(words, func(w string) bool {
					return strings.HasSuffix(w, "/check-smtp") || w == "check-smtp"
				})
				if i < 0 {
					continue
				}
				switch {
				case strings.HasPrefix(line, "* * * * * "):
					kinds["cron"]++
				case strings.HasPrefix(words[0], "ExecStart="):
					kinds["systemd"]++
				case words[0] == "command_line":
					kinds["nagios"]++
				}
				argv = words[i:]
				if j := slices.IndexFunc(argv, func(w string) bool { return strings.HasPrefix(w, ">") || w == "|" }); j >= 0 {
					argv = argv[:j]
				}
				argv[0] = strings.TrimPrefix(argv[0], "ExecStart=")
			}
			if filepath.Base(argv[0]) != "check-smtp" {
				t.Errorf("%q does not run check-smtp", line)
				continue
			}
			argvs = append(argvs, argv)
		}
	}
	for _, k := range []string{"cron", "systemd", "nagios", "mackerel-agent"} {
		if kinds[k] == 0 {
			t.Errorf("the Metrics section has no %s command line", k)
		}
	}
	textfiles := 0
	for _, argv := range argvs {
		for i, w := range argv[1:] {
			if o := optionName(w); o != "" && !known[o] {
				t.Errorf("%s is not a check-smtp option: %q", o, argv)
			}
			next := ""
			if i+2 < len(argv) {
				next = argv[i+2]
			}
			switch w {
			case "--format":
				if !formats[next] {
					t.Errorf("--format %s: %q", next, argv)
				}
			case "--prometheus-textfile":
				textfiles++
				if filepath.Dir(next) != textDir || !strings.Contains(filepath.Base(next), "smtp") || !strings.HasSuffix(next, ".prom") {
					t.Errorf("textfile %s: want %s/<name with smtp>.prom", next, textDir)
				}
			}
		}
	}
	if textfiles < 4 {
		t.Errorf("%d command lines write a textfile, want the cron, systemd, Nagios and mackerel-agent ones", textfiles)
	}
	for _, m := range []string{"examples/mackerel-agent.conf", "examples/prometheus/check-smtp.rules.yml"} {
		if !strings.Contains(section, "<!-- "+m+" -->") {
			t.Errorf("the Metrics section does not quote %s (TestExamplesReadme compares the quote)", m)
		}
	}

	dir := t.TempDir()
	t.Run("systemd-analyze", func(t *testing.T) {
		sa, err := exec.LookPath("systemd-analyze")
		if err != nil {
			t.Skipf("!!! SKIPPED: no systemd-analyze here (Debian package systemd): the units are not verified !!!")
		}
		var units []string
		for _, u := range []string{"check-smtp-textfile.service", "check-smtp-textfile.timer"} {
			text := markedBlock(t, section, "systemd: "+u)
			// The binary under test stands in for /usr/local/bin/check-smtp,
			// which systemd-analyze wants to exist.
			text = strings.ReplaceAll(text, "/usr/local/bin/check-smtp", bin)
			writeFile(t, filepath.Join(dir, u), text, 0o644)
			units = append(units, filepath.Join(dir, u))
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, sa, append([]string{"verify", "--man=no"}, units...)...).CombinedOutput()
		if err != nil || len(strings.TrimSpace(string(out))) > 0 {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
	})
	t.Run("nagios4-v", func(t *testing.T) {
		if _, err := os.Stat(nagiosBin); err != nil {
			t.Fatalf("%v (servers.sh installs nagios4-core)", err)
		}
		nagUser, err := user.Lookup("nagios")
		if err != nil {
			t.Fatalf("user nagios: %v", err)
		}
		uid, _ := strconv.Atoi(nagUser.Uid)
		gid, _ := strconv.Atoi(nagUser.Gid)
		nd := nagiosDir(t)
		writeFile(t, filepath.Join(nd, "support.cfg"), nagiosExampleSupport, 0o644)
		writeFile(t, filepath.Join(nd, "textfile.cfg"), markedBlock(t, section, "nagios: textfile"), 0o644)
		writeFile(t, filepath.Join(nd, "resource.cfg"), "$USER1$=/usr/lib/nagios/plugins\n", 0o600)
		main := strings.ReplaceAll(nagiosMain, "cfg_file={{DIR}}/objects.cfg\n",
			"cfg_file={{DIR}}/support.cfg\ncfg_file={{DIR}}/textfile.cfg\n")
		writeFile(t, filepath.Join(nd, "nagios.cfg"), strings.ReplaceAll(main, "{{DIR}}", nd), 0o644)
		mustMkdir(t, filepath.Join(nd, "checkresults"))
		if err := filepath.Walk(nd, func(p string, _ os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, uid, gid)
		}); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(nagiosBin, "-v", filepath.Join(nd, "nagios.cfg")).CombinedOutput()
		for _, w := range []string{"Total Warnings: 0", "Total Errors:   0", "Checked 1 services.", "Checked 2 commands."} {
			if err != nil || !strings.Contains(string(out), w) {
				t.Fatalf("nagios4 -v on the README's textfile command and service (%q): %v\n%s", w, err, out)
			}
		}
	})
	t.Run("mackerel-agent-config", func(t *testing.T) {
		for _, m := range []string{"mackerel-agent: textfile", "mackerel-agent: domain"} {
			p := filepath.Join(dir, strings.ReplaceAll(m, ": ", "-")+".conf")
			writeFile(t, p, markedBlock(t, section, m), 0o644)
			conf, err := config.LoadConfig(p)
			if err != nil {
				t.Errorf("%s: mackerel-agent could not load it: %v", m, err)
				continue
			}
			if len(conf.MetricPlugins) != 1 || len(conf.CheckPlugins) != 0 {
				t.Errorf("%s: %d metric and %d check plugins, want one metric plugin", m, len(conf.MetricPlugins), len(conf.CheckPlugins))
			}
			for n, mp := range conf.MetricPlugins {
				if i := slices.Index(mp.Command.Args, "--format"); i < 0 || i+1 >= len(mp.Command.Args) || mp.Command.Args[i+1] != "mackerel" {
					t.Errorf("%s: plugin.metrics.%s lacks --format mackerel: %q", m, n, mp.Command.Args)
				}
				if mp.Command.TimeoutDuration <= 20*time.Second {
					t.Errorf("%s: timeout %v, want above the -t of the check", m, mp.Command.TimeoutDuration)
				}
			}
		}
	})
	t.Run("promtool-check-config", func(t *testing.T) {
		promtool, err := exec.LookPath("promtool")
		if err != nil {
			t.Fatalf("promtool: %v (servers.sh installs the Debian package prometheus)", err)
		}
		copyFile(t, filepath.Join(examplesDir, "prometheus", "check-smtp.rules.yml"), filepath.Join(dir, "check-smtp.rules.yml"), 0o644)
		writeFile(t, filepath.Join(dir, "prometheus.yml"), markedBlock(t, section, "prometheus-config"), 0o644)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, promtool, "check", "config", filepath.Join(dir, "prometheus.yml")).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "SUCCESS: 1 rule files found") {
			t.Errorf("promtool check config: %v\n%s", err, out)
		}
	})
}
