package probe

import (
	"time"

	"github.com/check-smtp/check-smtp/lib/internal/wire"
)

// Step names one phase of the conversation. The names are the perfdata labels
// and the STEP values of --step-warning/--step-critical.
type Step string

const (
	StepConnect  Step = "connect" // DNS resolution, TCP/unix connect and the PROXY header
	StepTLS      Step = "tls"     // TLS handshake (implicit TLS or after STARTTLS)
	StepBanner   Step = "banner"
	StepEHLO     Step = "ehlo" // EHLO, HELO or LHLO; both greetings when STARTTLS is used
	StepSTARTTLS Step = "starttls"
	StepAuth     Step = "auth"
	StepMail     Step = "mail"
	StepRcpt     Step = "rcpt"    // all --rcpt and --reject-rcpt commands together
	StepCommand  Step = "command" // all -C commands together
	StepRSET     Step = "rset"
	StepQuit     Step = "quit"
)

// Steps lists every step, in the order of a conversation with implicit TLS.
func Steps() []Step {
	return []Step{StepConnect, StepTLS, StepBanner, StepEHLO, StepSTARTTLS,
		StepAuth, StepMail, StepRcpt, StepCommand, StepRSET, StepQuit}
}

// ParseStep reads a step name.
func ParseStep(s string) (Step, bool) {
	for _, st := range Steps() {
		if string(st) == s {
			return st, true
		}
	}
	return "", false
}

// Timing is the time spent in one step and the last reply read in it.
type Timing struct {
	Step     Step
	Duration time.Duration
	Reply    *wire.Reply
}

// clock times steps with the monotonic clock. Only one step runs at a
// time; entering a step ends the previous one. Durations of a step entered
// more than once (EHLO before and after STARTTLS, several RCPTs) add up.
type clock struct {
	now     func() time.Time
	cur     int // index into steps of the running step; -1: none
	started time.Time
	steps   []Timing // in the order they first ran: the perfdata order
}

func newClock(now func() time.Time) *clock { return &clock{now: now, cur: -1} }

func (c *clock) enter(st Step) {
	c.stop()
	i := c.index(st)
	if i < 0 {
		c.steps = append(c.steps, Timing{Step: st})
		i = len(c.steps) - 1
	}
	c.cur, c.started = i, c.now()
}

func (c *clock) index(st Step) int {
	for i := range c.steps {
		if c.steps[i].Step == st {
			return i
		}
	}
	return -1
}

// stop ends the running step, if any; current still names it.
func (c *clock) stop() {
	if c.cur >= 0 && !c.started.IsZero() {
		c.steps[c.cur].Duration += c.now().Sub(c.started)
		c.started = time.Time{}
	}
}

// current is the step that is running, or the last one entered.
func (c *clock) current() Step {
	if c.cur < 0 {
		return ""
	}
	return c.steps[c.cur].Step
}

// replied records the reply read in the running step.
func (c *clock) replied(r wire.Reply) {
	if c.cur >= 0 {
		c.steps[c.cur].Reply = &r
	}
}

// abandon drops the running step when nothing was read in it yet and it
// ran for the first time: its command was never sent (the conversation
// ended before it), and a step that did not run is absent from perfdata.
func (c *clock) abandon() {
	if c.cur >= 0 && c.cur == len(c.steps)-1 && c.steps[c.cur].Reply == nil {
		c.steps = c.steps[:c.cur]
		c.cur, c.started = -1, time.Time{}
	}
}
