package main

import (
	"bytes"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/check-smtp/check-smtp/bench/internal/stats"
)

// report is the Markdown being written.
type report struct{ b bytes.Buffer }

func (p *report) printf(format string, a ...any) { fmt.Fprintf(&p.b, format, a...) }

func (p *report) write(path string) error {
	if path == "-" {
		_, err := os.Stdout.Write(p.b.Bytes())
		return err
	}
	if err := os.WriteFile(path, p.b.Bytes(), 0o644); err != nil {
		return err
	}
	log.Printf("wrote %s", path)
	return nil
}

func (p *report) header(r *runner, started time.Time) {
	p.printf("# check-smtp benchmark results\n\n")
	p.printf("Written by `make bench` (bench/cmd/runner) on %s. Not run in CI.\n\n", started.UTC().Format("2006-01-02 15:04 MST"))
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
	version := func(argv ...string) string {
		if argv[0] == "" {
			return "not installed"
		}
		res, err := r.runOnce(tool{argv: argv}, 10*time.Second)
		if err != nil {
			return "?"
		}
		return strings.TrimSpace(firstLine(res.stdout))
	}
	p.printf("## Machine\n\n")
	p.printf("- nproc: %s; CPU: %s\n- kernel: %s\n- %s\n- load average at start: %s\n", nproc, model, kernel, goVer, loadAvg())
	p.printf("- check-smtp: `%s`\n- monitoring-plugins: `%s`\n\n", version(r.cfg.checkSMTP, "-V"), version(r.cfg.mpCheck, "-V"))
}

func (p *report) wholeProcessIntro(r *runner) {
	p.printf("## Whole-process runs, one server\n\n")
	p.printf("%d measured rounds per scenario after %d warm-up rounds; each round runs every tool once, in an order rotated per round, against an instant server (bench/cmd/benchserver) on 127.0.0.1. ", r.cfg.runs, r.cfg.warmup)
	p.printf("The server acknowledges every segment at once (TCP_QUICKACK); the rows *server without quick ACK* use the same server with Linux's delayed ACKs, which stall a client that leaves Nagle's algorithm on (monitoring-plugins check_smtp writes the TLS Finished and EHLO separately). ")
	p.printf("Wall time is from fork/exec to wait4; CPU (user+sys) and peak RSS come from the child's rusage (wait4), taken by a small freshly started process (bench/cmd/spawner) that starts the tool, because Linux carries the parent's RSS high-water mark into an exec'ed child's ru_maxrss: through it, /bin/true reports %s, the floor of this measurement. `ratio` is the median of the per-round ratios to the first row (the floor client, bench/internal/floor). Every run must exit 0 (`ok` column).\n\n", mib(r.rssFloor))
}

// table writes the rows of one scenario.
func (p *report) table(sc scenario, sums map[string]summary, ratioTo string) {
	p.printf("| tool | ok | median wall | p90 wall | ratio to %s | CPU user+sys (median) | peak RSS median / max |\n", ratioTo)
	p.printf("|---|---|---|---|---|---|---|\n")
	for _, t := range sc.tools {
		s := sums[t.name]
		if t.argv == nil {
			p.printf("| %s | n/a: %s | | | | | |\n", t.name, t.na)
			continue
		}
		p.printf("| %s | %d/%d | %s | %s | %.3fx | %s | %s / %s |\n", t.name, s.ok, s.n,
			ms(s.wallMed), ms(s.wallP90), s.ratio, ms(s.cpuMed), mib(s.rssMed), mib(s.rssMax))
	}
	p.printf("\n")
	for i, t := range sc.tools {
		s := sums[t.name]
		if s.firstLine != "" && i > 0 {
			p.printf("- %s said: `%s`\n", t.name, s.firstLine)
		}
		if s.firstFail != "" {
			p.printf("- **%s failed %d of %d runs**; first failure: `%s`\n", t.name, s.n-s.ok, s.n, s.firstFail)
		}
	}
	p.printf("\n")
}

func (p *report) scenario(sc scenario, sums map[string]summary) {
	p.printf("### %s\n\n", sc.name)
	if sc.about != "" {
		p.printf("%s\n\n", sc.about)
	}
	p.table(sc, sums, "floor")
}

