// Command runner benchmarks whole check-smtp processes side by side with a
// floor client (bench/cmd/floor) and, when installed, monitoring-plugins
// check_smtp, against bench/cmd/benchserver on loopback, and writes the
// results as Markdown.
//
// Every round runs each tool once, in an order rotated from round to round,
// so that drift on a shared machine hits all tools alike; the ratio to the
// floor is taken per round and its median reported.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

var (
	checkSMTP    = flag.String("check-smtp", "bin/check-smtp", "check-smtp binary under test")
	floorBin     = flag.String("floor", "bench/out/floor", "floor client binary")
	serverBin    = flag.String("server", "bench/out/benchserver", "benchserver binary")
	spawnerBin   = flag.String("spawner", "bench/out/spawner", "spawner binary (starts the measured processes)")
	mpCheck      = flag.String("check_smtp", "/usr/lib/nagios/plugins/check_smtp", "monitoring-plugins check_smtp (n/a when missing)")
	runs         = flag.Int("runs", 100, "measured runs per tool and scenario")
	warmup       = flag.Int("warmup", 5, "warm-up rounds per scenario, not counted")
	accuracyRuns = flag.Int("accuracy-runs", 30, "runs per injected MAIL delay")
	tarpitRuns   = flag.Int("tarpit-runs", 5, "runs of the deadline scenario per tool")
	out          = flag.String("out", "bench/RESULTS.md", "Markdown report to write ('-' for stdout)")
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("runner: ")
	flag.Parse()
	if *runs < 1 || *warmup < 0 {
		log.Fatal("-runs must be >= 1 and -warmup >= 0")
	}
	for _, p := range []*string{checkSMTP, floorBin, serverBin, spawnerBin} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			log.Fatal(err)
		}
		if _, err := os.Stat(abs); err != nil {
			log.Fatalf("%v (run `make build` and build the bench binaries first)", err)
		}
		*p = abs
	}
	if _, err := os.Stat(*mpCheck); err != nil {
		log.Printf("%s not installed: monitoring-plugins column is n/a", *mpCheck)
		*mpCheck = ""
	}
	tmp, err := os.MkdirTemp("", "check-smtp-bench-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	r := &runner{tmp: tmp}
	defer r.stopServers()
	go func() { // ^C or TERM: stop our servers (by PID) before dying
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		<-sig
		r.stopServers()
		os.RemoveAll(tmp)
		os.Exit(1)
	}()
	if err := r.main(); err != nil {
		r.stopServers()
		log.Fatal(err)
	}
}

type server struct {
	cmd                  *exec.Cmd
	ca                   string
	plain, smtps, tarpit int
}

type runner struct {
	tmp     string
	servers []*server
	report  bytes.Buffer

	rssFloor int64 // KiB: what /bin/true reports through the spawner at the start
}

// startServer starts a benchserver with the given MAIL delay and waits for
// its READY line.
func (r *runner) startServer(delay time.Duration, extra ...string) (*server, error) {
	ca := filepath.Join(r.tmp, fmt.Sprintf("ca-%d.pem", len(r.servers)))
	args := append([]string{"-cafile", ca, "-mail-delay", delay.String(), "-lifetime", "20m"}, extra...)
	cmd := exec.Command(*serverBin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, ca: ca}
	r.servers = append(r.servers, s)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("benchserver: %v", err)
	}
	if _, err := fmt.Sscanf(line, "READY plain=%d smtps=%d tarpit=%d", &s.plain, &s.smtps, &s.tarpit); err != nil {
		return nil, fmt.Errorf("benchserver said %q: %v", line, err)
	}
	go io.Copy(io.Discard, stdout)
	return s, nil
}

// stopServers kills the benchservers this runner started, by PID.
func (r *runner) stopServers() {
	for _, s := range r.servers {
		if s.cmd.Process != nil && s.cmd.ProcessState == nil {
			s.cmd.Process.Kill()
			s.cmd.Wait()
		}
	}
	r.servers = nil
}

// result is one whole-process run.
type result struct {
	wall   time.Duration
	cpu    time.Duration // user + sys
	maxRSS int64         // KiB
	exit   int
	stdout string
}

