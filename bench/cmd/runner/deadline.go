package main

import (
	"log"
	"strconv"
	"time"
)

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
		{r.cfg.checkSMTP, "-H", "127.0.0.1", "-p", port, "-t", "2"},
		{r.cfg.checkSMTP, "-H", "127.0.0.1", "-p", port, "-t", "2", "-s", "--cafile", fast.root},
		nil,
	}
	if r.cfg.mpCheck != "" {
		argvs[2] = []string{r.cfg.mpCheck, "-H", "127.0.0.1", "-p", port, "-t", "2"}
	} else {
		rows[2].na = "not installed"
	}
	for i := 0; i < r.cfg.tarpitRuns; i++ {
		for k, argv := range argvs {
			if argv == nil {
				continue
			}
			res, err := r.runOnce(tool{argv: argv}, 30*time.Second)
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
	r.report.deadline(r, rows)
	return rows, nil
}
