package checksmtp

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/check-smtp/check-smtp/lib/internal/smtptest"
	"github.com/mackerelio/checkers"
)

// The original Mackerel check-smtp kept its options in a package-level
// variable, so a second run in the same process inherited the first one's
// flags. run() must parse into fresh options every call: these tests call it
// many times in one process and check that each result reflects only its own
// arguments.

// oneRun is one call of run() against a fresh go-smtp server.
type oneRun struct {
	args    []string
	status  checkers.Status
	match   string   // regexp the output must match
	nomatch string   // regexp the output must not match ("" = none)
	events  []string // what the server must have seen (nil: not checked)
}

func (r oneRun) check(t *testing.T, i int) {
	t.Helper()
	g := smtptest.StartPlainGoSMTP(t)
	out := expect(t, smtptest.Case{Args: append([]string{"-H", "127.0.0.1", "-p", g.Port}, r.args...), Status: r.status, Output: r.match})
	if r.nomatch != "" && regexp.MustCompile(r.nomatch).MatchString(out) {
		t.Errorf("call %d %q: output matches %q, left over from an earlier call?\n%s", i, r.args, r.nomatch, out)
	}
	if r.events != nil {
		got := g.Backend.WaitEvents(len(r.events))
		if strings.Join(got, "\n") != strings.Join(r.events, "\n") {
			t.Errorf("call %d %q: server saw %q, want %q", i, r.args, got, r.events)
		}
	}
}

var (
	plainEvents = []string{"mail ", "reset", "logout"}
	// What a run with no options at all must look like, whatever came before.
	bareRun = oneRun{
		status:  checkers.OK,
		match:   `^SMTP OK: \d+\.\d{3}s response time, gosmtp\.example\.test ESMTP Service Ready \| time=` + pd + `;;;0 connect=` + pd + `;;;0 banner=` + pd + `;;;0 ehlo=` + pd + `;;;0 mail=` + pd + `;;;0 rset=` + pd + `;;;0 quit=` + pd + `;;;0\n$`,
		events:  plainEvents,
		nomatch: `auth=|rcpt=|\nS: |\nC: `,
	}
)

func TestRunsDoNotShareOptions(t *testing.T) {
	// A password left in the environment would hide a leaked -P.
	t.Setenv("CHECK_SMTP_AUTHPASSWORD", "")
	seq := []oneRun{
		{args: []string{"--rcpt", "alice@example.test", "-f", "mon@example.test"}, status: checkers.OK, match: ` rcpt=` + pd,
			events: []string{"mail mon@example.test", "rcpt alice@example.test", "reset", "logout"}},
		bareRun,
		{args: []string{"-A", "PLAIN", "-U", "alice", "-P", "s3cret"}, status: checkers.OK, match: ` auth=` + pd,
			events: []string{"auth alice", "mail ", "reset", "logout"}},
		bareRun,
		// The user and password of the call before must not be reused.
		{args: []string{"-A", "LOGIN"}, status: checkers.UNKNOWN, match: `^SMTP UNKNOWN: -A LOGIN needs -U \(user\) \(see --help\)\n$`},
		{args: []string{"-A", "LOGIN", "-U", "alice"}, status: checkers.UNKNOWN, match: `^SMTP UNKNOWN: -A LOGIN needs a password`},
		bareRun,
		// No loopback conversation is as fast as a microsecond.
		{args: []string{"-w", "0.000001"}, status: checkers.WARNING, match: `^SMTP WARNING: response time \S+ over warning threshold 0\.000001s -- .*\| time=` + pd + `;0\.000001;;0 `},
		bareRun,
		{args: []string{"-c", "0.000001", "--step-warning", "mail=0.000001"}, status: checkers.CRITICAL, match: `\| time=` + pd + `;;0\.000001;0 .* mail=` + pd + `;0\.000001;;0 `},
		bareRun,
		{args: []string{"--reject-rcpt", "alice@example.test"}, status: checkers.CRITICAL, match: `accepted, expected a rejection`},
		bareRun,
		{args: []string{"--status-as", "ok=warning"}, status: checkers.WARNING, match: `^SMTP WARNING: \d`},
		bareRun,
		{args: []string{"-v"}, status: checkers.OK, match: `\nC: QUIT\nS: 221 `},
		bareRun,
		{args: []string{"--no-perfdata"}, status: checkers.OK, match: `^SMTP OK: [^|]*\n$`},
		bareRun,
		{args: []string{"-e", "Postfix"}, status: checkers.WARNING, match: `neither the banner nor the EHLO reply contains "Postfix"`},
		bareRun,
		{args: []string{"-t", "0.5:UNKNOWN", "-F", "probe.example.test"}, status: checkers.OK, match: `^SMTP OK: `},
		bareRun,
		{args: []string{"--bogus-option"}, status: checkers.UNKNOWN, match: `^SMTP UNKNOWN: unknown option --bogus-option \(see --help\)`},
		bareRun,
	}
	for i, r := range seq {
		r.check(t, i)
	}

	// --help and --version are early exits: they must not stick either.
	for _, a := range []string{"--help", "--version"} {
		if ckr := run([]string{a}); ckr.Name != "" || ckr.Status != checkers.OK {
			t.Errorf("%s: %+v", a, ckr)
		}
		bareRun.check(t, -1)
	}
}

// TestRunsConcurrent runs differently-optioned checks at the same time: with
// -race this catches any state shared between calls.
func TestRunsConcurrent(t *testing.T) {
	variants := []oneRun{
		{args: []string{"--rcpt", "alice@example.test"}, status: checkers.OK, match: ` rcpt=` + pd, nomatch: `auth=`},
		{args: []string{"-A", "PLAIN", "-U", "alice", "-P", "s3cret"}, status: checkers.OK, match: ` auth=` + pd, nomatch: `rcpt=`},
		{args: []string{"-A", "LOGIN", "-U", "alice", "-P", "nope"}, status: checkers.CRITICAL, match: `AUTH LOGIN refused`},
		{args: []string{"--no-perfdata", "-v"}, status: checkers.OK, match: `^SMTP OK: [^|]*\nS: 220 `},
		{args: []string{"-w", "0.000001"}, status: checkers.WARNING, match: `over warning threshold`},
		{args: []string{"--status-as", "ok=critical"}, status: checkers.CRITICAL, match: `^SMTP CRITICAL: \d`},
		bareRun,
	}
	for round := 0; round < 3; round++ {
		for i, v := range variants {
			t.Run(fmt.Sprintf("round%d-%d", round, i), func(t *testing.T) {
				t.Parallel()
				v.check(t, i)
			})
		}
	}
}
