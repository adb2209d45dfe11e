//go:build linux && (amd64 || arm64)

package truststore

import (
	"syscall"
	"unsafe"
)

// cacheSupported: fstatat's struct stat is syscall.Stat_t here.
const cacheSupported = true

// fstatAt is fstatat(2) of a NUL-terminated name, following links.
func fstatAt(dirfd int, name *byte, st *syscall.Stat_t) error {
	for {
		_, _, e := syscall.Syscall6(uintptr(sysFstatat), uintptr(dirfd), uintptr(unsafe.Pointer(name)),
			uintptr(unsafe.Pointer(st)), 0, 0, 0)
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			return e
		}
		return nil
	}
}