// runOnce runs argv to completion through a fresh spawner. stdout and stderr go
// to a file rather than a pipe, so that no copying competes with the child.
func (r *runner) runOnce(argv []string, timeout time.Duration) (result, error) {
	outPath := filepath.Join(r.tmp, "stdout")
	req := append([]string{strconv.FormatInt(int64(timeout), 10), outPath}, argv...)
	cmd := exec.Command(*spawnerBin, req...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if err != nil {
		return result{}, fmt.Errorf("spawner: %v", err)
	}
	line := string(b)
	if msg, ok := strings.CutPrefix(line, "ERR "); ok {
		return result{}, fmt.Errorf("%s: %s", argv[0], strings.TrimSpace(msg))
	}
	var wall, cpu, rss int64
	var exit, killed int
	if _, err := fmt.Sscanf(line, "%d %d %d %d %d", &wall, &cpu, &rss, &exit, &killed); err != nil {
		return result{}, fmt.Errorf("spawner said %q: %v", line, err)
	}
	if killed != 0 {
		return result{}, fmt.Errorf("%s: killed after %v", argv[0], timeout)
	}
	b, _ = os.ReadFile(outPath)
	return result{
		wall:   time.Duration(wall),
		cpu:    time.Duration(cpu),
		maxRSS: rss,
		exit:   exit,
		stdout: string(b),
	}, nil
}

type tool struct {
	name string
	argv []string // nil: n/a in this scenario
	na   string   // why n/a
}

type scenario struct {
	name  string
	tools []tool // tools[0] is the floor
}

func (r *runner) main() error {
	for i := 0; i < 5; i++ {
		res, err := r.runOnce([]string{"/bin/true"}, 10*time.Second)
		if err != nil {
			return err
		}
		if i == 0 || res.maxRSS > r.rssFloor {
			r.rssFloor = res.maxRSS
		}
	}
	fast, err := r.startServer(0)
	if err != nil {
		return err
	}
	// The same server without TCP_QUICKACK: Linux delays its ACKs, which
	// stalls a client that leaves Nagle's algorithm on (see benchserver).
	slowAck, err := r.startServer(0, "-quickack=false")
	if err != nil {
		return err
	}
	mpHasSSL := false
	if *mpCheck != "" {
		res, err := r.runOnce([]string{*mpCheck, "--help"}, 10*time.Second)
		mpHasSSL = err == nil && strings.Contains(res.stdout, "--ssl")
	}
	plain, smtps, ca := strconv.Itoa(fast.plain), strconv.Itoa(fast.smtps), fast.ca
	host := []string{*checkSMTP, "-H", "127.0.0.1"}
	cs := func(a ...string) []string { return append(append([]string{}, host...), a...) }
	mp := func(why string, a ...string) tool {
		t := tool{name: "check_smtp (monitoring-plugins)"}
		switch {
		case *mpCheck == "":
			t.na = "not installed"
		case why != "":
			t.na = why
		default:
			t.argv = append([]string{*mpCheck, "-H", "127.0.0.1"}, a...)
		}
		return t
	}
	mpSlow := func(a ...string) tool {
		t := mp("", a...)
		t.name = "check_smtp, server without quick ACK"
		return t
	}
	sslNA := "no implicit TLS (--ssl) in this version"
	if mpHasSSL {
		sslNA = ""
	}
	scenarios := []scenario{
		{"plain", []tool{
			{name: "floor", argv: []string{*floorBin, "plain", plain, ca}},
			{name: "check-smtp", argv: cs("-p", plain)},
			mp("", "-p", plain),
		}},
		{"STARTTLS", []tool{
			{name: "floor", argv: []string{*floorBin, "starttls", plain, ca}},
			{name: "check-smtp", argv: cs("-p", plain, "-S", "--cafile", ca)},
			mp("", "-p", plain, "-S"),
			{name: "check-smtp, server without quick ACK", argv: cs("-p", strconv.Itoa(slowAck.plain), "-S", "--cafile", slowAck.ca)},
			mpSlow("-p", strconv.Itoa(slowAck.plain), "-S"),
		}},
		{"STARTTLS + AUTH", []tool{
			{name: "floor", argv: []string{*floorBin, "auth", plain, ca}},
			{name: "check-smtp", argv: cs("-p", plain, "-S", "--cafile", ca, "-A", "PLAIN", "-U", "user", "-P", "pass")},
			mp("", "-p", plain, "-S", "-A", "LOGIN", "-U", "user", "-P", "pass"),
		}},
		{"implicit TLS", []tool{
			{name: "floor", argv: []string{*floorBin, "smtps", smtps, ca}},
			{name: "check-smtp", argv: cs("-s", "-p", smtps, "--cafile", ca)},
			mp(sslNA, "-p", smtps, "--ssl"),
		}},
	}

	rep := &r.report
	started := time.Now()
	fmt.Fprintf(rep, "# check-smtp benchmark results\n\n")
	fmt.Fprintf(rep, "Written by `make bench` (bench/cmd/runner) on %s. Not run in CI.\n\n", started.UTC().Format("2006-01-02 15:04 MST"))
	r.machine()

	fmt.Fprintf(rep, "## Whole-process runs\n\n")
	fmt.Fprintf(rep, "%d measured rounds per scenario after %d warm-up rounds; each round runs every tool once, in an order rotated per round, against an instant server (bench/cmd/benchserver) on 127.0.0.1. ", *runs, *warmup)
	fmt.Fprintf(rep, "The server acknowledges every segment at once (TCP_QUICKACK); the rows *server without quick ACK* use the same server with Linux's delayed ACKs, which stall a client that leaves Nagle's algorithm on (monitoring-plugins check_smtp writes the TLS Finished and EHLO separately). ")
	fmt.Fprintf(rep, "Wall time is from fork/exec to wait4; CPU (user+sys) and peak RSS come from the child's rusage (wait4), taken by a small freshly started process (bench/cmd/spawner) that starts the tool, because Linux carries the parent's RSS high-water mark into an exec'ed child's ru_maxrss: through it, /bin/true reports %s, the floor of this measurement. `ratio` is the median of the per-round ratios to the floor client. Every run must exit 0 (`ok` column).\n\n", mib(r.rssFloor))
	summaries := map[string]map[string]summary{}
	for _, sc := range scenarios {
		log.Printf("scenario %s", sc.name)
		sums, err := r.scenario(sc)
		if err != nil {
			return fmt.Errorf("%s: %v", sc.name, err)
		}
		summaries[sc.name] = sums
	}
	r.binaries()
	var rssEnd int64
	if res, err := r.runOnce([]string{"/bin/true"}, 10*time.Second); err == nil {
		rssEnd = res.maxRSS
	}
	fmt.Fprintf(rep, "Peak RSS floor of the measurement (/bin/true through the spawner): %s at the start, %s after the scenarios; a tool at that floor used no more than it.\n\n", mib(r.rssFloor), mib(rssEnd))
	acc, err := r.accuracy(fast)
	if err != nil {
		return err
	}
	dl, err := r.deadline(fast)
	if err != nil {
		return err
	}
	r.targets(scenarios, summaries, acc, dl)
	fmt.Fprintf(rep, "## Command lines\n\n")
	for _, sc := range scenarios {
		for _, t := range sc.tools {
			if t.argv != nil {
				fmt.Fprintf(rep, "- %s, %s: `%s`\n", sc.name, t.name, r.show(t.argv))
			}
		}
	}
	fmt.Fprintf(rep, "\nmonitoring-plugins check_smtp sends HELO (EHLO with -S/-A) and QUIT, and no MAIL FROM or RSET without -f; it does not verify the certificate. check-smtp and the floor send EHLO, MAIL FROM, RSET and QUIT and verify the certificate against the CA file.\n")
	fmt.Fprintf(rep, "\nThe whole run took %.1f s; load average at the end: %s.\n", time.Since(started).Seconds(), loadAvg())

	if *out == "-" {
		_, err = os.Stdout.Write(rep.Bytes())
		return err
	}
	if err := os.WriteFile(*out, rep.Bytes(), 0o644); err != nil {
		return err
	}
	log.Printf("wrote %s", *out)
	return nil
}

// show prints argv with the runner's temporary paths and absolute binaries shortened.
func (r *runner) show(argv []string) string {
	wd, _ := os.Getwd()
	parts := make([]string, len(argv))
	for i, a := range argv {
		switch {
		case strings.HasPrefix(a, r.tmp):
			a = "CA.pem"
		case wd != "" && strings.HasPrefix(a, wd+"/"):
			a = strings.TrimPrefix(a, wd+"/")
		}
		if _, err := strconv.Atoi(a); err == nil && i > 0 && (argv[i-1] == "-p" || (i == 2 && strings.HasSuffix(argv[0], "floor"))) {
			a = "PORT"
		}
		parts[i] = a
	}
	return strings.Join(parts, " ")
}

type summary struct {
	ok, n     int
	wallMed   time.Duration
	wallP90   time.Duration
	ratio     float64
	cpuMed    time.Duration
	rssMed    int64
	rssMax    int64
	firstFail string
	na        string
	firstLine string
}

func (r *runner) scenario(sc scenario) (map[string]summary, error) {
	type sample struct{ res []result }
	tools := sc.tools
	samples := make([][]result, len(tools))
	ratios := make([][]float64, len(tools))
	for round := 0; round < *warmup+*runs; round++ {
		walls := make([]time.Duration, len(tools))
		for k := range tools {
			i := (k + round) % len(tools)
			t := tools[i]
			if t.argv == nil {
				continue
			}
			res, err := r.runOnce(t.argv, 30*time.Second)
			if err != nil {
				return nil, err
			}
			walls[i] = res.wall
			if round >= *warmup {
				samples[i] = append(samples[i], res)
			}
		}
		if round >= *warmup && walls[0] > 0 {
			for i := range tools {
				if walls[i] > 0 {
					ratios[i] = append(ratios[i], float64(walls[i])/float64(walls[0]))
				}
			}
		}
	}
	sums := map[string]summary{}
	rep := &r.report
	fmt.Fprintf(rep, "### %s\n\n", sc.name)
	fmt.Fprintf(rep, "| tool | ok | median wall | p90 wall | ratio to floor | CPU user+sys (median) | peak RSS median / max |\n")
	fmt.Fprintf(rep, "|---|---|---|---|---|---|---|\n")
	for i, t := range tools {
		if t.argv == nil {
			sums[t.name] = summary{na: t.na}
			fmt.Fprintf(rep, "| %s | n/a: %s | | | | | |\n", t.name, t.na)
			continue
		}
		s := summarize(samples[i])
		s.ratio = median(ratios[i])
		sums[t.name] = s
		fmt.Fprintf(rep, "| %s | %d/%d | %s | %s | %.3fx | %s | %s / %s |\n", t.name, s.ok, s.n,
			ms(s.wallMed), ms(s.wallP90), s.ratio, ms(s.cpuMed), mib(s.rssMed), mib(s.rssMax))
	}
	fmt.Fprintln(rep)
	for _, t := range tools {
		s := sums[t.name]
		if s.firstLine != "" && t.name != "floor" {
			fmt.Fprintf(rep, "- %s said: `%s`\n", t.name, s.firstLine)
		}
		if s.firstFail != "" {
			fmt.Fprintf(rep, "- **%s failed %d of %d runs**; first failure: `%s`\n", t.name, s.n-s.ok, s.n, s.firstFail)
		}
	}
	fmt.Fprintln(rep)
	return sums, nil
}

func summarize(rs []result) summary {
	s := summary{n: len(rs)}
	var walls, cpus []time.Duration
	var rss []int64
	for _, r := range rs {
		if r.exit == 0 {
			s.ok++
			if s.firstLine == "" {
				s.firstLine = firstLine(r.stdout)
			}
		} else if s.firstFail == "" {
			s.firstFail = fmt.Sprintf("exit %d: %s", r.exit, firstLine(r.stdout))
		}
		walls = append(walls, r.wall)
		cpus = append(cpus, r.cpu)
		rss = append(rss, r.maxRSS)
	}
	s.wallMed = medianD(walls)
	s.wallP90 = quantileD(walls, 0.9)
	s.cpuMed = medianD(cpus)
	sort.Slice(rss, func(i, j int) bool { return rss[i] < rss[j] })
	if len(rss) > 0 {
		s.rssMed = rss[len(rss)/2]
		s.rssMax = rss[len(rss)-1]
	}
	return s
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	s = strings.ReplaceAll(s, "|", "\\|")
	s = strings.ReplaceAll(s, "`", "'")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

func (r *runner) binaries() {
	rep := &r.report
	fmt.Fprintf(rep, "## Binary sizes\n\n| binary | bytes | MiB | linking |\n|---|---|---|---|\n")
	for _, b := range []struct{ name, path string }{
		{"floor (-s -w, CGO_ENABLED=0)", *floorBin},
		{"check-smtp (make build)", *checkSMTP},
		{"check_smtp (monitoring-plugins)", *mpCheck},
	} {
		if b.path == "" {
			fmt.Fprintf(rep, "| %s | n/a | | |\n", b.name)
			continue
		}
		fi, err := os.Stat(b.path)
		if err != nil {
			fmt.Fprintf(rep, "| %s | n/a: %v | | |\n", b.name, err)
			continue
		}
		fmt.Fprintf(rep, "| %s | %d | %.2f | %s |\n", b.name, fi.Size(), float64(fi.Size())/(1<<20), linking(b.path))
	}
	fmt.Fprintln(rep)
}

// linking tells static from dynamic by the ELF program headers (PT_INTERP).
func linking(path string) string {
	out, err := exec.Command("file", "-b", path).Output()
	if err != nil {
		return "?"
	}
	s := string(out)
	switch {
	case strings.Contains(s, "statically linked"):
		return "static"
	case strings.Contains(s, "dynamically linked"):
		if ldd, err := exec.Command("ldd", path).Output(); err == nil {
			var libs []string
			for _, l := range strings.Split(string(ldd), "\n") {
				f := strings.Fields(l)
				if len(f) > 0 && strings.HasPrefix(f[0], "lib") {
					libs = append(libs, strings.Split(f[0], ".so")[0])
				}
			}
			return "dynamic: " + strings.Join(libs, ", ")
		}
		return "dynamic"
	}
	return strings.TrimSpace(s)
}

var mailRE = regexp.MustCompile(`\bmail=([0-9.]+)s`)

type accRow struct {
	delay        time.Duration
	n, parsed    int
	med, maxErr  time.Duration
	p90Err       time.Duration
	ref          time.Duration
	firstFailure string
}

// accuracy compares check-smtp's mail= step with a delay injected by the server.
func (r *runner) accuracy(fast *server) ([]accRow, error) {
	log.Printf("accuracy")
	rep := &r.report
	fmt.Fprintf(rep, "## Step timing accuracy\n\n")
	fmt.Fprintf(rep, "The server waits before its reply to MAIL FROM (sleeping, then spinning the last 2 ms on the monotonic clock, so that it waits the injected delay to within microseconds). `check-smtp mail=` is the median of the step's perfdata over %d runs of `check-smtp -H 127.0.0.1 -p PORT`; `reference` is the median MAIL round trip timed by the runner's own minimal client against the same server, in the same rounds (so it includes the server's sleep overshoot and the loopback round trip).\n\n", *accuracyRuns)
	fmt.Fprintf(rep, "| injected delay | runs parsed | check-smtp mail= (median) | error vs injected | p90 / max abs error | reference (median) | error vs reference |\n|---|---|---|---|---|---|---|\n")
	var rows []accRow
	for _, d := range []time.Duration{0, 50 * time.Millisecond, 200 * time.Millisecond} {
		srv := fast
		if d > 0 {
			var err error
			if srv, err = r.startServer(d); err != nil {
				return nil, err
			}
		}
		port := strconv.Itoa(srv.plain)
		row := accRow{delay: d}
		var steps, refs, errs []time.Duration
		for i := 0; i < 2+*accuracyRuns; i++ {
			res, err := r.runOnce([]string{*checkSMTP, "-H", "127.0.0.1", "-p", port}, 30*time.Second)
			if err != nil {
				return nil, err
			}
			ref, rerr := refMail(srv.plain)
			if i < 2 { // warm-up
				continue
			}
			row.n++
			if rerr == nil {
				refs = append(refs, ref)
			}
			m := mailRE.FindStringSubmatch(res.stdout)
			if m == nil {
				if row.firstFailure == "" {
					row.firstFailure = fmt.Sprintf("exit %d: %s", res.exit, firstLine(res.stdout))
				}
				continue
			}
			sec, err := strconv.ParseFloat(m[1], 64)
			if err != nil {
				continue
			}
			row.parsed++
			v := time.Duration(sec * float64(time.Second))
			steps = append(steps, v)
			errs = append(errs, absD(v-d))
			if e := absD(v - d); e > row.maxErr {
				row.maxErr = e
			}
		}
		row.med, row.ref, row.p90Err = medianD(steps), medianD(refs), quantileD(errs, 0.9)
		rows = append(rows, row)
		fmt.Fprintf(rep, "| %s | %d/%d | %s | %+.3f ms | %.3f / %.3f ms | %s | %+.3f ms |\n", d, row.parsed, row.n,
			ms(row.med), msf(row.med-d), msf(row.p90Err), msf(row.maxErr), ms(row.ref), msf(row.med-row.ref))
	}
	fmt.Fprintln(rep)
	for _, row := range rows {
		if row.firstFailure != "" {
			fmt.Fprintf(rep, "- **delay %s: no mail= in output**: `%s`\n", row.delay, row.firstFailure)
		}
	}
	fmt.Fprintln(rep)
	return rows, nil
}

// refMail times MAIL FROM on a fresh connection with a minimal in-process client.
func refMail(port int) (time.Duration, error) {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 5*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	reply := func() error {
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				return err
			}
			if len(l) < 4 || l[0] != '2' {
				return fmt.Errorf("reply %q", l)
			}
			if l[3] != '-' {
				return nil
			}
		}
	}
	cmd := func(s string) error {
		if _, err := io.WriteString(c, s); err != nil {
			return err
		}
		return reply()
	}
	if err := reply(); err != nil {
		return 0, err
	}
	if err := cmd("EHLO runner\r\n"); err != nil {
		return 0, err
	}
	start := time.Now()
	if err := cmd("MAIL FROM:<>\r\n"); err != nil {
		return 0, err
	}
	d := time.Since(start)
	cmd("RSET\r\n")
	cmd("QUIT\r\n")
	return d, nil
}

