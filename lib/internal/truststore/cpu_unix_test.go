//go:build unix

package truststore

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time the process has used, user and system: on a
// busy machine it says more than wall time about what a benchmark costs.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
