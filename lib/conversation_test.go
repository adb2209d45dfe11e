package checksmtp

import (
	"testing"

	"github.com/mackerelio/checkers"

	"github.com/check-smtp/check-smtp/lib/internal/smtptest"
)

// TestConversationBasics: a conversation that goes well has perfdata for
// each step; a refusal names the step and quotes the reply, sanitized.
func TestConversationBasics(t *testing.T) {
	expectCases(t, []smtptest.Case{
		{
			Name:     "plain conversation is OK with perfdata for each step",
			Script:   smtptest.Script(smtptest.Greeting(), smtptest.Tail()),
			Status:   checkers.OK,
			Output:   `^SMTP OK: 0\.\d{3}s response time, mx\.example\.test ESMTP ready \| time=\d+\.\d{6}s;;;0 connect=\d+\.\d{6}s;;;0 banner=\S+ ehlo=\S+ mail=\S+ rset=\S+ quit=\S+\n$`,
			ScriptOK: true,
		},
		{
			Name:     "MAIL FROM rejected names the step and quotes the reply",
			Script:   smtptest.Script(smtptest.Greeting(), "C: MAIL FROM:<a@b.test>", "S: 550 5.7.1 relaying | denied\x1b[31m", "C: QUIT", "S: 221 bye"),
			Args:     []string{"-f", "a@b.test"},
			Status:   checkers.CRITICAL,
			Output:   `^SMTP CRITICAL: MAIL FROM rejected at step mail: 550 5\.7\.1 relaying ¦ denied\[31m -- `,
			ScriptOK: true,
		},
	})
}