type dlRow struct {
	name      string
	na        string
	walls     []time.Duration
	exits     map[int]int
	firstLine string
}

// deadline runs the clients against the tarpit, which never sends a banner.
func (r *runner) deadline(fast *server) ([]dlRow, error) {
	log.Printf("deadline")
	port := strconv.Itoa(fast.tarpit)
	rows := []dlRow{
		{name: "check-smtp -t 2"},
		{name: "check-smtp -t 2 -s (implicit TLS)"},
		{name: "check_smtp (monitoring-plugins) -t 2"},
	}
	argvs := [][]string{
		{*checkSMTP, "-H", "127.0.0.1", "-p", port, "-t", "2"},
		{*checkSMTP, "-H", "127.0.0.1", "-p", port, "-t", "2", "-s", "--cafile", fast.ca},
		nil,
	}
	if *mpCheck != "" {
		argvs[2] = []string{*mpCheck, "-H", "127.0.0.1", "-p", port, "-t", "2"}
	} else {
		rows[2].na = "not installed"
	}
	for i := 0; i < *tarpitRuns; i++ {
		for k, argv := range argvs {
			if argv == nil {
				continue
			}
			res, err := r.runOnce(argv, 30*time.Second)
			if err != nil {
				return nil, err
			}
			row := &rows[k]
			row.walls = append(row.walls, res.wall)
			if row.exits == nil {
				row.exits = map[int]int{}
			}
			row.exits[res.exit]++
			if row.firstLine == "" {
				row.firstLine = firstLine(res.stdout)
			}
		}
	}
	rep := &r.report
	fmt.Fprintf(rep, "## Deadline (tarpit)\n\n")
	fmt.Fprintf(rep, "The server accepts the connection and never sends a banner; %d runs per row, timeout 2 s.\n\n", *tarpitRuns)
	fmt.Fprintf(rep, "| client | median wall | max wall | exit codes | first line |\n|---|---|---|---|---|\n")
	for _, row := range rows {
		if row.na != "" {
			fmt.Fprintf(rep, "| %s | n/a: %s | | | |\n", row.name, row.na)
			continue
		}
		var codes []string
		for c, n := range row.exits {
			codes = append(codes, fmt.Sprintf("%d (x%d)", c, n))
		}
		sort.Strings(codes)
		fmt.Fprintf(rep, "| %s | %s | %s | %s | `%s` |\n", row.name, ms(medianD(row.walls)), ms(maxD(row.walls)), strings.Join(codes, ", "), row.firstLine)
	}
	fmt.Fprintln(rep)
	return rows, nil
}

