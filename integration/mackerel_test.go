package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/mackerelio/mackerel-agent/checks"
	"github.com/mackerelio/mackerel-agent/config"
	"github.com/mackerelio/mackerel-agent/mackerel"
)

// mackerelConf fills testdata/mackerel-agent.conf with this run's paths and ports.
func mackerelConf(t *testing.T) string {
	t.Helper()
	tmpl, err := os.ReadFile(filepath.Join("testdata", "mackerel-agent.conf"))
	if err != nil {
		t.Fatal(err)
	}
	r := strings.NewReplacer(
		"@BIN@", bin,
		"@CA@", srv["CA"],
		"@USER@", srv["USER"],
		"@PASS@", srv["PASS"],
		"@LMTP_SOCKET@", srv["LMTP_SOCKET"],
		"@PORT_POSTFIX_SMTP@", srv["POSTFIX_SMTP"],
		"@PORT_POSTFIX_SUBMISSION@", srv["POSTFIX_SUBMISSION"],
		"@PORT_POSTFIX_SOON@", srv["POSTFIX_SOON"],
		"@PORT_CLOSED@", srv["CLOSED_PORT"],
	)
	conf := r.Replace(string(tmpl))
	if strings.Contains(conf, "@") && regexp.MustCompile(`@[A-Z_]+@`).MatchString(conf) {
		t.Fatalf("placeholder left in mackerel-agent.conf: %s", regexp.MustCompile(`@[A-Z_]+@`).FindString(conf))
	}
	path := filepath.Join(t.TempDir(), "mackerel-agent.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestMackerelAgent runs the [plugin.checks.*] blocks through mackerel-agent's
// own code: config.LoadConfig, checks.Checker.Check (which runs the command
// and maps its exit code) and mackerel.API.ReportCheckMonitors (which cuts the
// message to 1024 characters and posts it), against a loopback stand-in of the
// Mackerel API that records the posted reports.
func TestMackerelAgent(t *testing.T) {
	requireServer(t, "POSTFIX")
	requireServer(t, "DOVECOT")

	conf, err := config.LoadConfig(mackerelConf(t))
	if err != nil {
		t.Fatalf("mackerel-agent could not load the config: %v", err)
	}
	names := make([]string, 0, len(conf.CheckPlugins))
	for name := range conf.CheckPlugins {
		names = append(names, name)
	}
	sort.Strings(names)
	want := []string{"lmtp", "smtp", "smtp_bad_options", "smtp_cert_soon", "smtp_closed", "smtp_submission", "smtp_verbose"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("check plugins %v, want %v", names, want)
	}

	reports := make([]*checks.Report, 0, len(names))
	local := map[string]*checks.Report{}
	for _, name := range names {
		c := &checks.Checker{Name: name, Config: conf.CheckPlugins[name]}
		rep := c.Check()
		t.Logf("%s: status=%s message:\n%s", name, rep.Status, rep.Message)
		reports = append(reports, rep)
		local[name] = rep
	}

	// What the agent posts.
	var (
		mu     sync.Mutex
		posted = map[string]struct{ Status, Message string }{}
	)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path != "/api/v0/monitoring/checks/report" || r.Method != http.MethodPost {
			http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusNotFound)
			return
		}
		var payload struct {
			Reports []struct {
				Name    string `json:"name"`
				Status  string `json:"status"`
				Message string `json:"message"`
			} `json:"reports"`
		}
		if err := json.Unmarshal(body, &payload); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		for _, rep := range payload.Reports {
			posted[rep.Name] = struct{ Status, Message string }{rep.Status, rep.Message}
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"success":true}`)
	}))
	defer api.Close()
	client, err := mackerel.NewAPI(api.URL, "dummy-api-key", false, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := client.ReportCheckMonitors("integration-host", reports); err != nil {
		t.Fatalf("ReportCheckMonitors: %v", err)
	}

	expect := []struct {
		name, status, line string
		perfdata           bool
	}{
		{"smtp", "OK", `^SMTP OK: .*TLS ?v?1\.[23].* \| time=[0-9.]+s.* cert_days=[0-9]+;30:;10: chain_days=[0-9]+;30:;10:$`, true},
		{"smtp_submission", "OK", `^SMTP OK: `, false},
		{"smtp_verbose", "OK", `^SMTP OK: .* \| time=`, true},
		{"smtp_cert_soon", "WARNING", `^SMTP WARNING: .*certificate expires in (19|20) days`, false},
		{"smtp_closed", "CRITICAL", `^SMTP CRITICAL: .*refused`, true},
		{"smtp_bad_options", "UNKNOWN", `^SMTP UNKNOWN: `, false},
		{"lmtp", "OK", `^SMTP OK: .*Dovecot`, false},
	}
	for _, e := range expect {
		t.Run(e.name, func(t *testing.T) {
			rep := local[e.name]
			p, ok := posted[e.name]
			if !ok {
				t.Fatalf("no report posted for %s", e.name)
			}
			if string(rep.Status) != e.status || p.Status != e.status {
				t.Errorf("status %s (posted %s), want %s", rep.Status, p.Status, e.status)
			}
			first, _, _ := strings.Cut(p.Message, "\n")
			if !regexp.MustCompile(e.line).MatchString(first) {
				t.Errorf("first line %q does not match %q", first, e.line)
			}
			if e.perfdata != strings.Contains(p.Message, "|") {
				t.Errorf("perfdata present=%v, want %v: %q", !e.perfdata, e.perfdata, p.Message)
			}
			// The agent sends at most 1024 characters of the output, from the start.
			runes := []rune(rep.Message)
			if len(runes) > 1024 {
				if p.Message != string(runes[:1024]) {
					t.Errorf("posted message is not the first 1024 characters of the output")
				}
			} else if p.Message != rep.Message {
				t.Errorf("posted message %q differs from the output %q", p.Message, rep.Message)
			}
			for _, f := range forbidden(srv["USER"], srv["PASS"]) {
				if strings.Contains(rep.Message, f) {
					t.Errorf("output contains %q, a form of the password", f)
				}
			}
		})
	}
	t.Run("smtp_verbose/cut-at-1024", func(t *testing.T) {
		full := []rune(local["smtp_verbose"].Message)
		if len(full) <= 1024 {
			t.Fatalf("the -v output has %d characters; the test needs more than 1024 to see the cut", len(full))
		}
		if n := len([]rune(posted["smtp_verbose"].Message)); n != 1024 {
			t.Errorf("posted message has %d characters, want 1024", n)
		}
	})
}
