package integration

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mackerelio/mackerel-agent/config"
	"github.com/mackerelio/mackerel-agent/mackerel"
	"github.com/mackerelio/mackerel-agent/metrics"
)

// fixtureEpoch is the epoch in the renderer's fixture files (its tests'
// fixed clock); the test moves it to now, since the agent drops values
// more than 15 minutes away from its own clock with use_plugin_timestamp.
const fixtureEpoch = "1796203800"

// metricPluginScript answers the agent as check-smtp --format mackerel does:
// graph definitions when MACKEREL_AGENT_PLUGIN_META is set and not empty,
// the values otherwise.
const metricPluginScript = `if [ -n "$MACKEREL_AGENT_PLUGIN_META" ]; then exec cat "$2"; fi
exec cat "$1"
`

// recordScript runs the command after its first argument (a directory) and
// passes its stdout, stderr and exit code on, keeping a copy of each and of
// the MACKEREL_AGENT_PLUGIN_META the agent set, as meta.* for the graph
// definitions run and values.* for the values run.
const recordScript = `dir=$1; shift
kind=values; [ -n "$MACKEREL_AGENT_PLUGIN_META" ] && kind=meta
printf '%s' "${MACKEREL_AGENT_PLUGIN_META-unset}" >"$dir/$kind.env"
"$@" >"$dir/$kind.out" 2>"$dir/$kind.err"; rc=$?
echo "$rc" >"$dir/$kind.rc"
cat "$dir/$kind.out"; cat "$dir/$kind.err" >&2
exit "$rc"
`

type postedGraphDef struct {
	Name        string `json:"name"`
	DisplayName string `json:"displayName"`
	Unit        string `json:"unit"`
	Metrics     []struct {
		Name        string `json:"name"`
		DisplayName string `json:"displayName"`
	} `json:"metrics"`
}

// binaryMetricCase is a [plugin.metrics.*] entry that runs the real binary.
type binaryMetricCase struct {
	dns     bool     // needs dns.sh's stage
	server  string   // needs this server of servers.sh ("" for none)
	prefix  string   // --metric-key-prefix
	names   []string // every metric the run prints, without the prefix
	success float64  // <prefix>.probe.success
	// certDays are the metrics holding certificate days: the test
	// certificates are valid 825 days from servers.sh start.
	certDays []string
}

// mackerelKey is the <key> of <prefix>.mx.<key>.* (SPEC Part 4).
func mackerelKey(mx, address string) string {
	return regexp.MustCompile(`[^-a-zA-Z0-9_]`).ReplaceAllString(mx+"_"+address, "_")
}

func binaryMetricCases() map[string]binaryMetricCase {
	good1 := "mx." + mackerelKey("mx1.good.test", srv["DNS_ADDR_MX1_GOOD_TEST"])
	good2 := "mx." + mackerelKey("mx2.good.test", srv["DNS_ADDR_MX2_GOOD_TEST"])
	down1 := "mx." + mackerelKey("mx1.onedown.test", srv["DNS_ADDR_MX1_ONEDOWN_TEST"])
	down2 := "mx." + mackerelKey("mx2.onedown.test", srv["DNS_ADDR_MX2_ONEDOWN_TEST"])
	return map[string]binaryMetricCase{
		"smtp_binary_single": {server: "POSTFIX", prefix: "smtp", success: 1,
			names: []string{"time.total", "time.connect", "time.banner", "time.ehlo", "time.starttls", "time.tls",
				"time.mail", "time.rset", "time.quit", "cert.days_left", "probe.success"},
			certDays: []string{"cert.days_left"}},
		"smtp_binary_closed": {prefix: "smtp", success: 0,
			names: []string{"time.total", "time.connect", "probe.success"}},
		"smtp_binary_domain": {dns: true, prefix: "smtp", success: 1,
			names: []string{"time.total", "cert.days_left", "probe.success",
				good1 + ".total", good1 + ".cert_days", good2 + ".total", good2 + ".cert_days"},
			certDays: []string{"cert.days_left", good1 + ".cert_days", good2 + ".cert_days"}},
		// One address of two down: WARNING, so success stays 1; the down
		// address has a time and no certificate.
		"smtp_binary_domain_prefix": {dns: true, prefix: "mail", success: 1,
			names: []string{"time.total", "cert.days_left", "probe.success",
				down1 + ".total", down1 + ".cert_days", down2 + ".total"},
			certDays: []string{"cert.days_left", down1 + ".cert_days"}},
	}
}