func (r *runner) targets(scs []scenario, sums map[string]map[string]summary, acc []accRow, dl []dlRow) {
	rep := &r.report
	fmt.Fprintf(rep, "## Targets (reported, not asserted)\n\n| target | observed | met |\n|---|---|---|\n")
	row := func(target, observed string, met bool) {
		fmt.Fprintf(rep, "| %s | %s | %s |\n", target, observed, yesNo(met))
	}
	var maxRSS int64
	for _, sc := range scs {
		s := sums[sc.name]["check-smtp"]
		limit := 1.10
		if sc.name == "plain" {
			limit = 1.05
		}
		allOK := s.ok == s.n
		row(fmt.Sprintf("%s: check-smtp median ratio to floor <= %.2fx", sc.name, limit),
			fmt.Sprintf("%.3fx (%s vs %s)%s", s.ratio, ms(s.wallMed), ms(sums[sc.name]["floor"].wallMed), failNote(s)), allOK && s.ratio <= limit)
		mp := sums[sc.name]["check_smtp (monitoring-plugins)"]
		if mp.na != "" {
			row(fmt.Sprintf("%s: faster than monitoring-plugins check_smtp", sc.name), "n/a: "+mp.na, true)
		} else {
			row(fmt.Sprintf("%s: faster than monitoring-plugins check_smtp", sc.name),
				fmt.Sprintf("%s vs %s", ms(s.wallMed), ms(mp.wallMed)), allOK && s.wallMed < mp.wallMed)
		}
		if s.rssMax > maxRSS {
			maxRSS = s.rssMax
		}
	}
	row("check-smtp peak RSS <= 5 MiB", "max "+mib(maxRSS)+" over all scenarios", maxRSS <= 5*1024)
	for _, a := range acc {
		if a.delay == 0 {
			continue
		}
		row(fmt.Sprintf("mail= within 0.5 ms of an injected %s", a.delay),
			fmt.Sprintf("median %+.3f ms, p90 %.3f ms, max %.3f ms (%d/%d parsed)", msf(a.med-a.delay), msf(a.p90Err), msf(a.maxErr), a.parsed, a.n),
			a.parsed == a.n && a.parsed > 0 && absD(a.med-a.delay) <= 500*time.Microsecond)
	}
	for _, d := range dl {
		if !strings.HasPrefix(d.name, "check-smtp") {
			continue
		}
		row(d.name+": exits within 2.1 s", "max "+ms(maxD(d.walls)), len(d.walls) > 0 && maxD(d.walls) <= 2100*time.Millisecond)
	}
	fmt.Fprintln(rep)
}

