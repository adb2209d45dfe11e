package checksmtp

import "time"

// step names one phase of the conversation. The names are the perfdata labels
// and the STEP values of --step-warning/--step-critical.
type step string

const (
	stepConnect  step = "connect" // DNS resolution, TCP/unix connect and the PROXY header
	stepTLS      step = "tls"     // TLS handshake (implicit TLS or after STARTTLS)
	stepBanner   step = "banner"
	stepEHLO     step = "ehlo" // EHLO, HELO or LHLO; both greetings when STARTTLS is used
	stepSTARTTLS step = "starttls"
	stepAuth     step = "auth"
	stepMail     step = "mail"
	stepRcpt     step = "rcpt"    // all --rcpt and --reject-rcpt commands together
	stepCommand  step = "command" // all -C commands together
	stepRSET     step = "rset"
	stepQuit     step = "quit"
)

// allSteps lists every step, in the order of a conversation with implicit TLS.
var allSteps = []step{stepConnect, stepTLS, stepBanner, stepEHLO, stepSTARTTLS,
	stepAuth, stepMail, stepRcpt, stepCommand, stepRSET, stepQuit}

func parseStep(s string) (step, bool) {
	for _, st := range allSteps {
		if string(st) == s {
			return st, true
		}
	}
	return "", false
}

// stepClock times steps with the monotonic clock. Only one step runs at a
// time; entering a step ends the previous one. Durations of a step entered
// more than once (EHLO before and after STARTTLS, several RCPTs) add up.
type stepClock struct {
	cur     step
	started time.Time
	spent   map[step]time.Duration
	order   []step // steps in the order they first ran: the perfdata order
}

func newStepClock() *stepClock { return &stepClock{spent: map[step]time.Duration{}} }

func (c *stepClock) enter(st step) {
	c.stop()
	if _, seen := c.spent[st]; !seen {
		c.order = append(c.order, st)
		c.spent[st] = 0
	}
	c.cur, c.started = st, time.Now()
}

// stop ends the running step, if any.
func (c *stepClock) stop() {
	if c.cur != "" {
		c.spent[c.cur] += time.Since(c.started)
	}
	c.cur = ""
}

// current is the step that is running, or the last one entered.
func (c *stepClock) current() step { return c.cur }