// mackerelValueLine is one metric-plugin value line: name, value, epoch.
var mackerelValueLine = regexp.MustCompile(`^([-a-zA-Z0-9_.]+)\t(-?[0-9]+(?:\.[0-9]+)?(?:e[-+]?[0-9]+)?)\t([0-9]+)$`)

// TestMackerelMetricPlugin feeds check-smtp's mackerel output to
// mackerel-agent v0.87.0's own metric-plugin code: config.LoadConfig reads
// the [plugin.metrics.*] blocks of testdata/mackerel-metrics.conf,
// metrics.NewPluginGenerator runs them, Generate parses every value line
// (with use_plugin_timestamp, so the epoch is parsed and checked too) and
// PrepareGraphDefs reads the graph definitions, which
// mackerel.API.CreateGraphDefs then posts to a loopback stand-in of the
// Mackerel API that applies the API's naming rules. Every metric kept must
// belong to a posted graph definition. The entries run the renderer's
// fixtures and the real binary, single-server against Postfix and a closed
// port, and in domain mode against dns.sh's good.test and onedown.test.
func TestMackerelMetricPlugin(t *testing.T) {
	dir := t.TempDir()
	fixtures := filepath.Join("..", "lib", "internal", "output", "testdata")
	now := strconv.FormatInt(time.Now().Unix(), 10)
	files := map[string]string{}
	want := map[string]map[string]float64{} // plugin name -> metric -> value
	for key, name := range map[string]string{"SINGLE": "mackerel-single.txt", "DOMAIN": "mackerel-domain.txt", "META": "mackerel-meta.txt"} {
		b, err := os.ReadFile(filepath.Join(fixtures, name))
		if err != nil {
			t.Fatalf("the renderer's fixture: %v", err)
		}
		b = bytes.ReplaceAll(b, []byte("\t"+fixtureEpoch+"\n"), []byte("\t"+now+"\n"))
		files[key] = filepath.Join(dir, name)
		if err := os.WriteFile(files[key], b, 0o644); err != nil {
			t.Fatal(err)
		}
		if key != "META" {
			plugin := "smtp_" + strings.ToLower(key)
			want[plugin] = map[string]float64{}
			for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				f := strings.Split(l, "\t")
				v, _ := strconv.ParseFloat(f[1], 64)
				want[plugin]["custom."+f[0]] = v
			}
		}
	}
	script := filepath.Join(dir, "plugin.sh")
	record := filepath.Join(dir, "record.sh")
	for p, s := range map[string]string{script: metricPluginScript, record: recordScript} {
		if err := os.WriteFile(p, []byte(s), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	binCases := binaryMetricCases()
	replace := []string{"@SH@", "/bin/sh", "@PLUGIN@", script, "@RECORD@", record,
		"@SINGLE@", files["SINGLE"], "@DOMAIN@", files["DOMAIN"], "@META@", files["META"],
		"@BIN@", bin, "@CA@", srv["CA"], "@PORT_POSTFIX_SMTP@", srv["POSTFIX_SMTP"], "@PORT_CLOSED@", srv["CLOSED_PORT"],
		"@DNS_RESOLVER@", srv["DNS_RESOLVER"], "@DNS_CA@", srv["DNS_CA"]}
	recDirs := map[string]string{}
	for name := range binCases {
		recDirs[name] = filepath.Join(dir, name)
		mustMkdir(t, recDirs[name])
		replace = append(replace, "@REC_"+strings.ToUpper(strings.TrimPrefix(name, "smtp_"))+"@", recDirs[name])
	}
	tmpl, err := os.ReadFile(filepath.Join("testdata", "mackerel-metrics.conf"))
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.NewReplacer(replace...).Replace(string(tmpl))
	if m := regexp.MustCompile(`@[A-Z_]+@`).FindString(conf); m != "" {
		t.Fatalf("placeholder %s left in mackerel-metrics.conf", m)
	}
	confPath := filepath.Join(dir, "mackerel-agent.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadConfig(confPath)
	if err != nil {
		t.Fatalf("mackerel-agent could not load the config: %v", err)
	}
	if len(cfg.MetricPlugins) != len(want)+len(binCases) {
		t.Errorf("%d [plugin.metrics.*] entries, the test knows %d", len(cfg.MetricPlugins), len(want)+len(binCases))
	}
	api, posted := graphDefsStandIn(t)

	names := make([]string, 0, len(cfg.MetricPlugins))
	for name := range cfg.MetricPlugins {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			pc := cfg.MetricPlugins[name]
			bc, isBinary := binCases[name]
			if isBinary {
				if bc.dns {
					requireDNS(t)
				}
				requireServer(t, bc.server)
			} else if _, ok := want[name]; !ok {
				t.Fatalf("[plugin.metrics.%s] is not known to the test", name)
			}
			started := time.Now()
			g := metrics.NewPluginGenerator(pc)
			values, err := g.Generate()
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			if w, ok := want[name]; ok {
				if len(values) != len(w) {
					t.Errorf("the agent kept %d of %d lines: %v", len(values), len(w), values)
				}
				for metric, v := range w {
					got, ok := values[metric]
					if !ok {
						t.Errorf("the agent dropped %s", metric)
						continue
					}
					if got.Value != v || got.Time == nil || strconv.FormatInt(*got.Time, 10) != now {
						t.Errorf("%s: value %v time %v, want %v at %s", metric, got.Value, got.Time, v, now)
					}
				}
			}

			defs, err := g.PrepareGraphDefs()
			if err != nil {
				t.Fatalf("PrepareGraphDefs: %v", err)
			}
			if len(defs) == 0 {
				t.Fatal("no graph definitions")
			}
			if isBinary {
				checkBinaryMetrics(t, recDirs[name], bc, values, started)
			}
			if err := api.CreateGraphDefs(defs); err != nil {
				t.Fatalf("CreateGraphDefs refused by the stand-in: %v", err)
			}
			prefix := "custom.smtp."
			if isBinary {
				prefix = "custom." + bc.prefix + "."
			}
			var patterns []*regexp.Regexp
			for _, d := range posted() {
				if !strings.HasPrefix(d.Name, prefix) {
					t.Errorf("graph %s does not start with %s", d.Name, prefix)
				}
				for _, m := range d.Metrics {
					p := strings.NewReplacer(`\*`, `[-a-zA-Z0-9_]+`, `#`, `[-a-zA-Z0-9_]+`).Replace(regexp.QuoteMeta(m.Name))
					patterns = append(patterns, regexp.MustCompile("^"+p+"$"))
				}
			}
			for metric := range values {
				found := false
				for _, p := range patterns {
					found = found || p.MatchString(metric)
				}
				if !found {
					t.Errorf("%s belongs to no graph definition", metric)
				}
			}
		})
	}
}

