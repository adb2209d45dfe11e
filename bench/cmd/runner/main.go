// Command runner benchmarks whole check-smtp processes side by side with a
// floor client (bench/cmd/floor) and, when installed, monitoring-plugins
// check_smtp, against bench/cmd/benchserver (and, for domain mode,
// bench/cmd/benchdns) on loopback, and writes the results as Markdown.
//
// Every round runs each tool once, in an order rotated from round to round,
// so that drift on a shared machine hits all tools alike; the ratio to the
// floor is taken per round and its median reported.
//
// The files hold one concern each: spawn.go starts and measures one
// process, servers.go the servers, rounds.go the interleaved rounds and
// their summaries, scenarios.go the single-server scenarios, domain.go
// domain mode, startup.go the start-up cost, accuracy.go and deadline.go
// the step timing and the tarpit, report.go the Markdown.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

// config is the runner's command line.
type config struct {
	checkSMTP, floor, server, dns, spawner string
	mpCheck                                string // "" when not installed
	floorVariants                          string // directory of the floor built with each -tags linkX
	systemBundle                           string
	runs, warmup                           int
	domainRuns                             int
	domainDelay                            time.Duration
	startupRuns                            int
	accuracyRuns, tarpitRuns               int
	out                                    string
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("runner: ")
	var c config
	flag.StringVar(&c.checkSMTP, "check-smtp", "bin/check-smtp", "check-smtp binary under test")
	flag.StringVar(&c.floor, "floor", "bench/out/floor", "floor client binary")
	flag.StringVar(&c.server, "server", "bench/out/benchserver", "benchserver binary")
	flag.StringVar(&c.dns, "dns", "bench/out/benchdns", "benchdns binary")
	flag.StringVar(&c.spawner, "spawner", "bench/out/spawner", "spawner binary (starts the measured processes)")
	flag.StringVar(&c.mpCheck, "check_smtp", "/usr/lib/nagios/plugins/check_smtp", "monitoring-plugins check_smtp (n/a when missing)")
	flag.StringVar(&c.floorVariants, "floor-variants", "bench/out/linked", "directory of floor binaries built with -tags linkdns etc. (start-up cost; skipped when missing)")
	flag.StringVar(&c.systemBundle, "system-bundle", "/etc/ssl/certs/ca-certificates.crt", "the machine's root bundle, copied with the bench root appended for the verified scenario")
	flag.IntVar(&c.runs, "runs", 300, "measured rounds per single-server scenario")
	flag.IntVar(&c.warmup, "warmup", 5, "warm-up rounds per scenario, not counted")
	flag.IntVar(&c.domainRuns, "domain-runs", 30, "measured rounds per domain-mode size")
	flag.DurationVar(&c.domainDelay, "domain-delay", 50*time.Millisecond, "banner delay of every domain-mode target")
	flag.IntVar(&c.startupRuns, "startup-runs", 300, "measured rounds of the start-up cost comparison")
	flag.IntVar(&c.accuracyRuns, "accuracy-runs", 30, "runs per injected MAIL delay")
	flag.IntVar(&c.tarpitRuns, "tarpit-runs", 5, "runs of the deadline scenario per tool")
	flag.StringVar(&c.out, "out", "bench/RESULTS.md", "Markdown report to write ('-' for stdout)")
	flag.Parse()
	if c.runs < 1 || c.warmup < 0 || c.domainRuns < 1 || c.startupRuns < 1 {
		log.Fatal("-runs, -domain-runs and -startup-runs must be >= 1 and -warmup >= 0")
	}
	for _, p := range []*string{&c.checkSMTP, &c.floor, &c.server, &c.dns, &c.spawner} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			log.Fatal(err)
		}
		if _, err := os.Stat(abs); err != nil {
			log.Fatalf("%v (run `make build` and build the bench binaries first)", err)
		}
		*p = abs
	}
	if _, err := os.Stat(c.mpCheck); err != nil {
		log.Printf("%s not installed: monitoring-plugins column is n/a", c.mpCheck)
		c.mpCheck = ""
	}
	if abs, err := filepath.Abs(c.floorVariants); err == nil {
		c.floorVariants = abs
	}
	tmp, err := os.MkdirTemp("", "check-smtp-bench-")
	if err != nil {
		log.Fatal(err)
	}
	r := &runner{cfg: c, tmp: tmp}
	stop := func() {
		r.stopServers()
		os.RemoveAll(tmp)
	}
	go func() { // ^C or TERM: stop our servers (by PID) before dying
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		<-sig
		stop()
		os.Exit(1)
	}()
	err = r.main()
	stop()
	if err != nil {
		log.Fatal(err)
	}
}

// runner holds one benchmark run: its configuration, the servers it
// started and the report being written.
type runner struct {
	cfg     config
	tmp     string
	servers []*process
	report  report

	rssFloor int64 // KiB: what /bin/true reports through the spawner at the start
}

// main runs every section in turn and writes the report.
func (r *runner) main() error {
	started := time.Now()
	for i := 0; i < 5; i++ {
		res, err := r.runOnce(tool{argv: []string{"/bin/true"}}, 10*time.Second)
		if err != nil {
			return err
		}
		r.rssFloor = max(r.rssFloor, res.maxRSS)
	}
	env, err := r.startEnvironment()
	if err != nil {
		return err
	}
	r.report.header(r, started)

	single := r.singleServerScenarios(env)
	r.report.wholeProcessIntro(r)
	sums := map[string]map[string]summary{}
	for _, sc := range single {
		log.Printf("scenario %s", sc.name)
		s, err := r.measure(sc, r.cfg.runs)
		if err != nil {
			return fmt.Errorf("%s: %v", sc.name, err)
		}
		sums[sc.name] = s
		r.report.scenario(sc, s)
	}
	log.Printf("domain mode")
	dom, err := r.domain(env)
	if err != nil {
		return fmt.Errorf("domain mode: %v", err)
	}
	log.Printf("start-up cost")
	st, err := r.startup(env)
	if err != nil {
		return fmt.Errorf("start-up cost: %v", err)
	}
	r.report.binaries(r)
	rssEnd := int64(0)
	if res, err := r.runOnce(tool{argv: []string{"/bin/true"}}, 10*time.Second); err == nil {
		rssEnd = res.maxRSS
	}
	r.report.printf("Peak RSS floor of the measurement (/bin/true through the spawner): %s at the start, %s after the scenarios; a tool at that floor used no more than it.\n\n", mib(r.rssFloor), mib(rssEnd))
	acc, err := r.accuracy(env.fast)
	if err != nil {
		return err
	}
	dl, err := r.deadline(env.fast)
	if err != nil {
		return err
	}
	r.report.targets(single, sums, dom, st, acc, dl)
	r.report.commandLines(r, single, dom)
	r.report.printf("\nThe whole run took %.1f s; load average at the end: %s.\n", time.Since(started).Seconds(), loadAvg())
	return r.report.write(r.cfg.out)
}
