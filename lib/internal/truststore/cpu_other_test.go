//go:build !unix

package truststore

import "time"

func cpuTime() time.Duration { return 0 }
