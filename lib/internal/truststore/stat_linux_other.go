//go:build linux && !amd64 && !arm64

package truststore

import "syscall"

// cacheSupported: the index cache needs an fstatat whose struct stat is
// syscall.Stat_t, which amd64 and arm64 have; elsewhere it is not used.
const cacheSupported = false

func fstatAt(int, *byte, *syscall.Stat_t) error { return syscall.ENOSYS }
