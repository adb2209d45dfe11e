package checksmtp

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mackerelio/checkers"
)

// TestReplayRealServers replays conversations captured from real servers
// (Postfix, chasquid, Dovecot LMTP; ../testdata/conversations) through the
// mock, so the client is held to what those servers really say even where
// they are not installed. Each file has header lines "# args:", "# status:"
// and "# message:" (a regexp over the whole output) and a mock script; in
// args, CAFILE stands for the test CA and PASSWORD for a password.
func TestReplayRealServers(t *testing.T) {
	files, err := filepath.Glob("../testdata/conversations/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no captured conversations: %v", err)
	}
	certs := newTestCerts(t)
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			t.Parallel()
			c := readConversation(t, file)
			m := serveTLSMock(t, listenLoopback(t, "127.0.0.1"), certTestServerTLS(certs.valid), c.script)
			args := []string{"-H", "127.0.0.1", "-p", m.port()}
			for _, a := range c.args {
				a = strings.ReplaceAll(a, "CAFILE", certs.caFile)
				args = append(args, strings.ReplaceAll(a, "PASSWORD", "replay-pa55"))
			}
			ckr := run(args)
			out := format(ckr)
			if ckr.Status != c.status {
				t.Errorf("status %v, want %v\n%s", ckr.Status, c.status, out)
			}
			if !c.message.MatchString(out) {
				t.Errorf("output does not match %q:\n%s", c.message, out)
			}
			if probs := m.done(); len(probs) > 0 {
				t.Errorf("the client strayed from the captured conversation: %v\n%s", probs, out)
			}
		})
	}
}

type conversation struct {
	args    []string
	status  checkers.Status
	message *regexp.Regexp
	script  []string
}

func readConversation(t *testing.T, file string) conversation {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var c conversation
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "# args: "):
			c.args = splitQuoted(strings.TrimPrefix(line, "# args: "))
		case strings.HasPrefix(line, "# status: "):
			st, ok := parseState(strings.TrimPrefix(line, "# status: "))
			if !ok {
				t.Fatalf("%s: bad status line %q", file, line)
			}
			c.status = st
		case strings.HasPrefix(line, "# message: "):
			c.message = regexp.MustCompile(strings.TrimPrefix(line, "# message: "))
		case strings.HasPrefix(line, "#"):
		default:
			c.script = append(c.script, line)
		}
	}
	if c.message == nil || len(c.script) == 0 {
		t.Fatalf("%s: no message or no script", file)
	}
	return c
}

// splitQuoted splits on spaces, keeping "double quoted" words together.
func splitQuoted(s string) []string {
	var out []string
	var cur strings.Builder
	inQuote, have := false, false
	for _, r := range s {
		switch {
		case r == '"':
			inQuote, have = !inQuote, true
		case r == ' ' && !inQuote:
			if have {
				out = append(out, cur.String())
			}
			cur.Reset()
			have = false
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	if have {
		out = append(out, cur.String())
	}
	return out
}
