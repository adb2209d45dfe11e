package output

import (
	"bytes"
	"errors"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/mackerelio/checkers"

	"github.com/check-smtp/check-smtp/lib/internal/report"
)

// parseProm reads the exposition with Prometheus' own text parser, with the
// legacy (strictest) name rules, and checks that every family has HELP and
// is a gauge, and that nothing carries a timestamp.
func parseProm(t *testing.T, b []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("expfmt cannot parse the exposition: %v\n%s", err, b)
	}
	for name, mf := range fams {
		if mf.Help == nil || mf.GetHelp() == "" {
			t.Errorf("%s has no HELP", name)
		}
		if mf.GetType() != dto.MetricType_GAUGE {
			t.Errorf("%s is %v, want GAUGE (a TYPE line)", name, mf.GetType())
		}
		if !strings.HasPrefix(name, "smtp_") {
			t.Errorf("%s is not named smtp_*", name)
		}
		for _, m := range mf.Metric {
			if m.TimestampMs != nil {
				t.Errorf("%s has a timestamp: the textfile collector refuses those", name)
			}
		}
	}
	// Every TYPE line comes after its HELP line, once per family.
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "# TYPE ") && !bytes.Contains(b, []byte("# HELP "+strings.Fields(l)[2]+" ")) {
			t.Errorf("no HELP for %q", l)
		}
	}
	return fams
}

func labelMap(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, lp := range m.Label {
		out[lp.GetName()] = lp.GetValue()
	}
	return out
}

// sampleValue is the value of the one sample of name whose labels include
// want; the test fails if there is not exactly one.
func sampleValue(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	var found []float64
	for _, m := range fams[name].GetMetric() {
		ls := labelMap(m)
		match := true
		for k, v := range want {
			if ls[k] != v {
				match = false
			}
		}
		if match {
			found = append(found, m.GetGauge().GetValue())
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d samples of %s%v, want 1", len(found), name, want)
	}
	return found[0]
}

func promFacts(t *testing.T, b []byte) facts {
	t.Helper()
	checkPromtool(t, b)
	fams := parseProm(t, b)
	status := sampleValue(t, fams, "smtp_probe_status", nil)
	f := facts{status: checkers.Status(int(status)).String()}
	if ok := sampleValue(t, fams, "smtp_probe_success", nil); ok != bool01(status <= 1) {
		t.Errorf("smtp_probe_success %v with smtp_probe_status %v", ok, status)
	}
	// The exposition keeps the order of the text; expfmt keeps it too.
	for _, m := range fams["smtp_step_duration_seconds"].GetMetric() {
		f.steps = append(f.steps, labelMap(m)["step"])
		if labelMap(m)["target"] == "" {
			t.Errorf("step sample without target label: %v", labelMap(m))
		}
	}
	if fs := fams["smtp_failed_step_info"].GetMetric(); len(fs) == 1 {
		f.failedStep = labelMap(fs[0])["step"]
	} else if len(fs) > 1 {
		t.Errorf("%d smtp_failed_step_info samples", len(fs))
	}
	return f
}

// checkPromtool runs `promtool check metrics` (its linter) on the
// exposition when promtool is installed (Debian package prometheus).
func checkPromtool(t *testing.T, b []byte) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Log("promtool not on PATH (Debian package prometheus): `promtool check metrics` skipped")
		return
	}
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = bytes.NewReader(b)
	out, err := cmd.CombinedOutput()
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("running promtool: %v", err)
		}
		t.Errorf("promtool check metrics: %v\n%s\non:\n%s", err, out, b)
	}
	if len(bytes.TrimSpace(out)) != 0 {
		t.Errorf("promtool check metrics found: %s", out)
	}
}

// TestPromtoolPresent makes the skip visible in the test list.
func TestPromtoolPresent(t *testing.T) {
	if _, err := exec.LookPath("promtool"); err != nil {
		t.Skip("promtool not on PATH (install the Debian package prometheus): the exposition is checked with expfmt only")
	}
}