// checkBinaryMetrics compares what the binary printed (kept by recordScript
// in dir) with what the agent made of it: every line kept, the exact set
// of metric names, plausible values, exit code 0 and empty stderr in both
// runs, and the graph definitions asked for with MACKEREL_AGENT_PLUGIN_META=1.
func checkBinaryMetrics(t *testing.T, dir string, c binaryMetricCase, values metrics.Values, started time.Time) {
	t.Helper()
	read := func(f string) string {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatalf("the agent did not run the command for %s: %v", f, err)
		}
		return string(b)
	}
	for _, kind := range []string{"values", "meta"} {
		if rc := strings.TrimSpace(read(kind + ".rc")); rc != "0" {
			t.Errorf("%s run: exit %s, want 0 (metrics written)\n%s", kind, rc, read(kind+".out"))
		}
		if e := read(kind + ".err"); e != "" {
			t.Errorf("%s run: stderr %q", kind, e)
		}
	}
	if env := read("values.env"); env != "" {
		t.Errorf("values run: MACKEREL_AGENT_PLUGIN_META=%q, the agent sets it empty", env)
	}
	if env := read("meta.env"); env != "1" {
		t.Errorf("meta run: MACKEREL_AGENT_PLUGIN_META=%q, want 1", env)
	}
	if first, _, _ := strings.Cut(read("meta.out"), "\n"); first != "# mackerel-agent-plugin" {
		t.Errorf("meta run: first line %q", first)
	}

	out := read("values.out")
	if !strings.HasSuffix(out, "\n") {
		t.Errorf("values run: stdout does not end with a newline: %q", out)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	printed := map[string]bool{}
	for _, l := range lines {
		m := mackerelValueLine.FindStringSubmatch(l)
		if m == nil {
			t.Errorf("not a metric-plugin line name<TAB>value<TAB>epoch: %q", l)
			continue
		}
		if printed[m[1]] {
			t.Errorf("%s printed twice", m[1])
		}
		printed[m[1]] = true
		epoch, _ := strconv.ParseInt(m[3], 10, 64)
		if epoch < started.Unix()-1 || epoch > time.Now().Unix()+1 {
			t.Errorf("%s: epoch %d is not the time of the run (%d)", m[1], epoch, started.Unix())
		}
		v, _ := strconv.ParseFloat(m[2], 64)
		got, ok := values["custom."+m[1]]
		switch {
		case !ok:
			t.Errorf("the agent dropped %q", l)
		case got.Value != v || got.Time == nil || *got.Time != epoch:
			t.Errorf("the agent read %q as %v at %v", l, got.Value, got.Time)
		}
	}
	if len(values) != len(lines) {
		t.Errorf("the agent kept %d metrics of %d lines", len(values), len(lines))
	}
	wantNames := map[string]bool{}
	for _, n := range c.names {
		wantNames[c.prefix+"."+n] = true
		if !printed[c.prefix+"."+n] {
			t.Errorf("%s.%s not printed:\n%s", c.prefix, n, out)
		}
	}
	for n := range printed {
		if !wantNames[n] {
			t.Errorf("unexpected metric %s:\n%s", n, out)
		}
	}

	get := func(n string) float64 { return values["custom."+c.prefix+"."+n].Value }
	if v := get("probe.success"); v != c.success {
		t.Errorf("probe.success %v, want %v", v, c.success)
	}
	for _, n := range c.certDays {
		if v := get(n); v < 800 || v > 825 {
			t.Errorf("%s = %v, want the 825-day test certificate's days left", n, v)
		}
	}
	for n := range printed {
		if v := get(strings.TrimPrefix(n, c.prefix+".")); (strings.Contains(n, ".time.") || strings.HasSuffix(n, ".total")) && (v <= 0 || v > 20) {
			t.Errorf("%s = %v s, not a time within -t", n, v)
		}
	}
}