func (p *report) domain(r *runner, env *environment, rows []domainRow) {
	p.printf("## Domain mode\n\n")
	p.printf("bench/cmd/benchdns answers for dN.bench.test: N MX hosts, mx1 to mxN.bench.test, each with one address of 127.0.2.0/24 (no AAAA record, no MTA-STS or TLSRPT record, nothing signed); on each address a benchserver listener answers its banner after %s and offers STARTTLS with a certificate for every MX name. `check-smtp -M dN.bench.test` (default --parallel 8) is measured against `check-smtp -H` of the last of its targets with the conversation domain mode holds with each (STARTTLS, the certificate verified for the MX name), in the same rounds: all targets are equally slow, so that single probe is the slowest one. %d measured rounds per size after %d warm-up rounds.\n\n", r.cfg.domainDelay, r.cfg.domainRuns, r.cfg.warmup)
	p.printf("| targets | ok | domain mode median wall | slowest single probe median wall | ratio (median per round) | domain mode peak RSS max |\n|---|---|---|---|---|---|\n")
	for _, row := range rows {
		p.printf("| %d | %d/%d | %s | %s | %.3fx | %s |\n", row.n, row.whole.ok, row.whole.n, ms(row.whole.wallMed), ms(row.single.wallMed), row.whole.ratio, mib(row.whole.rssMax))
	}
	p.printf("\n")
	for _, row := range rows {
		if row.whole.firstFail != "" {
			p.printf("- **N=%d: domain mode failed %d of %d runs**; first failure: `%s`\n", row.n, row.whole.n-row.whole.ok, row.whole.n, row.whole.firstFail)
		}
		if row.single.firstFail != "" {
			p.printf("- **N=%d: the single probe failed %d of %d runs**; first failure: `%s`\n", row.n, row.single.n-row.single.ok, row.single.n, row.single.firstFail)
		}
	}
	if len(rows) > 0 {
		last := rows[len(rows)-1]
		p.printf("- domain mode (N=%d) said: `%s`\n\n", last.n, last.whole.firstLine)
	}
}

func (p *report) startup(r *runner, s *startupResult) {
	p.printf("## Start-up cost\n\n")
	p.printf("`GODEBUG=inittrace=1`, median over %d runs of each package's line (`check-smtp -H 127.0.0.1 -p PORT`, plain, and `floor plain PORT`): the package initialisers that run before main, and when the last one starts after the process did (about when main starts).\n\n", s.checkSMTP.runs)
	p.printf("| program | packages with an initialiser | last init starts at | init clock, sum | init allocations | init bytes |\n|---|---|---|---|---|---|\n")
	for _, t := range []struct {
		name string
		tr   initTrace
	}{{"floor", s.floor}, {"check-smtp", s.checkSMTP}} {
		p.printf("| %s | %d | %s | %s | %d | %d |\n", t.name, t.tr.packages, ms(t.tr.lastAt), ms(t.tr.total), t.tr.allocs, t.tr.bytes)
	}
	p.printf("\nThe dependencies of check-smtp that the floor lacks, and its costliest initialisers:\n\n")
	p.printf("| package (check-smtp) | init clock (median) | allocations | bytes |\n|---|---|---|---|\n")
	shown := map[string]bool{}
	row := func(l initLine) {
		if shown[l.pkg] {
			return
		}
		shown[l.pkg] = true
		p.printf("| %s | %s | %d | %d |\n", l.pkg, ms(l.clock), l.allocs, l.bytes)
	}
	for _, pkg := range []string{"github.com/miekg/dns", "encoding/json", "regexp/syntax", "regexp", "unicode", "golang.org/x/net/idna", "golang.org/x/text/unicode/norm", "golang.org/x/text/unicode/bidi", "github.com/jessevdk/go-flags"} {
		if l, ok := s.checkSMTP.line(pkg); ok {
			row(l)
		}
	}
	byClock := append([]initLine(nil), s.checkSMTP.lines...)
	sort.SliceStable(byClock, func(i, j int) bool { return byClock[i].clock > byClock[j].clock })
	for _, l := range byClock[:min(6, len(byClock))] {
		row(l)
	}
	for _, l := range s.checkSMTP.lines {
		if strings.HasPrefix(l.pkg, "github.com/check-smtp/") {
			row(l)
		}
	}
	p.printf("\n")
	if len(s.variants) == 0 {
		p.printf("The floor built with each dependency linked in was not found in %s (the Makefile's bench target builds it): no wall-time comparison.\n\n", r.cfg.floorVariants)
		return
	}
	p.printf("Whole-process wall time of `floor plain PORT` built as it is and with one dependency of check-smtp linked in but unused (bench/cmd/floor/link_*.go: called as check-smtp calls it from code that never runs, so that its code, its tables and its initialisers are in the binary as they are in check-smtp's), %d rounds, interleaved:\n\n", r.cfg.startupRuns)
	p.printf("| floor binary | bytes | median wall | ratio to the floor (median per round) | peak RSS median |\n|---|---|---|---|---|\n")
	for _, v := range s.variants {
		p.printf("| %s | %d | %s | %.3fx | %s |\n", v.what, v.size, ms(v.sum.wallMed), v.sum.ratio, mib(v.sum.rssMed))
	}
	p.printf("\n")
}

