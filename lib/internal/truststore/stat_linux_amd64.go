package truststore

import "syscall"

const sysFstatat = syscall.SYS_NEWFSTATAT
