package checksmtp

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mackerelio/checkers"

	"github.com/check-smtp/check-smtp/lib/internal/smtptest"
)

// The CLI side of the formats: what stdout holds and the exit code, for a
// real conversation with the mock and for bad options. The renderers are
// tested in lib/internal/output.
func TestFormatsCLI(t *testing.T) {
	t.Parallel()
	run := func(args ...string) (string, int) {
		m := smtptest.Start(t, smtptest.Script(smtptest.Greeting(), "C: MAIL FROM:<.*>", "S: 550 5.7.1 denied", "C: QUIT", "S: 221 bye")...)
		out, code := runOutput(processEnviron(), append([]string{"-H", "127.0.0.1", "-p", m.Port()}, args...))
		return string(out), code
	}
	t.Run("json: the state as exit code, the failed step named", func(t *testing.T) {
		t.Parallel()
		out, code := run("--format", "json")
		var v struct {
			Status   string `json:"status"`
			ExitCode int    `json:"exit_code"`
			Targets  []struct {
				FailedStep string `json:"failed_step"`
			} `json:"targets"`
		}
		if err := json.Unmarshal([]byte(out), &v); err != nil || !strings.HasSuffix(out, "\n") {
			t.Fatalf("not one JSON object and a newline: %v\n%s", err, out)
		}
		if code != 2 || v.Status != "CRITICAL" || v.ExitCode != 2 || len(v.Targets) != 1 || v.Targets[0].FailedStep != "mail" {
			t.Errorf("exit %d, %+v\n%s", code, v, out)
		}
	})
	t.Run("prometheus: exit 0 once written, the state in the metrics", func(t *testing.T) {
		t.Parallel()
		out, code := run("--format=prometheus")
		if code != 0 || !strings.Contains(out, `smtp_probe_status{target="127.0.0.1:`) || !strings.Contains(out, `smtp_failed_step_info{target="127.0.0.1:`) {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
	t.Run("mackerel: metric lines, exit 0", func(t *testing.T) {
		t.Parallel()
		out, code := run("--format", "mackerel", "--metric-key-prefix", "mail.smtp")
		if code != 0 || !strings.Contains(out, "mail.smtp.probe.success\t0\t") || !strings.Contains(out, "mail.smtp.time.mail\t") {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
	t.Run("bad options in each format", func(t *testing.T) {
		t.Parallel()
		for format, want := range map[string]string{"json": `"status":"UNKNOWN"`, "prometheus": "# ", "mackerel": "# ", "plugin": "SMTP UNKNOWN: "} {
			out, code := runOutput(processEnviron(), []string{"--format", format, "-4", "-6"})
			if code != 3 || !strings.Contains(string(out), want) || !strings.Contains(string(out), "-4 and -6") {
				t.Errorf("%s: exit %d:\n%s", format, code, out)
			}
		}
		if out, code := runOutput(processEnviron(), []string{"--format", "xml"}); code != 3 || !strings.Contains(string(out), "want plugin, json, prometheus or mackerel") {
			t.Errorf("--format xml: exit %d %s", code, out)
		}
	})
}

func TestPrometheusTextfile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "smtp.prom")
	expect(t, smtptest.Case{Script: smtptest.Script(smtptest.Greeting(), smtptest.Tail()), ScriptOK: true,
		Args: []string{"--prometheus-textfile", file}, Status: checkers.OK, Output: `^SMTP OK: `})
	if t.Failed() {
		return
	}
	b, err := os.ReadFile(file)
	st, _ := os.Stat(file)
	if err != nil || !strings.Contains(string(b), "smtp_probe_success{") || st.Mode().Perm() != 0o644 {
		t.Errorf("textfile %v %v:\n%s", err, st.Mode(), b)
	}
	// A file that cannot be written is a WARNING naming it; the rest stays.
	bad := filepath.Join(dir, "missing-dir", "smtp.prom")
	expect(t, smtptest.Case{Script: smtptest.Script(smtptest.Greeting(), smtptest.Tail()), ScriptOK: true,
		Args: []string{"--prometheus-textfile", bad}, Status: checkers.WARNING, Output: `^SMTP WARNING: [^|]*cannot write --prometheus-textfile: [^|]*missing-dir[^|]* \| time=`})
}

// mackerel-agent's meta run (MACKEREL_AGENT_PLUGIN_META set) gets the graph
// definitions without a probe: the port here is closed, and no time is spent.
func TestMackerelMetaSkipsTheProbe(t *testing.T) {
	t.Parallel()
	env := processEnviron()
	getenv := env.getenv
	env.getenv = func(k string) string {
		if k == "MACKEREL_AGENT_PLUGIN_META" {
			return "1"
		}
		return getenv(k)
	}
	dialed := false
	env.dialer = dialerFunc(func(context.Context, string, string) (net.Conn, error) { dialed = true; return nil, errors.New("no") })
	out, code := runOutput(env, []string{"-H", "127.0.0.1", "--format", "mackerel", "--metric-key-prefix", "mx"})
	if code != 0 || !strings.HasPrefix(string(out), "# mackerel-agent-plugin\n") || !strings.Contains(string(out), `"mx.time"`) || dialed {
		t.Errorf("exit %d, dialed %v:\n%s", code, dialed, out)
	}
	// Set but empty (the agent's value runs): metric lines.
	env.getenv = getenv
	out, _ = runOutput(env, []string{"-H", "127.0.0.1", "--format", "mackerel"})
	if !strings.Contains(string(out), "smtp.probe.success\t0\t") || !dialed {
		t.Errorf("value run: %s", out)
	}
}