func (p *report) binaries(r *runner) {
	p.printf("## Binary sizes\n\n| binary | bytes | MiB | linking |\n|---|---|---|---|\n")
	for _, b := range []struct{ name, path string }{
		{"floor (-s -w, CGO_ENABLED=0)", r.cfg.floor},
		{"check-smtp (make build)", r.cfg.checkSMTP},
		{mpName, r.cfg.mpCheck},
	} {
		if b.path == "" {
			p.printf("| %s | n/a | | |\n", b.name)
			continue
		}
		fi, err := os.Stat(b.path)
		if err != nil {
			p.printf("| %s | n/a: %v | | |\n", b.name, err)
			continue
		}
		p.printf("| %s | %d | %.2f | %s |\n", b.name, fi.Size(), float64(fi.Size())/(1<<20), linking(b.path))
	}
	p.printf("\n")
}

// linking tells static from dynamic by file(1), and names the libraries.
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

func (p *report) accuracy(r *runner, rows []accRow) {
	p.printf("## Step timing accuracy\n\n")
	p.printf("The server waits before its reply to MAIL FROM (sleeping, then spinning the last 2 ms on the monotonic clock, so that it waits the injected delay to within microseconds). `check-smtp mail=` is the median of the step's perfdata over %d runs of `check-smtp -H 127.0.0.1 -p PORT`; `reference` is the median MAIL round trip timed by the floor client (bench/internal/floor) in the runner against the same server, in the same rounds (so it includes the server's sleep overshoot and the loopback round trip).\n\n", r.cfg.accuracyRuns)
	p.printf("| injected delay | runs parsed | check-smtp mail= (median) | error vs injected | p90 / max abs error | reference (median) | error vs reference |\n|---|---|---|---|---|---|---|\n")
	for _, row := range rows {
		d := row.delay
		p.printf("| %s | %d/%d | %s | %+.3f ms | %.3f / %.3f ms | %s | %+.3f ms |\n", d, row.parsed, row.n,
			ms(row.med), msf(row.med-d), msf(row.p90Err), msf(row.maxErr), ms(row.ref), msf(row.med-row.ref))
	}
	p.printf("\n")
	for _, row := range rows {
		if row.firstFailure != "" {
			p.printf("- **delay %s: no mail= in output**: `%s`\n", row.delay, row.firstFailure)
		}
	}
	p.printf("\n")
}

func (p *report) deadline(r *runner, rows []dlRow) {
	p.printf("## Deadline (tarpit)\n\n")
	p.printf("The server accepts the connection and never sends a banner; %d runs per row, timeout 2 s.\n\n", r.cfg.tarpitRuns)
	p.printf("| client | median wall | max wall | exit codes | first line |\n|---|---|---|---|---|\n")
	for _, row := range rows {
		if row.na != "" {
			p.printf("| %s | n/a: %s | | | |\n", row.name, row.na)
			continue
		}
		var codes []string
		for c, n := range row.exits {
			codes = append(codes, fmt.Sprintf("%d (x%d)", c, n))
		}
		sort.Strings(codes)
		p.printf("| %s | %s | %s | %s | `%s` |\n", row.name, ms(stats.MedianD(row.walls)), ms(stats.MaxD(row.walls)), strings.Join(codes, ", "), row.firstLine)
	}
	p.printf("\n")
}

