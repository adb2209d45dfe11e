package main

import (
	"fmt"
	"log"
	"regexp"
	"strconv"
	"time"

	"github.com/check-smtp/check-smtp/bench/internal/floor"
	"github.com/check-smtp/check-smtp/bench/internal/stats"
)

type accRow struct {
	delay        time.Duration
	n, parsed    int
	med, maxErr  time.Duration
	p90Err       time.Duration
	ref          time.Duration
	firstFailure string
}

// accuracy compares check-smtp's mail= step with a delay injected by the
// server, and with the MAIL round trip the floor client measures in the
// same rounds.
func (r *runner) accuracy(fast *server) ([]accRow, error) {
	log.Printf("accuracy")
	mailRE := regexp.MustCompile(`\bmail=([0-9.]+)s`)
	var rows []accRow
	for _, d := range []time.Duration{0, 50 * time.Millisecond, 200 * time.Millisecond} {
		srv := fast
		if d > 0 {
			var err error
			if srv, err = r.startServer("simple", "-mail-delay", d.String()); err != nil {
				return nil, err
			}
		}
		port := strconv.Itoa(srv.plain)
		row := accRow{delay: d}
		var steps, refs, errs []time.Duration
		for i := 0; i < 2+r.cfg.accuracyRuns; i++ {
			res, err := r.runOnce(tool{argv: []string{r.cfg.checkSMTP, "-H", "127.0.0.1", "-p", port}}, 30*time.Second)
			if err != nil {
				return nil, err
			}
			ref, rerr := floor.Run(floor.Config{Addr: "127.0.0.1:" + port, Mode: floor.Plain, Timeout: 5 * time.Second})
			if i < 2 { // warm-up
				continue
			}
			row.n++
			if rerr == nil {
				refs = append(refs, ref.Mail)
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
			errs = append(errs, stats.AbsD(v-d))
			row.maxErr = max(row.maxErr, stats.AbsD(v-d))
		}
		row.med, row.ref, row.p90Err = stats.MedianD(steps), stats.MedianD(refs), stats.QuantileD(errs, 0.9)
		rows = append(rows, row)
	}
	r.report.accuracy(r, rows)
	return rows, nil
}
