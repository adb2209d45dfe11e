// Package checksmtp is the check-smtp plugin: it parses the command line,
// has the probe talk to the server, evaluates what it saw into a state and
// prints the result in the Nagios/Mackerel plugin conventions.
package checksmtp

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/mackerelio/checkers"

	"github.com/check-smtp/check-smtp/lib/internal/output"
	"github.com/check-smtp/check-smtp/lib/internal/probe"
	"github.com/check-smtp/check-smtp/lib/internal/report"
	"github.com/check-smtp/check-smtp/lib/internal/text"

	// The main goroutine's stack, grown before the deep initialisers run.
	_ "github.com/check-smtp/check-smtp/lib/internal/stackreserve"
)

// version is stamped at build time with -ldflags -X.
var version = "dev"

// Do runs the check on the process arguments, prints the result on stdout
// in the format asked for and exits 0-3.
func Do() {
	env := processEnviron()
	out, code := runOutput(env, os.Args[1:])
	os.Stdout.Write(out)
	if code < 0 || code > 3 {
		code = 3
	}
	os.Exit(code)
}

// runOutput is the whole stdout and the exit code of one run.
func runOutput(env environ, args []string) ([]byte, int) {
	o := execute(env, args)
	return o.render(env)
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

// runIn is run with the outside world given.
func runIn(env environ, args []string) *checkers.Checker { return execute(env, args).ckr }

// outcome is one run: its configuration (nil after an option error), its
// report (nil then too) and the plugin-format checker.
type outcome struct {
	cfg    *config
	rep    *report.Report
	ckr    *checkers.Checker
	format string // as asked, even when the options were refused
	meta   bool   // mackerel-agent's graph-definition run
}

// execute parses, probes and evaluates. It never panics and never exits.
func execute(env environ, args []string) (o outcome) {
	// The -t deadline counts from here: reading the files named in the
	// options is part of the time the operator allowed.
	started := env.now()
	o.format = formatArg(args)
	defer func() {
		if r := recover(); r != nil {
			o = outcome{format: o.format, ckr: &checkers.Checker{Name: "SMTP", Status: checkers.UNKNOWN,
				Message: text.Sanitize(fmt.Sprintf("internal error: %v", r))}}
		}
	}()
	cfg, err := parseArgs(args, env)
	if err != nil {
		var early *earlyExit
		if errors.As(err, &early) {
			o.ckr = &checkers.Checker{Status: checkers.OK, Message: early.text}
			return o
		}
		o.ckr = &checkers.Checker{Name: "SMTP", Status: checkers.UNKNOWN, Message: text.Sanitize(err.Error())}
		return o
	}
	o.cfg = cfg
	if cfg.out.format == "mackerel" && env.getenv("MACKEREL_AGENT_PLUGIN_META") != "" {
		// mackerel-agent asks for the graph definitions only: no probe.
		o.meta = true
		return o
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
		var extra []report.Finding
		if cfg.singleDANE != nil {
			if f := prepareDANE(ctx, cfg); f != nil {
				extra = append(extra, *f)
			}
		}
		rep = evaluate(cfg, probe.Run(ctx, cfg.target, cfg.conv, probe.Deps{Dialer: dialer, Now: env.now}), extra...)
	}
	if f := cfg.out.textfile; f != "" {
		if err := output.WriteTextfile(f, output.Prometheus(rep)); err != nil {
			// The rest of the output is unchanged: one more finding.
			w := report.Finding{Status: checkers.WARNING, Text: "cannot write --prometheus-textfile: " + err.Error()}
			rep.Findings = append([]report.Finding{w}, rep.Findings...)
			rep.Status = report.Worst(rep.Status, checkers.WARNING)
			rep.Message = noSemicolons(w.Text) + findingSep + rep.Message
		}
	}
	o.rep = rep
	o.ckr = &checkers.Checker{Name: "SMTP", Status: rep.Status, Message: output.Plugin(rep)}
	return o
}

// render is stdout in the chosen format, and the exit code.
func (o outcome) render(env environ) ([]byte, int) {
	if o.meta {
		return output.MackerelMeta(o.cfg.out.metricPrefix), 0
	}
	st := int(o.ckr.Status)
	if o.rep == nil && o.ckr.Name == "" { // --help, --version
		return []byte(o.ckr.Message), 0
	}
	switch o.format {
	case "json":
		if o.rep == nil {
			return output.JSONError(o.ckr.Message), 3
		}
		return output.JSON(o.rep), st
	case "prometheus":
		if o.rep == nil {
			return output.PrometheusError(o.ckr.Message), 3
		}
		return output.Prometheus(o.rep), 0
	case "mackerel":
		if o.rep == nil {
			return []byte("# " + o.ckr.Message + "\n"), 3
		}
		if env.getenv("MACKEREL_AGENT_PLUGIN_META") != "" {
			return output.MackerelMeta(o.cfg.out.metricPrefix), 0
		}
		return output.Mackerel(o.rep, o.cfg.out.metricPrefix, env.now()), 0
	}
	return []byte(format(o.ckr)), st
}

// formatArg finds --format in args without the parser, so that an option
// error can still be reported in the format asked for.
func formatArg(args []string) string {
	f := "plugin"
	for i, a := range args {
		switch {
		case a == "--":
			return f
		case a == "--format" && i+1 < len(args):
			f = args[i+1]
		case strings.HasPrefix(a, "--format="):
			f = strings.TrimPrefix(a, "--format=")
		}
	}
	return f
}