// Mackerel's plugin cannot be built here (the module proxy refuses its
// source): its ratios to the floor from issue 15's measurement.
const (
	mackerelPlain    = 1.08
	mackerelSTARTTLS = 1.06
)

func (p *report) targets(scs []scenario, sums map[string]map[string]summary, dom []domainRow, st *startupResult, acc []accRow, dl []dlRow) {
	p.printf("## Targets (reported, not asserted)\n\n| target | observed | met |\n|---|---|---|\n")
	row := func(target, observed string, met bool) { p.printf("| %s | %s | %s |\n", target, observed, yesNo(met)) }
	var (
		maxRSS, maxOther     int64
		maxRSSAt, maxOtherAt string
	)
	for _, sc := range scs {
		s := sums[sc.name][checkSMTPName]
		fl := sums[sc.name][floorName]
		limit, what := 1.10, "floor"
		switch sc.name {
		case "plain":
			limit = 1.05
		case "verified STARTTLS":
			what = "verifying floor (a pool of the root alone)"
		}
		allOK := s.ok == s.n
		row(fmt.Sprintf("%s: check-smtp median ratio to the %s <= %.2fx", sc.name, what, limit),
			fmt.Sprintf("%.3fx (%s vs %s)%s", s.ratio, ms(s.wallMed), ms(fl.wallMed), failNote(s)), allOK && s.ratio <= limit)
		if ins, ok := sums[sc.name][insecureName]; ok {
			row(fmt.Sprintf("%s: check-smtp -k median ratio to the %s <= 1.10x", sc.name, what),
				fmt.Sprintf("%.3fx (%s)%s", ins.ratio, ms(ins.wallMed), failNote(ins)), ins.ok == ins.n && ins.ratio <= 1.10)
		}
		mp := sums[sc.name][mpName]
		switch {
		case mp.na != "":
			row(fmt.Sprintf("%s: ahead of monitoring-plugins check_smtp", sc.name), "n/a: "+mp.na, true)
		case sc.name == "verified STARTTLS":
			// check_smtp never verifies: the scenario is not one it
			// supports; the like-for-like row is check-smtp -k.
			ins := sums[sc.name][insecureName]
			row("verified STARTTLS: ahead of monitoring-plugins check_smtp",
				fmt.Sprintf("n/a: check_smtp does not verify certificates; check-smtp -k in the same rounds %.3fx vs %.3fx (%s vs %s)", ins.ratio, mp.ratio, ms(ins.wallMed), ms(mp.wallMed)),
				ins.ok == ins.n && ins.ratio < mp.ratio)
		default:
			row(fmt.Sprintf("%s: ahead of monitoring-plugins check_smtp (ratios to the floor, same rounds)", sc.name),
				fmt.Sprintf("%.3fx vs %.3fx (%s vs %s)", s.ratio, mp.ratio, ms(s.wallMed), ms(mp.wallMed)), allOK && s.ratio < mp.ratio)
		}
		switch sc.name {
		case "plain":
			if same, ok := sums[sc.name][sameConvName]; ok && mp.na == "" {
				row("plain, the same conversation as check_smtp (no MAIL, no RSET): ahead of monitoring-plugins check_smtp",
					fmt.Sprintf("%.3fx vs %.3fx (%s vs %s)", same.ratio, mp.ratio, ms(same.wallMed), ms(mp.wallMed)), same.ok == same.n && same.ratio < mp.ratio)
			}
			row("plain: ahead of Mackerel's check-smtp (1.08x in issue 15)", fmt.Sprintf("%.3fx", s.ratio), allOK && s.ratio < mackerelPlain)
		case "STARTTLS -k":
			row("STARTTLS -k: ahead of Mackerel's check-smtp (1.06x in issue 15)", fmt.Sprintf("%.3fx", s.ratio), allOK && s.ratio < mackerelSTARTTLS)
		}
		// The scenario's check is check-smtp as an operator runs it; the
		// other check-smtp rows (-k, --cafile, the index off, ...) are
		// reported beside it.
		for name, t := range sums[sc.name] {
			switch {
			case name == checkSMTPName:
				if t.rssMax > maxRSS || maxRSSAt == "" {
					maxRSSAt = sc.name
				}
				maxRSS = max(maxRSS, t.rssMax)
			case strings.HasPrefix(name, "check-smtp"):
				if t.rssMax > maxOther {
					maxOther, maxOtherAt = t.rssMax, sc.name+": "+name
				}
			}
		}
	}
	for _, d := range dom {
		row(fmt.Sprintf("domain mode, %d targets: median ratio to the slowest single probe <= 1.20x", d.n),
			fmt.Sprintf("%.3fx (%s vs %s)%s", d.whole.ratio, ms(d.whole.wallMed), ms(d.single.wallMed), failNote(d.whole)), d.whole.ok == d.whole.n && d.whole.ratio <= 1.20)
	}
	row("check-smtp peak RSS <= 6 MiB in every single-server scenario", "max "+mib(maxRSS)+" ("+maxRSSAt+"); of the other check-smtp rows, max "+mib(maxOther)+" ("+maxOtherAt+")", maxRSS <= 6*1024)
	for _, a := range acc {
		if a.delay == 0 {
			continue
		}
		row(fmt.Sprintf("mail= within 0.5 ms of an injected %s", a.delay),
			fmt.Sprintf("median %+.3f ms, p90 %.3f ms, max %.3f ms (%d/%d parsed)", msf(a.med-a.delay), msf(a.p90Err), msf(a.maxErr), a.parsed, a.n),
			a.parsed == a.n && a.parsed > 0 && stats.AbsD(a.med-a.delay) <= 500*time.Microsecond)
	}
	for _, d := range dl {
		if strings.HasPrefix(d.name, "check-smtp") {
			row(d.name+": exits within 2.1 s", "max "+ms(stats.MaxD(d.walls)), len(d.walls) > 0 && stats.MaxD(d.walls) <= 2100*time.Millisecond)
		}
	}
	p.printf("\n")
}

