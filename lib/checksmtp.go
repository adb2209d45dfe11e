// Package checksmtp is the check-smtp plugin: it parses the command line,
// has the probe talk to the server, evaluates what it saw into a state and
// prints the result in the Nagios/Mackerel plugin conventions.
package checksmtp

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/mackerelio/checkers"

	"github.com/check-smtp/check-smtp/lib/internal/output"
	"github.com/check-smtp/check-smtp/lib/internal/probe"
	"github.com/check-smtp/check-smtp/lib/internal/report"
	"github.com/check-smtp/check-smtp/lib/internal/text"
)

// version is stamped at build time with -ldflags -X.
var version = "dev"

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

// run parses args into a fresh configuration, probes and evaluates.
func run(args []string) *checkers.Checker { return runIn(processEnviron(), args) }

// runIn is run with the outside world given. It never panics and never
// exits.
func runIn(env environ, args []string) (ckr *checkers.Checker) {
	// The -t deadline counts from here: reading the files named in the
	// options is part of the time the operator allowed.
	started := env.now()
	defer func() {
		if r := recover(); r != nil {
			ckr = &checkers.Checker{Name: "SMTP", Status: checkers.UNKNOWN,
				Message: text.Sanitize(fmt.Sprintf("internal error: %v", r))}
		}
	}()
	cfg, err := parseArgs(args, env)
	if err != nil {
		var early *earlyExit
		if errors.As(err, &early) {
			return &checkers.Checker{Status: checkers.OK, Message: early.text}
		}
		return &checkers.Checker{Name: "SMTP", Status: checkers.UNKNOWN, Message: text.Sanitize(err.Error())}
	}
	ctx, cancel := context.WithDeadline(context.Background(), started.Add(cfg.timeout))
	defer cancel()
	var rep *report.Report
	if cfg.domain != nil {
		rep = runDomain(ctx, cfg, env)
	} else {
		dialer := env.dialer
		if cfg.dns != nil {
			dialer = dnsDialer{dns: cfg.dns, base: env.dialer}
		}
		rep = evaluate(cfg, probe.Run(ctx, cfg.target, cfg.conv, probe.Deps{Dialer: dialer, Now: env.now}))
	}
	return &checkers.Checker{Name: "SMTP", Status: rep.Status, Message: output.Plugin(rep)}
}
