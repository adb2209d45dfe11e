// Command spawner starts one process that the runner measures and reports
// its wall time and rusage. It exists because of how Linux accounts peak
// RSS: at execve the kernel carries the old address space's RSS high-water
// mark into the new program's ru_maxrss, and Go starts children with
// CLONE_VM, so a child's "old address space" is its parent's. A child of the
// runner would report at least the runner's peak RSS; a child of a freshly
// started spawner reports at least only the spawner's (about 2.5 MiB; the
// runner measures this floor with /bin/true and prints it). A long-lived
// spawner would not do: its own peak creeps up over thousands of children.
//
//	spawner TIMEOUT_NS OUTPUT_FILE [-e NAME=VALUE]... ARGV0 ARGV1 ...
//
// The child's environment is the spawner's with the -e variables set
// (replacing any of the same name; given to the child only:
// GODEBUG=inittrace=1 must not trace the spawner itself). Its stdin is /dev/null, its stdout and stderr go to OUTPUT_FILE
// (truncated); the child is killed (by PID) when TIMEOUT_NS passes. One line
// on stdout:
//
//	WALL_NS CPU_NS MAXRSS_KIB EXIT_CODE KILLED(0|1)
//
// or "ERR message".
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	os.Stdout.WriteString(run(os.Args[1:]) + "\n")
}

func run(f []string) string {
	if len(f) < 3 {
		return "ERR short request"
	}
	timeout, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return "ERR bad timeout"
	}
	outFile, err := os.OpenFile(f[1], os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return "ERR " + err.Error()
	}
	defer outFile.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		return "ERR " + err.Error()
	}
	defer null.Close()
	argv, env := f[2:], os.Environ()
	for len(argv) >= 2 && argv[0] == "-e" {
		env, argv = setenv(env, argv[1]), argv[2:]
	}
	if len(argv) == 0 {
		return "ERR no command"
	}
	start := time.Now()
	p, err := os.StartProcess(argv[0], argv, &os.ProcAttr{Env: env, Files: []*os.File{null, outFile, outFile}})
	if err != nil {
		return "ERR " + err.Error()
	}
	t := time.AfterFunc(time.Duration(timeout), func() { p.Kill() })
	st, err := p.Wait()
	wall := time.Since(start)
	killed := 0
	if !t.Stop() { // the timer fired
		killed = 1
	}
	if err != nil {
		return "ERR " + err.Error()
	}
	ru := st.SysUsage().(*syscall.Rusage)
	cpu := ru.Utime.Nano() + ru.Stime.Nano()
	return fmt.Sprintf("%d %d %d %d %d", wall.Nanoseconds(), cpu, ru.Maxrss, st.ExitCode(), killed)
}

// setenv sets NAME=VALUE in env, replacing NAME's earlier values.
func setenv(env []string, kv string) []string {
	name, _, _ := strings.Cut(kv, "=")
	out := env[:0:0]
	for _, e := range env {
		if n, _, _ := strings.Cut(e, "="); n != name {
			out = append(out, e)
		}
	}
	return append(out, kv)
}
