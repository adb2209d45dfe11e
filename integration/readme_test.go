package integration

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeQuotesTheTestedConfigs keeps README.md in step with the files the
// tests run: every line of a code block marked <!-- quote: FILE --> must be a
// line of FILE, and every block of FILE it quotes must be quoted whole.
func TestReadmeQuotesTheTestedConfigs(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?s)<!-- quote: ([^ ]+) -->\\s*```[a-z]*\\n(.*?)```")
	quotes := re.FindAllStringSubmatch(string(readme), -1)
	if len(quotes) < 2 {
		t.Fatalf("README.md quotes %d files, want the Nagios objects and the mackerel-agent.conf", len(quotes))
	}
	for _, q := range quotes {
		src, err := os.ReadFile(filepath.FromSlash(q[1]))
		if err != nil {
			t.Errorf("README.md quotes %s: %v", q[1], err)
			continue
		}
		have := map[string]bool{}
		for _, l := range strings.Split(string(src), "\n") {
			have[strings.TrimRight(l, " ")] = true
		}
		for _, l := range strings.Split(q[2], "\n") {
			if l = strings.TrimRight(l, " "); l != "" && !have[l] {
				t.Errorf("README.md quotes a line that %s does not have: %q", q[1], l)
			}
		}
		// Every check the tests run must be documented.
		for _, m := range regexp.MustCompile(`(?m)^(\[plugin\.checks\.[a-z_]+\]|\s*service_description\s+\S+)$`).FindAllString(string(src), -1) {
			if !strings.Contains(q[2], m) {
				t.Errorf("README.md does not quote %q from %s", strings.TrimSpace(m), q[1])
			}
		}
	}
}