func TestPrometheusSingleServer(t *testing.T) {
	r := singleReport()
	b := Prometheus(r)
	checkPromtool(t, b)
	fams := parseProm(t, b)
	target := map[string]string{"target": "mail¦\"ex\\ample\".com:587"}
	for name, want := range map[string]float64{
		"smtp_probe_success":                               1,
		"smtp_probe_status":                                0,
		"smtp_probe_duration_seconds":                      0.00591,
		"smtp_starttls_offered":                            1,
		"smtp_tls_cert_verified":                           1,
		"smtp_tls_cert_expiry_timestamp_seconds":           float64(fixedNow.Add(89*24*time.Hour + time.Hour).Unix()),
		"smtp_tls_chain_earliest_expiry_timestamp_seconds": float64(fixedNow.Add(89*24*time.Hour + time.Hour).Unix()),
	} {
		if got := sampleValue(t, fams, name, target); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if got := sampleValue(t, fams, "smtp_step_reply_code", map[string]string{"step": "auth"}); got != 235 {
		t.Errorf("auth reply code %v", got)
	}
	if got := sampleValue(t, fams, "smtp_tls_version_info", map[string]string{"version": "TLS 1.3"}); got != 1 {
		t.Errorf("tls version info %v", got)
	}
	for _, absent := range []string{"smtp_failed_step_info", "smtp_dane_state", "smtp_mta_sts_mode_info", "smtp_mta_sts_mx_covered", "smtp_tlsrpt_record"} {
		if _, ok := fams[absent]; ok {
			t.Errorf("%s present in a single-server OK run without DANE", absent)
		}
	}
	// Every sample carries exactly the target label (and its own).
	for name, mf := range fams {
		for _, m := range mf.Metric {
			ls := labelMap(m)
			if ls["target"] == "" || ls["domain"] != "" || ls["mx"] != "" {
				t.Errorf("%s labels %v", name, ls)
			}
		}
	}
	if bytes.Contains(b, []byte("ESMTP")) || bytes.Contains(b, []byte("Authentication")) {
		t.Errorf("reply text in the exposition:\n%s", b)
	}
	checkNoSecrets(t, r)
}

func TestPrometheusDomain(t *testing.T) {
	r := exampleDomainReport()
	b := Prometheus(r)
	checkPromtool(t, b)
	fams := parseProm(t, b)
	dom := map[string]string{"domain": "example.org", "mx": "", "address": ""}
	a1 := map[string]string{"domain": "example.org", "mx": "mx1.example.org", "address": "192.0.2.1"}
	a2 := map[string]string{"domain": "example.org", "mx": "mx1.example.org", "address": "2001:db8::1"}
	a3 := map[string]string{"domain": "example.org", "mx": "mx2.example.org", "address": "198.51.100.7"}
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"smtp_probe_success", dom, 1}, // WARNING: mail is delivered
		{"smtp_probe_status", dom, 1},
		{"smtp_probe_duration_seconds", dom, 0.0142},
		{"smtp_probe_success", a1, 1},
		{"smtp_probe_success", a2, 0},
		{"smtp_probe_status", a2, 2},
		{"smtp_probe_success", a3, 1},
		{"smtp_failed_step_info", with3(a2, "step", "rcpt"), 1},
		{"smtp_step_reply_code", with3(a2, "step", "rcpt"), 550},
		{"smtp_tls_cert_verified", a1, 1},
		{"smtp_tls_cert_verified", a3, 0},
		{"smtp_tls_chain_earliest_expiry_timestamp_seconds", a1, float64(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC).Unix())},
		{"smtp_tls_chain_earliest_expiry_timestamp_seconds", a3, float64(time.Date(2026, 12, 20, 0, 0, 0, 0, time.UTC).Unix())},
		{"smtp_dane_state", with3(a1, "state", "match"), 1},
		{"smtp_dane_state", with3(a1, "state", "mismatch"), 0},
		{"smtp_dane_state", with3(a3, "state", "insecure"), 1},
		{"smtp_dane_state", with3(a3, "state", "match"), 0},
		{"smtp_mta_sts_mode_info", map[string]string{"domain": "example.org", "mode": "testing"}, 1},
		{"smtp_mta_sts_mx_covered", a1, 1},
		{"smtp_mta_sts_mx_covered", a3, 0},
		{"smtp_tlsrpt_record", dom, 1},
		{"smtp_starttls_offered", a1, 1},
	}
	for _, c := range checks {
		if got := sampleValue(t, fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// One-hot: every address with DANE facts has exactly one state at 1,
	// over the five SPEC states and "unusable".
	perAddr := map[string][]string{}
	for _, m := range fams["smtp_dane_state"].Metric {
		ls := labelMap(m)
		key := ls["mx"] + " " + ls["address"]
		perAddr[key] = append(perAddr[key], ls["state"])
		if m.GetGauge().GetValue() == 1 {
			perAddr[key+" ones"] = append(perAddr[key+" ones"], ls["state"])
		}
	}
	for _, k := range []string{"mx1.example.org 192.0.2.1", "mx1.example.org 2001:db8::1", "mx2.example.org 198.51.100.7"} {
		got := perAddr[k]
		sort.Strings(got)
		if strings.Join(got, ",") != "error,insecure,match,mismatch,none,unusable" {
			t.Errorf("%s: dane states %v", k, got)
		}
		if len(perAddr[k+" ones"]) != 1 {
			t.Errorf("%s: %d states at 1", k, len(perAddr[k+" ones"]))
		}
	}
	// Every family's samples are together (the format requires it; expfmt
	// would have refused a second block) and no sample uses "target".
	for name, mf := range fams {
		for _, m := range mf.Metric {
			if _, ok := labelMap(m)["target"]; ok {
				t.Errorf("%s: target label in domain mode", name)
			}
		}
	}
}

func with3(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for a, b := range m {
		out[a] = b
	}
	return out
}

// TestPrometheusNoPolicy: without an MTA-STS policy there is no mode
// sample; without a TLSRPT record the record metric is 0; a target whose
// MX has no address has state samples only.
func TestPrometheusNoPolicy(t *testing.T) {
	r := exampleDomainReport()
	r.Domain.MTASTS = &report.MTASTS{Error: "no MTA-STS TXT record"}
	r.Domain.TLSRPT = &report.TLSRPT{Error: "two TLSRPT records"}
	r.Targets = append(r.Targets, report.Target{Host: "mx3.example.org", MX: "mx3.example.org", Port: 25, Status: checkers.CRITICAL})
	fams := parseProm(t, Prometheus(r))
	if _, ok := fams["smtp_mta_sts_mode_info"]; ok {
		t.Errorf("mode info without a policy")
	}
	if got := sampleValue(t, fams, "smtp_tlsrpt_record", map[string]string{"domain": "example.org"}); got != 0 {
		t.Errorf("smtp_tlsrpt_record %v with a malformed record", got)
	}
	a4 := map[string]string{"mx": "mx3.example.org"}
	if got := sampleValue(t, fams, "smtp_probe_success", a4); got != 0 {
		t.Errorf("success %v for an MX without address", got)
	}
	for _, m := range fams["smtp_step_duration_seconds"].Metric {
		if labelMap(m)["mx"] == "mx3.example.org" {
			t.Errorf("steps for a target that had no conversation")
		}
	}
}

// TestPrometheusDuplicateTargets: two targets with the same labels would
// make a duplicate series, which node_exporter refuses for the whole file.
func TestPrometheusDuplicateTargets(t *testing.T) {
	r := exampleDomainReport()
	r.Targets = append(r.Targets, r.Targets[0])
	b := Prometheus(r)
	fams := parseProm(t, b)
	seen := map[string]bool{}
	for name, mf := range fams {
		for _, m := range mf.Metric {
			k := name + m.String()
			if seen[k] {
				t.Errorf("duplicate series %s %v", name, labelMap(m))
			}
			seen[k] = true
		}
	}
	checkPromtool(t, b)
}

func TestPrometheusLabelEscaping(t *testing.T) {
	for in, want := range map[string]string{
		`plain`:      `plain`,
		`a"b`:        `a\"b`,
		`back\slash`: `back\\slash`,
		"new\nline":  `new\nline`,
		"\\\"\n":     `\\\"\n`,
	} {
		if got := escapeLabelValue(in); got != want {
			t.Errorf("escapeLabelValue(%q) = %q, want %q", in, got, want)
		}
	}
	r := singleReport()
	r.Targets[0].Result.Target.Host = "a\"b\\c|d\ne\x01f"
	fams := parseProm(t, Prometheus(r))
	got := labelMap(fams["smtp_probe_success"].Metric[0])["target"]
	if want := "a\"b\\c¦def:587"; got != want {
		t.Errorf("target label read back %q, want %q", got, want)
	}
}

func TestPrometheusValues(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 1: "1", 550: "550", 1798761600: "1798761600", 0.00031: "0.00031", -3: "-3", 1e-7: "1e-07"} {
		if got := promValue(v); got != want {
			t.Errorf("promValue(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestPrometheusError(t *testing.T) {
	b := PrometheusError("--format: expected plugin, json, prometheus or mackerel\nnext line | here")
	if want := "# check-smtp: --format: expected plugin, json, prometheus or mackerelnext line ¦ here\n"; string(b) != want {
		t.Errorf("got %q, want %q", b, want)
	}
	if fams := parseProm(t, b); len(fams) != 0 {
		t.Errorf("samples in the error exposition: %v", fams)
	}
	checkPromtool(t, b)
}

func BenchmarkPrometheus(b *testing.B) {
	r := exampleDomainReport()
	for b.Loop() {
		Prometheus(r)
	}
}
