package checksmtp

import (
	"strings"
	"testing"

	"github.com/mackerelio/checkers"

	"github.com/check-smtp/check-smtp/lib/internal/smtptest"
)

// The tests of this package run the check through smtptest.Expect: these
// adapt run and runIn to its Runner.

// check runs the plugin in-process with the process's environment and
// returns its state and stdout.
func check(args []string) (checkers.Status, string) {
	ckr := run(args)
	return ckr.Status, format(ckr)
}

// checkIn is check with the outside world given.
func checkIn(env environ) smtptest.Runner {
	return func(args []string) (checkers.Status, string) {
		ckr := runIn(env, args)
		return ckr.Status, format(ckr)
	}
}

// expect runs one case in-process; see smtptest.Case.
func expect(t testing.TB, c smtptest.Case) string {
	t.Helper()
	return smtptest.Expect(t, check, c)
}

// expectCases runs each case as a parallel subtest.
func expectCases(t *testing.T, cases []smtptest.Case) {
	t.Helper()
	smtptest.RunCases(t, check, cases)
}

// optionError runs args that must be refused before any connection: UNKNOWN,
// a message matching pattern after "SMTP UNKNOWN: ", and nothing connected
// to the listener that the "-H 127.0.0.1 -p PORT" put before args point at.
func optionError(t *testing.T, args []string, pattern string) {
	t.Helper()
	expect(t, smtptest.Case{NoConnect: true, Args: args, Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: ` + pattern})
}

// withWords returns args with each old word (a placeholder such as CAFILE or
// PORT) replaced by its new one wherever it occurs in an argument.
func withWords(args []string, oldnew ...string) []string {
	r := strings.NewReplacer(oldnew...)
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = r.Replace(a)
	}
	return out
}
