package output

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mackerelio/checkers"

	"github.com/check-smtp/check-smtp/lib/internal/report"
)

// mackerelName is the metric name rule of mackerel-agent's documentation.
var mackerelName = regexp.MustCompile(`^[-a-zA-Z0-9_.]+$`)

type mackerelLine struct {
	name  string
	value float64
	epoch int64
}

// checkMackerelLines parses the lines as mackerel-agent does (split on
// whitespace, three fields, the value a float) and checks each name.
func checkMackerelLines(t *testing.T, b []byte) []mackerelLine {
	t.Helper()
	if len(b) > 0 && !bytes.HasSuffix(b, []byte("\n")) {
		t.Errorf("output does not end in a newline")
	}
	var out []mackerelLine
	seen := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		parts := strings.Split(l, "\t")
		if len(parts) != 3 {
			t.Errorf("line %q: want name<TAB>value<TAB>epoch", l)
			continue
		}
		if !mackerelName.MatchString(parts[0]) || strings.Contains(parts[0], "..") || strings.HasPrefix(parts[0], ".") || strings.HasSuffix(parts[0], ".") {
			t.Errorf("metric name %q is not valid for Mackerel", parts[0])
		}
		if seen[parts[0]] {
			t.Errorf("metric %q twice", parts[0])
		}
		seen[parts[0]] = true
		v, err := strconv.ParseFloat(parts[1], 64)
		if err != nil {
			t.Errorf("value %q: %v", parts[1], err)
		}
		e, err := strconv.ParseInt(parts[2], 10, 64)
		if err != nil {
			t.Errorf("epoch %q: %v", parts[2], err)
		}
		out = append(out, mackerelLine{parts[0], v, e})
	}
	return out
}

func mackerelFacts(t *testing.T, b []byte) facts {
	t.Helper()
	var f facts
	success := -1.0
	for _, l := range checkMackerelLines(t, b) {
		switch {
		case l.name == "smtp.probe.success":
			success = l.value
		case l.name == "smtp.time.total":
		case strings.HasPrefix(l.name, "smtp.time."):
			f.steps = append(f.steps, strings.TrimPrefix(l.name, "smtp.time."))
		}
	}
	// The mackerel format carries success, not the state, nor the failed
	// step: a failed conversation's last timed step is the one it failed
	// at, as in the perfdata.
	f.status = map[float64]string{1: "OK", 0: "CRITICAL"}[success]
	if success == 0 && len(f.steps) > 0 {
		f.failedStep = f.steps[len(f.steps)-1]
	}
	return f
}

func TestMackerelAgreesWithStatus(t *testing.T) {
	for st, want := range map[checkers.Status]string{checkers.OK: "1", checkers.WARNING: "1", checkers.CRITICAL: "0", checkers.UNKNOWN: "0"} {
		r := singleReport()
		r.Status = st
		if !strings.Contains(string(Mackerel(r, "smtp", fixedNow)), "smtp.probe.success\t"+want+"\t") {
			t.Errorf("%v: probe.success is not %s", st, want)
		}
	}
}

