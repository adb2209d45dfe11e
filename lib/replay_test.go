package checksmtp

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mackerelio/checkers"

	"github.com/check-smtp/check-smtp/lib/internal/smtptest"
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
	certs := smtptest.NewCerts(t)
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			t.Parallel()
			c := readConversation(t, file)
			// The client must not stray from the captured conversation.
			expect(t, smtptest.Case{Script: c.script, TLS: smtptest.ServerTLS(certs.Valid), ScriptOK: true,
				Args:   withWords(c.args, "CAFILE", certs.CAFile, "PASSWORD", "replay-pa55"),
				Status: c.status, Output: c.message})
		})
	}
}

type conversation struct {
	args    []string
	status  checkers.Status
	message string // a regexp
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
			c.message = strings.TrimPrefix(line, "# message: ")
		case strings.HasPrefix(line, "#"):
		default:
			c.script = append(c.script, line)
		}
	}
	if c.message == "" || len(c.script) == 0 {
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