func (p *report) commandLines(r *runner, scs []scenario, dom []domainRow) {
	p.printf("## Command lines\n\n")
	for _, sc := range scs {
		for _, t := range sc.tools {
			if t.argv != nil {
				p.printf("- %s, %s: `%s`\n", sc.name, t.name, r.show(t))
			}
		}
	}
	for _, d := range dom {
		for _, t := range d.sc.tools {
			p.printf("- %s, %s: `%s`\n", d.sc.name, t.name, r.show(t))
		}
	}
	p.printf("\nmonitoring-plugins check_smtp sends HELO (EHLO with -S/-A) and QUIT, and no MAIL FROM or RSET without -f; it does not verify the certificate. check-smtp and the floor send EHLO, MAIL FROM, RSET and QUIT.\n")
}

// show prints a tool's command line with the runner's temporary paths,
// ports and absolute binaries shortened.
func (r *runner) show(t tool) string {
	wd, _ := os.Getwd()
	short := func(a string) string {
		switch {
		case strings.HasPrefix(a, r.tmp):
			base := filepath.Base(a)
			if strings.HasPrefix(base, "root-") {
				return "ROOT.pem"
			}
			return base
		case wd != "" && strings.HasPrefix(a, wd+"/"):
			return strings.TrimPrefix(a, wd+"/")
		}
		return a
	}
	var parts []string
	for _, e := range t.env {
		k, v, _ := strings.Cut(e, "=")
		parts = append(parts, k+"="+short(v))
	}
	for i, a := range t.argv {
		a = short(a)
		if _, err := strconv.Atoi(a); err == nil && i > 0 && (t.argv[i-1] == "-p" || (i == 2 && strings.Contains(t.argv[0], "floor"))) {
			a = "PORT"
		}
		if i > 0 && t.argv[i-1] == "--dns-server" {
			a = "127.0.0.1:DNSPORT"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
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

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "?"
}

func ms(d time.Duration) string   { return fmt.Sprintf("%.3f ms", float64(d)/1e6) }
func msf(d time.Duration) float64 { return float64(d) / 1e6 }
func mib(kib int64) string        { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }
