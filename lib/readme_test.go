package checksmtp

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/check-smtp/check-smtp/lib/internal/probe"
)

// TestReadmeOptions keeps README.md from drifting away from the code: every
// option --help lists, and every hidden alias, must be in the options table,
// each long name in the row of its short letter.
func TestReadmeOptions(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)

	// The two commands that work on a fresh machine come first.
	if !strings.HasPrefix(readme, "# check-smtp\n\n```sh\nmake build && ./bin/check-smtp -H localhost\nmake test\n```\n") {
		t.Errorf("README.md does not open with the build-and-run and test commands")
	}

	// Table rows by the long option they describe.
	rows := map[string]string{}
	for _, l := range strings.Split(readme, "\n") {
		if !strings.HasPrefix(l, "| ") {
			continue
		}
		for _, m := range regexp.MustCompile("`(--[a-z0-9-]+)").FindAllStringSubmatch(l, -1) {
			if _, seen := rows[m[1]]; !seen {
				rows[m[1]] = l
			}
		}
	}

	ckr := run([]string{"--help"})
	help := format(ckr)
	opt := regexp.MustCompile(`(?m)^\s+(?:-(\S), )?(--[a-z0-9-]+)`)
	found := opt.FindAllStringSubmatch(help, -1)
	if len(found) < 30 {
		t.Fatalf("found only %d options in --help:\n%s", len(found), help)
	}
	for _, m := range found {
		short, long := m[1], m[2]
		row, ok := rows[long]
		if !ok {
			t.Errorf("--help lists %s, the README options table does not", long)
			continue
		}
		if short != "" && !strings.HasPrefix(row, "| `-"+short+"` |") {
			t.Errorf("README row of %s does not start with its short option -%s: %s", long, short, row)
		}
	}

	// Hidden aliases are not in --help; they must still be documented.
	seen := 0
	for _, f := range reflect.VisibleFields(reflect.TypeOf(options{})) {
		long := f.Tag.Get("long")
		if long == "" {
			continue
		}
		seen++
		if _, ok := rows["--"+long]; !ok {
			t.Errorf("option --%s (field %s) is not in the README options table", long, f.Name)
		}
	}
	if seen < 50 {
		t.Errorf("found only %d options with a long name in the options struct", seen)
	}

	// Every perfdata label / step name is documented.
	for _, st := range probe.Steps() {
		if !strings.Contains(readme, string(st)) {
			t.Errorf("step %s is not mentioned in README.md", st)
		}
	}
}
