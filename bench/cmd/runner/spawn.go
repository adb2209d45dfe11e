package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// tool is one command line measured in a scenario.
type tool struct {
	name string
	argv []string // nil: n/a in this scenario
	env  []string // added to the environment (NAME=value)
	na   string   // why n/a
}

// result is one whole-process run.
type result struct {
	wall   time.Duration
	cpu    time.Duration // user + sys
	maxRSS int64         // KiB
	exit   int
	stdout string
}

// baseEnv is the environment of every measured run: the runner's, in the C
// locale, without the variables that change what a tool reads at start-up
// (a tool that needs one has it in tool.env): SSL_CERT_FILE and
// SSL_CERT_DIR (a tool then reads the distribution's trust store), GODEBUG;
// check-smtp keeps the index of the trust store in the run's own directory
// (CHECK_SMTP_TRUST_CACHE), never in the user's.
func (r *runner) baseEnv() []string {
	var env []string
	for _, e := range os.Environ() {
		switch name, _, _ := strings.Cut(e, "="); name {
		case "SSL_CERT_FILE", "SSL_CERT_DIR", "GODEBUG", "LC_ALL", "CHECK_SMTP_TRUST_CACHE":
		default:
			env = append(env, e)
		}
	}
	return append(env, "LC_ALL=C", "CHECK_SMTP_TRUST_CACHE="+filepath.Join(r.tmp, "trust-cache"))
}

// runOnce runs t to completion through a fresh spawner. stdout and stderr go
// to a file rather than a pipe, so that no copying competes with the child.
func (r *runner) runOnce(t tool, timeout time.Duration) (result, error) {
	outPath := filepath.Join(r.tmp, "stdout")
	req := []string{strconv.FormatInt(int64(timeout), 10), outPath}
	for _, e := range t.env {
		req = append(req, "-e", e)
	}
	cmd := exec.Command(r.cfg.spawner, append(req, t.argv...)...)
	cmd.Env = r.baseEnv()
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if err != nil {
		return result{}, fmt.Errorf("spawner: %v", err)
	}
	line := string(b)
	if msg, ok := strings.CutPrefix(line, "ERR "); ok {
		return result{}, fmt.Errorf("%s: %s", t.argv[0], strings.TrimSpace(msg))
	}
	var wall, cpu, rss int64
	var exit, killed int
	if _, err := fmt.Sscanf(line, "%d %d %d %d %d", &wall, &cpu, &rss, &exit, &killed); err != nil {
		return result{}, fmt.Errorf("spawner said %q: %v", line, err)
	}
	if killed != 0 {
		return result{}, fmt.Errorf("%s: killed after %v", t.argv[0], timeout)
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