// graphDefsStandIn is a loopback Mackerel API for /api/v0/graph-defs/create
// that refuses what the real API refuses by its documented rules, and a
// function returning what was accepted by the latest post.
func graphDefsStandIn(t *testing.T) (*mackerel.API, func() []postedGraphDef) {
	t.Helper()
	var (
		mu   sync.Mutex
		last []postedGraphDef
	)
	srvAPI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v0/graph-defs/create" {
			http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusNotFound)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var defs []postedGraphDef
		if err := json.Unmarshal(body, &defs); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, d := range defs {
			if msg := checkGraphDef(d); msg != "" {
				http.Error(w, msg, http.StatusBadRequest)
				return
			}
		}
		mu.Lock()
		last = defs
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"success":true}`)
	}))
	t.Cleanup(srvAPI.Close)
	api, err := mackerel.NewAPI(srvAPI.URL, "dummy-api-key", false, true)
	if err != nil {
		t.Fatal(err)
	}
	return api, func() []postedGraphDef { mu.Lock(); defer mu.Unlock(); return last }
}

// checkGraphDef applies the Mackerel API's rules for graph definitions
// (api-docs "Post Graph Definitions"): names of dot-separated parts, "*" or
// "#" wildcards, "#" at most once, metric names inside their graph.
func checkGraphDef(d postedGraphDef) string {
	units := map[string]bool{"float": true, "integer": true, "percentage": true, "seconds": true,
		"milliseconds": true, "bytes": true, "bytes/sec": true, "bits/sec": true, "iops": true}
	switch {
	case !regexp.MustCompile(`^custom(\.([-a-zA-Z0-9_]+|[*#]))+$`).MatchString(d.Name) || strings.Count(d.Name, "#") > 1:
		return "bad graph name " + d.Name
	case !units[d.Unit]:
		return "bad unit " + d.Unit + " for " + d.Name
	case len(d.Metrics) == 0:
		return "no metrics in " + d.Name
	}
	for _, m := range d.Metrics {
		rest, ok := strings.CutPrefix(m.Name, d.Name+".")
		if !ok || !regexp.MustCompile(`^([-a-zA-Z0-9_]+|[*#])$`).MatchString(rest) {
			return "metric " + m.Name + " is not inside graph " + d.Name
		}
		if (rest == "*" || rest == "#") && !strings.Contains(d.Name, rest) {
			return "metric " + m.Name + " uses a wildcard its graph name lacks"
		}
	}
	return ""
}
