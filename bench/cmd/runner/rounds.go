package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/check-smtp/check-smtp/bench/internal/stats"
)

// scenario is a set of tools measured in the same rounds; tools[0] is the
// reference the ratios are taken to (the floor client).
type scenario struct {
	name  string
	about string // a sentence under the heading
	tools []tool
}

// summary is one tool's runs in a scenario.
type summary struct {
	ok, n     int
	wallMed   time.Duration
	wallP90   time.Duration
	ratio     float64 // median of the per-round ratios to tools[0]
	cpuMed    time.Duration
	rssMed    int64
	rssMax    int64
	firstFail string
	na        string
	firstLine string
}

// measure runs warm-up rounds and then runs rounds of every tool of sc, in
// an order rotated per round.
func (r *runner) measure(sc scenario, runs int) (map[string]summary, error) {
	tools := sc.tools
	samples := make([][]result, len(tools))
	ratios := make([][]float64, len(tools))
	for round := 0; round < r.cfg.warmup+runs; round++ {
		walls := make([]time.Duration, len(tools))
		for k := range tools {
			i := (k + round) % len(tools)
			t := tools[i]
			if t.argv == nil {
				continue
			}
			res, err := r.runOnce(t, 30*time.Second)
			if err != nil {
				return nil, err
			}
			walls[i] = res.wall
			if round >= r.cfg.warmup {
				samples[i] = append(samples[i], res)
			}
		}
		if round >= r.cfg.warmup && walls[0] > 0 {
			for i := range tools {
				if walls[i] > 0 {
					ratios[i] = append(ratios[i], float64(walls[i])/float64(walls[0]))
				}
			}
		}
	}
	sums := map[string]summary{}
	for i, t := range tools {
		if t.argv == nil {
			sums[t.name] = summary{na: t.na}
			continue
		}
		s := summarize(samples[i])
		s.ratio = stats.Median(ratios[i])
		sums[t.name] = s
	}
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
	s.wallMed = stats.MedianD(walls)
	s.wallP90 = stats.QuantileD(walls, 0.9)
	s.cpuMed = stats.MedianD(cpus)
	s.rssMed, s.rssMax = stats.MedianI(rss), stats.MaxI(rss)
	return s
}

// firstLine is the first line of s, fit for a Markdown table cell.
func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	s = strings.ReplaceAll(s, "|", "\\|")
	s = strings.ReplaceAll(s, "`", "'")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
