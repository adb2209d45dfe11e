package checksmtp

import (
	"regexp"
	"strings"
	"testing"

	"github.com/mackerelio/checkers"
)

// mockCase is one table case: the server's script, the arguments after
// "-H 127.0.0.1 -p PORT", the expected status and a regexp the whole output
// (status line, perfdata, transcript) must match.
type mockCase struct {
	name    string
	script  []string
	args    []string
	status  checkers.Status
	message string // regexp over ckr.String()
	// scriptOK: the server script must have run to its end without mismatch.
	scriptOK bool
}

func runMockCases(t *testing.T, cases []mockCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			checkMockCase(t, tc)
		})
	}
}

// checkMockCase runs one case against its own mock server. No string of
// absent may appear anywhere in the output. Not parallel by itself, for
// cases that set the environment.
func checkMockCase(t *testing.T, tc mockCase, absent ...string) {
	t.Helper()
	m := startMock(t, tc.script...)
	args := append([]string{"-H", "127.0.0.1", "-p", m.port()}, tc.args...)
	ckr := run(args)
	out := format(ckr)
	if ckr.Status != tc.status {
		t.Errorf("status %v, want %v\noutput: %s", ckr.Status, tc.status, out)
	}
	if !regexp.MustCompile(tc.message).MatchString(out) {
		t.Errorf("output does not match %q:\n%s", tc.message, out)
	}
	for _, a := range absent {
		if strings.Contains(out, a) {
			t.Errorf("output shows %q:\n%s", a, out)
		}
	}
	if probs := m.done(); tc.scriptOK && len(probs) > 0 {
		t.Errorf("server script: %v\noutput: %s", probs, out)
	}
}

func TestConversationBasics(t *testing.T) {
	runMockCases(t, []mockCase{
		{
			name:     "plain conversation is OK with perfdata for each step",
			script:   script(scriptGreeting, scriptTail),
			status:   checkers.OK,
			message:  `^SMTP OK: 0\.\d{3}s response time, mx\.example\.test ESMTP ready \| time=\d+\.\d{6}s;;;0 connect=\d+\.\d{6}s;;;0 banner=\S+ ehlo=\S+ mail=\S+ rset=\S+ quit=\S+\n$`,
			scriptOK: true,
		},
		{
			name:     "MAIL FROM rejected names the step and quotes the reply",
			script:   script(scriptGreeting, "C: MAIL FROM:<a@b.test>", "S: 550 5.7.1 relaying | denied\x1b[31m", "C: QUIT", "S: 221 bye"),
			args:     []string{"-f", "a@b.test"},
			status:   checkers.CRITICAL,
			message:  `^SMTP CRITICAL: MAIL FROM rejected at step mail: 550 5\.7\.1 relaying ¦ denied\[31m -- `,
			scriptOK: true,
		},
	})
}
