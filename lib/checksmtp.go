// Package checksmtp probes an SMTP or LMTP server the way a mail client
// would, times every step and reports in the Nagios/Mackerel plugin
// conventions.
package checksmtp

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/mackerelio/checkers"
)

// version is stamped at build time with -ldflags -X.
var version = "dev"

// testHookAfterParse is nil outside tests. A test sets it to see or change
// the parsed configuration before the probe: to force a panic through the
// recovery, or to pin a fuzzed command line to a loopback port.
var testHookAfterParse func(*config)

// Do runs the check on the process arguments, prints the result on stdout
// and exits 0-3.
func Do() {
	ckr := run(os.Args[1:])
	os.Stdout.WriteString(format(ckr))
	st := int(ckr.Status)
	if st < 0 || st > 3 {
		st = 3
	}
	os.Exit(st)
}

// format is the whole stdout: the status line (and long output), ending in
// a newline. A checker without a name is --help or --version text.
func format(ckr *checkers.Checker) string {
	if ckr.Name == "" {
		return ckr.Message
	}
	return ckr.String() + "\n"
}

// run parses args into a fresh configuration, probes and evaluates. It never
// panics and never exits; the status map of --status-as is applied last.
func run(args []string) (ckr *checkers.Checker) {
	// The -t deadline counts from here: reading the files named in the
	// options is part of the time the operator allowed.
	started := time.Now()
	defer func() {
		if r := recover(); r != nil {
			ckr = &checkers.Checker{Name: "SMTP", Status: checkers.UNKNOWN,
				Message: sanitizeLine(fmt.Sprintf("internal error: %v", r))}
		}
	}()
	cfg, err := parseArgs(args)
	if err != nil {
		var early *earlyExit
		if errors.As(err, &early) {
			return &checkers.Checker{Status: checkers.OK, Message: early.text}
		}
		return &checkers.Checker{Name: "SMTP", Status: checkers.UNKNOWN, Message: sanitizeLine(err.Error())}
	}
	if testHookAfterParse != nil {
		testHookAfterParse(cfg)
	}
	res := probe(cfg, started.Add(cfg.timeout))
	status, msg := evaluate(cfg, res)
	if to, ok := cfg.statusMap[status]; ok {
		status = to
	}
	return &checkers.Checker{Name: "SMTP", Status: status, Message: render(cfg, res, msg)}
}
