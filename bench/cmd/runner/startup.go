package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/check-smtp/check-smtp/bench/internal/stats"
)

// linkVariants are the floor built with one dependency of check-smtp linked
// in and unused (bench/cmd/floor/link_*.go), as the Makefile names them in
// -floor-variants: the start-up cost of each being linked in.
var linkVariants = [...]struct{ file, what string }{
	{"floor-none", "floor, as measured above"},
	{"floor-dns", "+ github.com/miekg/dns (domain mode, DANE)"},
	{"floor-json", "+ encoding/json (the JSON output format)"},
	{"floor-regexp", "+ regexp (-R)"},
	{"floor-idna", "+ golang.org/x/net/idna (domain mode's IDNA)"},
	{"floor-all", "+ all four"},
}

// initLine is one package's line of GODEBUG=inittrace=1, medians over runs.
type initLine struct {
	pkg           string
	clock         time.Duration
	bytes, allocs int64
}

// initTrace is what GODEBUG=inittrace=1 reports for a program.
type initTrace struct {
	runs     int
	lines    []initLine    // in init order
	total    time.Duration // sum of the medians of every package's clock
	allocs   int64
	bytes    int64
	lastAt   time.Duration // when the last init started
	packages int
}

// startupResult is the start-up section.
type startupResult struct {
	checkSMTP, floor initTrace
	variants         []variantRow
}

type variantRow struct {
	what, path string
	size       int64
	sum        summary
}

func (r *runner) startup(env *environment) (*startupResult, error) {
	port := strconv.Itoa(env.fast.plain)
	res := &startupResult{}
	var err error
	if res.checkSMTP, err = r.inittrace(tool{argv: []string{r.cfg.checkSMTP, "-H", "127.0.0.1", "-p", port}}, 30); err != nil {
		return nil, err
	}
	if res.floor, err = r.inittrace(tool{argv: []string{r.cfg.floor, "plain", port}}, 30); err != nil {
		return nil, err
	}
	sc := scenario{name: "start-up cost of linked dependencies"}
	for _, v := range linkVariants {
		p := filepath.Join(r.cfg.floorVariants, v.file)
		fi, err := os.Stat(p)
		if err != nil {
			continue // not built: the section says so
		}
		sc.tools = append(sc.tools, tool{name: v.what, argv: []string{p, "plain", port}})
		res.variants = append(res.variants, variantRow{what: v.what, path: p, size: fi.Size()})
	}
	if len(sc.tools) > 1 && strings.HasSuffix(sc.tools[0].argv[0], "floor-none") {
		sums, err := r.measure(sc, r.cfg.startupRuns)
		if err != nil {
			return nil, err
		}
		for i := range res.variants {
			res.variants[i].sum = sums[res.variants[i].what]
		}
	} else {
		res.variants = nil
	}
	r.report.startup(r, res)
	return res, nil
}

// inittrace runs t with GODEBUG=inittrace=1 n times and takes, for every
// package, the median of what it reports.
func (r *runner) inittrace(t tool, n int) (initTrace, error) {
	t.env = append(t.env, "GODEBUG=inittrace=1")
	type acc struct {
		order         int
		clock         []time.Duration
		bytes, allocs []int64
	}
	pkgs := map[string]*acc{}
	var lasts []time.Duration
	for i := 0; i < n; i++ {
		res, err := r.runOnce(t, 30*time.Second)
		if err != nil {
			return initTrace{}, err
		}
		last := time.Duration(-1)
		for _, l := range strings.Split(res.stdout, "\n") {
			// init PKG @0.52 ms, 0.005 ms clock, 256 bytes, 2 allocs
			var pkg string
			var at, clock float64
			var bytes, allocs int64
			if _, err := fmt.Sscanf(l, "init %s @%f ms, %f ms clock, %d bytes, %d allocs", &pkg, &at, &clock, &bytes, &allocs); err != nil {
				continue
			}
			a := pkgs[pkg]
			if a == nil {
				a = &acc{order: len(pkgs)}
				pkgs[pkg] = a
			}
			a.clock = append(a.clock, time.Duration(clock*1e6))
			a.bytes, a.allocs = append(a.bytes, bytes), append(a.allocs, allocs)
			last = time.Duration(at * 1e6)
		}
		if last >= 0 {
			lasts = append(lasts, last)
		}
	}
	tr := initTrace{runs: n, packages: len(pkgs), lastAt: stats.MedianD(lasts)}
	for pkg, a := range pkgs {
		l := initLine{pkg: pkg, clock: stats.MedianD(a.clock), bytes: stats.MedianI(a.bytes), allocs: stats.MedianI(a.allocs)}
		tr.lines = append(tr.lines, l)
		tr.total += l.clock
		tr.bytes += l.bytes
		tr.allocs += l.allocs
	}
	sort.Slice(tr.lines, func(i, j int) bool { return pkgs[tr.lines[i].pkg].order < pkgs[tr.lines[j].pkg].order })
	return tr, nil
}

// line finds a package's line.
func (tr initTrace) line(pkg string) (initLine, bool) {
	for _, l := range tr.lines {
		if l.pkg == pkg {
			return l, true
		}
	}
	return initLine{}, false
}