func TestMackerelSingleServer(t *testing.T) {
	got := string(Mackerel(singleReport(), "smtp", fixedNow))
	want := `smtp.time.total	0.00591	1796203800
smtp.time.connect	0.00031	1796203800
smtp.time.banner	0.0002	1796203800
smtp.time.ehlo	0.0004	1796203800
smtp.time.starttls	0.0001	1796203800
smtp.time.tls	0.003	1796203800
smtp.time.auth	0.0015	1796203800
smtp.time.mail	0.0002	1796203800
smtp.time.rset	0.0001	1796203800
smtp.time.quit	0.0001	1796203800
smtp.cert.days_left	89	1796203800
smtp.probe.success	1	1796203800
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestMackerelDomain(t *testing.T) {
	r := exampleDomainReport()
	// A second target with the same MX and address gets a suffix, not a
	// duplicate name; a target without an address is keyed by its MX.
	r.Targets = append(r.Targets, r.Targets[0],
		report.Target{Host: "mx3.example.org", MX: "mx3.example.org", Status: checkers.CRITICAL})
	got := string(Mackerel(r, "mail.smtp", fixedNow))
	want := `mail.smtp.time.total	0.0142	1796203800
mail.smtp.cert.days_left	17	1796203800
mail.smtp.probe.success	1	1796203800
mail.smtp.mx.mx1_example_org_192_0_2_1.total	0.006	1796203800
mail.smtp.mx.mx1_example_org_192_0_2_1.cert_days	29	1796203800
mail.smtp.mx.mx1_example_org_2001_db8__1.total	0.0058	1796203800
mail.smtp.mx.mx1_example_org_2001_db8__1.cert_days	29	1796203800
mail.smtp.mx.mx2_example_org_198_51_100_7.total	0.006	1796203800
mail.smtp.mx.mx2_example_org_198_51_100_7.cert_days	17	1796203800
mail.smtp.mx.mx1_example_org_192_0_2_1_2.total	0.006	1796203800
mail.smtp.mx.mx1_example_org_192_0_2_1_2.cert_days	29	1796203800
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	checkMackerelLines(t, []byte(got))
	checkCoveredByGraphs(t, "mail.smtp", []byte(got))
	checkCoveredByGraphs(t, "smtp", Mackerel(singleReport(), "smtp", fixedNow))
}

func TestMackerelPrefix(t *testing.T) {
	for _, bad := range []string{"", ".smtp", "smtp.", "a..b", "smtp mx", "smtp/x", "smtp\t", "ü"} {
		if CheckMetricKeyPrefix(bad) == nil {
			t.Errorf("CheckMetricKeyPrefix(%q) accepted it", bad)
		}
		checkMackerelLines(t, Mackerel(singleReport(), bad, fixedNow))
	}
	for _, good := range []string{"smtp", "mail.smtp", "smtp-mx_1", "A.b-c.D_9"} {
		if err := CheckMetricKeyPrefix(good); err != nil {
			t.Errorf("CheckMetricKeyPrefix(%q): %v", good, err)
		}
		if got := cleanPrefix(good); got != good {
			t.Errorf("cleanPrefix(%q) = %q", good, got)
		}
	}
	if got := cleanPrefix("..a b..c"); got != "a_b.c" {
		t.Errorf("cleanPrefix = %q", got)
	}
}

func TestMackerelKey(t *testing.T) {
	for in, want := range map[[2]string]string{
		{"mx1.example.org", "192.0.2.1"}:   "mx1_example_org_192_0_2_1",
		{"mx1.example.org", "2001:db8::1"}: "mx1_example_org_2001_db8__1",
		{"mx-1.example.org", ""}:           "mx-1_example_org",
		{"xn--bcher-kva.example", "::1"}:   "xn--bcher-kva_example___1",
		{"mx|\n.example", "fe80::1%eth0"}:  "mx___example_fe80__1_eth0",
	} {
		if got := mxKey(in[0], in[1]); got != want {
			t.Errorf("mxKey(%q, %q) = %q, want %q", in[0], in[1], got, want)
		}
	}
}

// pluginMetaForTest mirrors mackerel-agent's pluginMeta (metrics/plugin.go),
// decoded the way it decodes it.
type pluginMetaForTest struct {
	Graphs map[string]struct {
		Label   string
		Unit    string
		Metrics []struct {
			Name    string
			Label   string
			Stacked bool
		}
	}
}

func readMeta(t *testing.T, b []byte) pluginMetaForTest {
	t.Helper()
	br := bufio.NewReader(bytes.NewReader(b))
	head, err := br.ReadString('\n')
	if err != nil || !regexp.MustCompile(`^#\s*mackerel-agent-plugin\b`).MatchString(head) {
		t.Fatalf("first line %q, want # mackerel-agent-plugin", head)
	}
	var meta pluginMetaForTest
	if err := json.NewDecoder(br).Decode(&meta); err != nil {
		t.Fatalf("graph definitions do not decode: %v", err)
	}
	return meta
}

func TestMackerelMeta(t *testing.T) {
	meta := readMeta(t, MackerelMeta("smtp"))
	units := map[string]bool{"float": true, "integer": true, "percentage": true, "seconds": true, "milliseconds": true,
		"bytes": true, "bytes/sec": true, "bits/sec": true, "iops": true}
	graphName := regexp.MustCompile(`^([-a-zA-Z0-9_]+|[*#])(\.([-a-zA-Z0-9_]+|[*#]))*$`)
	for name, g := range meta.Graphs {
		if !graphName.MatchString(name) || strings.Count(name, "#") > 1 {
			t.Errorf("graph name %q", name)
		}
		if !units[g.Unit] || g.Label == "" || len(g.Metrics) == 0 {
			t.Errorf("graph %q: unit %q label %q, %d metrics", name, g.Unit, g.Label, len(g.Metrics))
		}
		for _, m := range g.Metrics {
			if !regexp.MustCompile(`^([-a-zA-Z0-9_]+|[*#])$`).MatchString(m.Name) {
				t.Errorf("graph %q: metric name %q", name, m.Name)
			}
		}
	}
	if g, ok := meta.Graphs["smtp.mx.#"]; !ok || len(g.Metrics) != 2 {
		t.Errorf("no smtp.mx.# graph grouping the per-address metrics: %v", meta.Graphs)
	}
	if _, ok := meta.Graphs["mail.smtp.time"]; !ok {
		if _, ok := readMeta(t, MackerelMeta("mail.smtp")).Graphs["mail.smtp.time"]; !ok {
			t.Errorf("the prefix does not name the graphs")
		}
	}
	readMeta(t, MackerelMeta("bad prefix|\n"))
}

// checkCoveredByGraphs: every metric the values run posts belongs to a
// graph definition (the "#" and "*" wildcards match one name part), so no
// metric lands on an automatic graph.
func checkCoveredByGraphs(t *testing.T, prefix string, values []byte) {
	t.Helper()
	meta := readMeta(t, MackerelMeta(prefix))
	var pats []*regexp.Regexp
	for name, g := range meta.Graphs {
		for _, m := range g.Metrics {
			p := regexp.QuoteMeta(name + "." + m.Name)
			p = strings.NewReplacer(`\*`, `[-a-zA-Z0-9_]+`, `#`, `[-a-zA-Z0-9_]+`).Replace(p)
			pats = append(pats, regexp.MustCompile("^"+p+"$"))
		}
	}
	for _, l := range checkMackerelLines(t, values) {
		covered := false
		for _, p := range pats {
			if p.MatchString(l.name) {
				covered = true
			}
		}
		if !covered {
			t.Errorf("metric %s has no graph definition", l.name)
		}
	}
}

// TestMackerelFixtures writes what the integration test feeds to
// mackerel-agent's metric-plugin code (integration/mackerel_metrics_test.go):
// the values of a single-server and a domain run and the graph
// definitions. They must be what the renderer emits; UPDATE_GOLDEN=1
// rewrites them. The epoch in the files is a placeholder the integration
// test replaces with the current time (the agent drops stale values).
func TestMackerelFixtures(t *testing.T) {
	const epoch = 1796203800 // fixedNow
	files := map[string][]byte{
		"mackerel-single.txt": Mackerel(singleReport(), "smtp", fixedNow),
		"mackerel-domain.txt": Mackerel(exampleDomainReport(), "smtp", fixedNow),
		"mackerel-meta.txt":   MackerelMeta("smtp"),
	}
	if fixedNow.Unix() != epoch {
		t.Fatalf("fixedNow is %d", fixedNow.Unix())
	}
	for name, got := range files {
		path := filepath.Join("testdata", name)
		if os.Getenv("UPDATE_GOLDEN") == "1" {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what the renderer emits (UPDATE_GOLDEN=1 to rewrite):\n%s", path, got)
		}
	}
}

func TestMackerelEpoch(t *testing.T) {
	now := time.Unix(1800000000, 999999999)
	for _, l := range checkMackerelLines(t, Mackerel(exampleDomainReport(), "smtp", now)) {
		if l.epoch != 1800000000 {
			t.Errorf("%s epoch %d", l.name, l.epoch)
		}
	}
}

func BenchmarkMackerel(b *testing.B) {
	r := exampleDomainReport()
	for b.Loop() {
		Mackerel(r, "smtp", fixedNow)
	}
}