func failNote(s summary) string {
	if s.ok != s.n {
		return fmt.Sprintf(", %d of %d runs failed", s.n-s.ok, s.n)
	}
	return ""
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "**no**"
}

func (r *runner) machine() {
	rep := &r.report
	nproc := strconv.Itoa(runtime.NumCPU())
	if b, err := exec.Command("nproc").Output(); err == nil {
		nproc = strings.TrimSpace(string(b))
	}
	model := "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	goVer := "?"
	if b, err := exec.Command("go", "version").Output(); err == nil {
		goVer = strings.TrimSpace(string(b))
	}
	kernel := "?"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = strings.TrimSpace(string(b))
	}
	load := loadAvg()
	version := func(argv ...string) string {
		if argv[0] == "" {
			return "not installed"
		}
		res, err := r.runOnce(argv, 10*time.Second)
		if err != nil {
			return "?"
		}
		return strings.TrimSpace(firstLine(res.stdout))
	}
	fmt.Fprintf(rep, "## Machine\n\n")
	fmt.Fprintf(rep, "- nproc: %s; CPU: %s\n- kernel: %s\n- %s\n- load average at start: %s\n", nproc, model, kernel, goVer, load)
	fmt.Fprintf(rep, "- check-smtp: `%s`\n- monitoring-plugins: `%s`\n\n", version(*checkSMTP, "-V"), version(*mpCheck, "-V"))
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "?"
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/1e6) }
func msf(d time.Duration) float64 {
	return float64(d) / 1e6
}
func mib(kib int64) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }

func absD(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func maxD(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		if d > m {
			m = d
		}
	}
	return m
}

func medianD(ds []time.Duration) time.Duration { return quantileD(ds, 0.5) }

// quantileD interpolates linearly between closest ranks.
func quantileD(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	f := make([]float64, len(ds))
	for i, d := range ds {
		f[i] = float64(d)
	}
	return time.Duration(quantile(f, q))
}

func median(fs []float64) float64 { return quantile(fs, 0.5) }

func quantile(fs []float64, q float64) float64 {
	if len(fs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), fs...)
	sort.Float64s(s)
	pos := q * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	return s[lo] + (s[hi]-s[lo])*(pos-float64(lo))
}
